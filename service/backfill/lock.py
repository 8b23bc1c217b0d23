"""The per-connection lock: a PostgreSQL session advisory lock every backfill run of a store
connection holds (the schedule's, "Backfill now", ``ledger backfill``), so a store is never
pulled by two runs at once and no run clears another's checkpoint.

Session locks belong to the connection that took them: hold that connection for the run and
unlock on it.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

CONNECTION_LOCK = 0x6C656467  # the class of the per-connection locks (the other key: a hash)
_TRY = "SELECT pg_try_advisory_lock($1, hashtext($2))"
_UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2))"


def _name(user_id: UUID, platform: str) -> str:
    return f"{user_id}/{platform}"


async def try_lock(conn: asyncpg.Connection, user_id: UUID, platform: str) -> bool:
    """Take the connection's lock on ``conn``; False when another session holds it."""
    return bool(await conn.fetchval(_TRY, CONNECTION_LOCK, _name(user_id, platform)))


async def unlock(conn: asyncpg.Connection, user_id: UUID, platform: str) -> None:
    await conn.execute(_UNLOCK, CONNECTION_LOCK, _name(user_id, platform))
