"""Where a backfill run stands (migration 0011): saved after each committed page, read at
the next start, removed when the run ends."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

import asyncpg

# The scans of one run, in the order they run.
SCANS = ("orders", "trash", "products", "deleted")


@dataclass(frozen=True)
class Checkpoint:
    since: datetime
    until: datetime | None
    started_at: datetime
    scan: str = SCANS[0]
    page: str | None = None  # the next page's token (None: the scan's first)
    high_water: datetime | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    def at(self, scan: str, page: str | None) -> Checkpoint:
        return replace(self, scan=scan, page=page)


_LOAD = """
SELECT since, until, started_at, scan, page, high_water, seen FROM backfill_checkpoints
WHERE user_id = $1 AND platform = $2
"""
_SAVE = """
INSERT INTO backfill_checkpoints
    (user_id, platform, since, until, started_at, scan, page, high_water, seen, saved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (user_id, platform) DO UPDATE SET
    since = EXCLUDED.since, until = EXCLUDED.until, started_at = EXCLUDED.started_at,
    scan = EXCLUDED.scan, page = EXCLUDED.page, high_water = EXCLUDED.high_water,
    seen = EXCLUDED.seen, saved_at = now()
"""
_CLEAR = "DELETE FROM backfill_checkpoints WHERE user_id = $1 AND platform = $2"


async def load(conn: asyncpg.Connection, user_id: UUID, platform: str) -> Checkpoint | None:
    row = await conn.fetchrow(_LOAD, user_id, platform)
    if row is None:
        return None
    return Checkpoint(
        since=row["since"],
        until=row["until"],
        started_at=row["started_at"],
        scan=row["scan"],
        page=row["page"],
        high_water=row["high_water"],
        seen=frozenset(row["seen"]),
    )


async def save(conn: asyncpg.Connection, user_id: UUID, platform: str, c: Checkpoint) -> None:
    await conn.execute(
        _SAVE,
        *(user_id, platform, c.since, c.until, c.started_at, c.scan, c.page, c.high_water),
        sorted(c.seen),
    )


async def clear(conn: asyncpg.Connection, user_id: UUID, platform: str) -> None:
    await conn.execute(_CLEAR, user_id, platform)
