"""The event store: domain events in and out of PostgreSQL with asyncpg.

Writes follow eventsourcing's PostgresApplicationRecorder: take the table's EXCLUSIVE lock,
insert, NOTIFY (its payload the last notification id), commit. The lock makes commit order
equal notification-id order, so a reader tailing the log never skips an event that committed
late with a lower id. All of it is one
server-side function, ``ledger_append`` (migrations/0007_append_function.sql): one round trip
for one delivery, or for a batch of them (service/store/group_commit.py), each delivery in a
subtransaction of its own so that one that fails never fails the others. The primary key
(originator_id, originator_version) is the idempotency and concurrency guard: two writers
deciding on the same aggregate version cannot both commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Mapper, StoredEvent

from projections.base import Recorded
from service.store.transcoder import create_mapper

CHANNEL = "stored_events"  # ledger_append notifies it (0007_append_function.sql)

_APPEND = """
SELECT delivery, log_position, failure
FROM ledger_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

_SELECT_AGGREGATE = """
SELECT originator_id, originator_version, topic, state FROM stored_events
WHERE originator_id = $1 ORDER BY originator_version
"""

_SELECT_AGGREGATE_RECORDED = """
SELECT notification_id, originator_id, originator_version, topic, state FROM stored_events
WHERE originator_id = $1 ORDER BY originator_version
"""

_SELECT_POSITIONS = """
SELECT notification_id, originator_id, originator_version, topic, state FROM stored_events
WHERE notification_id = ANY($1::bigint[]) ORDER BY notification_id
"""

_SELECT_AFTER = """
SELECT notification_id, originator_id, originator_version, topic, state FROM stored_events
WHERE notification_id > $1 AND ($3::text[] IS NULL OR topic = ANY($3::text[]))
ORDER BY notification_id LIMIT $2
"""

_SELECT_RAW = """
SELECT notification_id, originator_id, originator_version, topic, state FROM stored_events
WHERE notification_id > $1 AND notification_id <= $2
    AND ($4::text[] IS NULL OR topic = ANY($4::text[]))
ORDER BY notification_id LIMIT $3
"""


# One statement, so one snapshot: the head is the newest event committed when the rows were
# read (commit order is id order), and a short read has every event of ``topics`` up to it.
_SELECT_BATCH = """
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, h.head
FROM (SELECT coalesce(max(notification_id), 0) AS head FROM stored_events) h
LEFT JOIN LATERAL (
    SELECT notification_id, originator_id, originator_version, topic, state FROM stored_events
    WHERE notification_id > $1 AND ($3::text[] IS NULL OR topic = ANY($3::text[]))
    ORDER BY notification_id LIMIT $2
) e ON true
ORDER BY e.notification_id
"""


class ConcurrencyConflictError(Exception):
    """Another writer recorded this aggregate's next version first; reload and decide again."""


class SourceNotBoundError(Exception):
    """The store a delivery names is not the one its connection is bound to (by now)."""


class AppendError(Exception):
    """The database refused a delivery's events for another reason (its message says)."""


@dataclass(frozen=True)
class Append:
    """One delivery's share of an append: its events, the raw bytes it came as (sha256,
    body), the user whose log head it moves, and the store it binds (platform, normalised
    source; None: it names none)."""

    events: Sequence[Any]
    raw: tuple[str, bytes] | None = None
    user_id: UUID | None = None
    bind: tuple[str, str] | None = None


# What an append gave one delivery: its events' positions, or why it appended nothing.
Appended = list[int] | ConcurrencyConflictError | SourceNotBoundError | AppendError


def _failure(text: str) -> ConcurrencyConflictError | SourceNotBoundError | AppendError:
    if text == "conflict":
        return ConcurrencyConflictError(text)
    if text == "unexpected_source":
        return SourceNotBoundError(text)
    return AppendError(text)


