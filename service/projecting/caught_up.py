"""Whether projections have applied a position: for readers that must see their own writes.

A write is committed before the projections apply it (milliseconds later, in whichever
process runs them), so a reader that must see a user's latest writes (the query API, the
corrections that list a user's aggregates from the owners projection) first waits for the
user's newest log position, ``user_log_heads`` (moved by every append), to be applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

import asyncpg

# Between two reads of the positions.
POLL = 0.01

_REACHED = """
SELECT count(*) = cardinality($2::text[]) AND coalesce(min(position) >= $1, false)
FROM projection_positions WHERE name = ANY($2::text[])
"""


async def user_head(conn: asyncpg.Connection, user_id: UUID) -> int | None:
    """The position of the user's newest event (None: the user has written nothing)."""
    value = await conn.fetchval("SELECT position FROM user_log_heads WHERE user_id = $1", user_id)
    return None if value is None else int(value)


async def wait_applied(
    conn: asyncpg.Connection, names: Sequence[str], position: int, within: float
) -> bool:
    """Wait until every named projection has applied ``position``; False after ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await conn.fetchval(_REACHED, position, list(names)):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL)
    return True
