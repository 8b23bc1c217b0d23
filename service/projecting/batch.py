"""One read of the log for every projection a runner serves, and each projection's share of
it committed with its position.

The runner reads the stored rows once, from the lowest position among its projections, and
decodes a row in full at most once, for whichever projection first needs it. Each projection
then takes the rows of its topics past its own position and applies them in a transaction of
its own that first locks its position row, moving it (or, when it is not where the runner
saw it last, FOR UPDATE): so that, however many runners race, an event is applied exactly
once, and a process dying mid-batch commits nothing. A projection
with a bulk loader (bulk_replay.bulk_loader) loads its rows set-based, as a rebuild does; a
batch the loader cannot load is rolled back and applied event by event in a new transaction,
with the runner's set-aside rules, so one bad event costs speed, never correctness.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.base import Projection, Recorded
from service.projecting.apply import apply_batch
from service.projecting.bulk_replay import bulk_loader
from service.store.db import is_unavailable
from service.store.eventstore import EventStore

log = logging.getLogger(__name__)

_CLAIM = "INSERT INTO projection_positions (name) VALUES ($1) ON CONFLICT DO NOTHING"
_POSITION = "SELECT position FROM projection_positions WHERE name = $1"
_LOCK = "SELECT position FROM projection_positions WHERE name = $1 FOR UPDATE"
_MOVE = "UPDATE projection_positions SET position = $2, updated_at = now() WHERE name = $1"
# The position row locked and moved in one statement, if it is where the runner saw it last
# (the common case: it holds the projection's advisory lock); else it is read FOR UPDATE.
_MOVE_FROM = """
UPDATE projection_positions SET position = $2, updated_at = now()
WHERE name = $1 AND position = $3
"""
# Nothing of the projection's in the batch: its position moves past it in one statement, if
# it is still where the batch began or beyond (else the batch does not cover what it lacks).
_SKIP = """
UPDATE projection_positions SET position = $2, updated_at = now()
WHERE name = $1 AND position >= $3 AND position < $2
"""


@dataclass
class LogBatch:
    """Stored rows after ``start`` in log order, and how far they cover the log: every event
    of the topics read up to ``through`` is in ``rows``."""

    store: EventStore
    rows: list[Any]
    start: int
    through: int
    full: bool
    _decoded: dict[int, Recorded] = field(default_factory=dict)

    def decode(self, row: Any) -> Recorded:
        """The row decoded in full, once for every projection."""
        found = self._decoded.get(row[0])
        if found is None:
            found = self._decoded[row[0]] = self.store.recorded(row)
        return found

    def rows_for(self, projection: Projection, position: int) -> list[Any]:
        """The rows of the projection's topics after ``position``."""
        wanted = frozenset(projection.topics)
        return [r for r in self.rows if r[0] > position and (not wanted or r[3] in wanted)]


def topic_filter(projections: Sequence[Projection]) -> list[str] | None:
    """The topics any of ``projections`` reads; None: every topic (one wants them all)."""
    if any(not p.topics for p in projections):
        return None
    return sorted({t for p in projections for t in p.topics})


async def read_batch(
    conn: Any, store: EventStore, start: int, limit: int, topics: list[str] | None
) -> LogBatch:
    rows, head = await store.read_batch(conn, start, limit, topics)
    full = len(rows) == limit
    through = rows[-1][0] if full else max(head, start)
    return LogBatch(store, rows, start, through, full)


async def claim_position(conn: Any, name: str) -> int:
    """The projection's stored position, its row made if it had none."""
    await conn.execute(_CLAIM, name)
    return int(await conn.fetchval(_POSITION, name))


async def commit(
    conn: Any, projection: Projection, batch: LogBatch, position: int
) -> tuple[int, int]:
    """Apply the projection's share of ``batch`` with its new position; ``position`` is where
    it was last seen. Returns the position it is now at and the events applied."""
    if not batch.rows_for(projection, position):
        done = await conn.execute(_SKIP, projection.name, batch.through, batch.start)
        if done == "UPDATE 1":
            return batch.through, 0
        return int(await conn.fetchval(_POSITION, projection.name)), 0
    loader = bulk_loader(projection)
    if loader is not None:
        try:
            return await _locked(conn, projection, batch, position, loader)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.warning(
                "projection %s: bulk load of events %d-%d failed (%s); applying one by one",
                projection.name,
                batch.start + 1,
                batch.through,
                type(exc).__name__,
            )
    return await _locked(conn, projection, batch, position, None)


async def _locked(
    conn: Any, projection: Projection, batch: LogBatch, seen: int, loader: Any
) -> tuple[int, int]:
    """The rows after the projection's position applied, with its new position, in one
    transaction that holds its position row from the start."""
    async with conn.transaction():
        position = seen
        if await conn.execute(_MOVE_FROM, projection.name, batch.through, seen) != "UPDATE 1":
            position = int(await conn.fetchval(_LOCK, projection.name))
            if not batch.start <= position < batch.through:
                return position, 0  # another runner went on, or the batch begins past it
            await conn.execute(_MOVE, projection.name, batch.through)
        rows = batch.rows_for(projection, position)
        if rows and loader is not None:
            await loader(conn, rows, batch.decode)
        elif rows:
            await apply_batch(conn, projection, [batch.decode(r) for r in rows])
    return batch.through, len(rows)