class EventStore:
    def __init__(self, mapper: Mapper[Any] | None = None) -> None:
        self.mapper = mapper or create_mapper()
        # Events appended through this store (what the metrics call ledger_events_appended).
        self.appended = 0

    async def load(self, conn: asyncpg.Connection, originator_id: UUID) -> list[Any]:
        rows = await conn.fetch(_SELECT_AGGREGATE, originator_id)
        return [
            self.mapper.to_domain_event(
                StoredEvent(r["originator_id"], r["originator_version"], r["topic"], r["state"])
            )
            for r in rows
        ]

    async def append(
        self,
        conn: asyncpg.Connection,
        events: Sequence[Any],
        raw_body: tuple[str, bytes] | None = None,
        *,
        user_id: UUID | None = None,
        bind: tuple[str, str] | None = None,
    ) -> list[int]:
        """Insert one delivery's events (and its raw bytes) atomically; inside the caller's
        transaction they commit with it. Raises what ``append_many`` reports."""
        [done] = await self.append_many(conn, [Append(events, raw_body, user_id, bind)])
        if isinstance(done, Exception):
            raise done
        return done

    async def append_many(
        self, conn: asyncpg.Connection, batch: Sequence[Append]
    ) -> list[Appended]:
        """Append several deliveries in one statement (one lock, one commit when ``conn`` is
        not in a transaction): each gets its positions or its failure, in batch order."""
        numbers: list[int] = []
        stored = []
        for number, item in enumerate(batch, start=1):
            for event in item.events:
                stored.append(self.mapper.to_stored_event(event))
                numbers.append(number)
        rows = await conn.fetch(
            _APPEND,
            numbers,
            [s.originator_id for s in stored],
            [s.originator_version for s in stored],
            [s.topic for s in stored],
            [s.state for s in stored],
            [None if item.raw is None else item.raw[0] for item in batch],
            [None if item.raw is None else item.raw[1] for item in batch],
            [item.user_id for item in batch],
            [None if item.bind is None else item.bind[0] for item in batch],
            [None if item.bind is None else item.bind[1] for item in batch],
        )
        done: list[Appended] = [[] for _ in batch]
        for row in rows:
            index = row["delivery"] - 1
            if row["failure"] is not None:
                done[index] = _failure(row["failure"])
            else:
                positions = done[index]
                assert isinstance(positions, list)
                positions.append(row["log_position"])
                self.appended += 1
        return done

    async def read_after(
        self,
        conn: asyncpg.Connection,
        position: int,
        limit: int,
        topics: Sequence[str] | None = None,
    ) -> list[Recorded]:
        rows = await conn.fetch(_SELECT_AFTER, position, limit, list(topics) if topics else None)
        return [
            Recorded(
                r["notification_id"],
                self.mapper.to_domain_event(
                    StoredEvent(r["originator_id"], r["originator_version"], r["topic"], r["state"])
                ),
            )
            for r in rows
        ]

    async def read_raw(
        self,
        conn: asyncpg.Connection,
        position: int,
        until: int,
        limit: int,
        topics: Sequence[str] | None = None,
    ) -> list[Any]:
        """Stored rows after ``position`` up to ``until``, undecoded (rebuilds decode what
        they need): (notification_id, originator_id, originator_version, topic, state)."""
        return list(
            await conn.fetch(_SELECT_RAW, position, until, limit, list(topics) if topics else None)
        )

    async def read_batch(
        self,
        conn: asyncpg.Connection,
        position: int,
        limit: int,
        topics: Sequence[str] | None = None,
    ) -> tuple[list[Any], int]:
        """Stored rows after ``position``, undecoded (as ``read_raw`` returns them, the head
        in a sixth column), and the log's head as they were read."""
        rows = await conn.fetch(
            _SELECT_BATCH, position, limit, list(topics) if topics is not None else None
        )
        head = int(rows[0]["head"])
        return ([] if rows[0]["notification_id"] is None else list(rows)), head

    async def load_recorded(self, conn: asyncpg.Connection, originator_id: UUID) -> list[Recorded]:
        """One aggregate's events in version order, each with its position in the log."""
        rows = await conn.fetch(_SELECT_AGGREGATE_RECORDED, originator_id)
        return [self._recorded(r) for r in rows]

    async def read_positions(
        self, conn: asyncpg.Connection, notification_ids: Sequence[int]
    ) -> list[Recorded]:
        """The events at these positions, in log order."""
        rows = await conn.fetch(_SELECT_POSITIONS, list(notification_ids))
        return [self._recorded(r) for r in rows]

    def recorded(self, r: Any) -> Recorded:
        """One stored row (as ``read_raw`` returns it) decoded in full."""
        return self._recorded(r)

    def _recorded(self, r: Any) -> Recorded:
        stored = StoredEvent(r["originator_id"], r["originator_version"], r["topic"], r["state"])
        return Recorded(r["notification_id"], self.mapper.to_domain_event(stored))

    async def head(self, conn: asyncpg.Connection) -> int:
        value = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
        return int(value or 0)


def replay(history: Sequence[Any]) -> Any:
    """The aggregate its events describe, rebuilt by applying them in order."""
    aggregate = None
    for event in history:
        aggregate = event.mutate(aggregate)
    return aggregate


_KEEP_RAW = """
INSERT INTO raw_deliveries (sha256, body) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING
"""


async def keep_raw(conn: asyncpg.Connection, sha256: str, body: bytes) -> None:
    """Keep bytes an event names by sha256 but no delivery brought whole (a pulled answer,
    whose items are the receipts' bodies); kept once, like any raw delivery."""
    await conn.execute(_KEEP_RAW, sha256, body)
