"""The event store: domain events in and out of PostgreSQL with asyncpg.

Writes follow eventsourcing's PostgresApplicationRecorder: inside the caller's transaction,
take the table's EXCLUSIVE lock, insert, NOTIFY (its payload the last notification id). The
lock makes commit order equal notification-id order, so a reader tailing the log never skips
an event that committed late with a lower id. (Not the library's POSTGRES_ENABLE_DB_FUNCTIONS
path, whose insert function takes no lock.) The primary key (originator_id,
originator_version) is the idempotency and concurrency guard: two writers deciding on the
same aggregate version cannot both commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Mapper, StoredEvent

from projections.base import Recorded
from service.store.transcoder import create_mapper

CHANNEL = "stored_events"
LOCK_TIMEOUT = "5s"

_INSERT = """
INSERT INTO stored_events (originator_id, originator_version, topic, state)
SELECT e.originator_id, e.originator_version, e.topic, e.state
FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bytea[])
     WITH ORDINALITY AS e(originator_id, originator_version, topic, state, n)
ORDER BY e.n
RETURNING notification_id
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


class EventStore:
    def __init__(self, mapper: Mapper[Any] | None = None) -> None:
        self.mapper = mapper or create_mapper()

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
    ) -> list[int]:
        """Insert events (and the delivery's raw bytes); the caller owns the transaction."""
        assert conn.is_in_transaction(), "append() must run inside a transaction"
        stored = [self.mapper.to_stored_event(e) for e in events]
        if raw_body is not None:
            await conn.execute(
                "INSERT INTO raw_deliveries (sha256, body) VALUES ($1, $2) "
                "ON CONFLICT (sha256) DO NOTHING",
                *raw_body,
            )
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
        try:
            rows = await conn.fetch(
                _INSERT,
                [s.originator_id for s in stored],
                [s.originator_version for s in stored],
                [s.topic for s in stored],
                [s.state for s in stored],
            )
        except asyncpg.exceptions.UniqueViolationError as exc:
            raise ConcurrencyConflictError(str(exc)) from exc
        ids = [r["notification_id"] for r in rows]
        if not ids:
            return ids
        # The payload is how far the log reaches with this commit: a runner that has read
        # that far already is not woken for it.
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(ids[-1]))
        return ids

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
