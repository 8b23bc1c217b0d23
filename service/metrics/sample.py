"""What /metrics reads when it is scraped: the process's own state, and the database's.

The database part (projection lag, inbox, rebuilds) is read on one pooled connection within
``DATABASE_TIMEOUT``; when the database is away or slow it is left out of the sample, and
the scrape still answers (``ledger_database_up 0``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from service.intake.spool import Spool
from service.projecting import lag, progress
from service.store.db import DatabaseUnavailableError, PoolBusyError, connection
from service.store.eventstore import EventStore

log = logging.getLogger(__name__)

# Seconds a scrape waits for the database before answering without its series.
DATABASE_TIMEOUT = 2.0
_INBOX = "SELECT kind, state, count(*) AS entries FROM inbox GROUP BY kind, state"


@dataclass(frozen=True)
class FromDatabase:
    lags: list[lag.Lag]
    inbox: dict[tuple[str, str], int]  # (kind, state) -> entries
    rebuilds: dict[str, float]  # projection -> fraction done, while one runs


@dataclass(frozen=True)
class Sample:
    spool_entries: int = 0
    pool_size: int = 0
    pool_in_use: int = 0
    events_appended: int = 0
    database: FromDatabase | None = None  # None: not read (down, busy or too slow)
    projections: Sequence[str] = field(default_factory=tuple)


async def take(
    pool: asyncpg.Pool, store: EventStore, spool: Spool, projections: Sequence[str]
) -> Sample:
    # The pool before the sample takes a connection of its own from it.
    size = pool.get_size()
    in_use = size - pool.get_idle_size()
    try:
        database = await asyncio.wait_for(_read(pool, store, projections), DATABASE_TIMEOUT)
    except (DatabaseUnavailableError, PoolBusyError, TimeoutError) as exc:
        log.debug("metrics: the database's series left out (%s)", type(exc).__name__)
        database = None
    return Sample(len(spool), size, in_use, store.appended, database, tuple(projections))


async def _read(pool: asyncpg.Pool, store: EventStore, projections: Sequence[str]) -> Any:
    async with connection(pool) as conn:
        return FromDatabase(
            await lag.lags(conn, store, projections),
            {(r["kind"], r["state"]): int(r["entries"]) for r in await conn.fetch(_INBOX)},
            await progress.announced(conn),
        )
