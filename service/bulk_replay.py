"""The fast first pass of a rebuild: stored rows handed to a projection's bulk loader.

A projection that defines ``bulk_load`` (see projections/base.py) gets the log's rows of its
topics undecoded, in batches of ``BULK_BATCH``, each batch in its own transaction. A second
connection reads the next batch while this one is loaded, so PostgreSQL and Python work at
once. A batch the loader cannot load is rolled back and applied event by event instead, with
the runner's set-aside rules, so one bad event costs speed, never correctness.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from projections.base import Projection, Recorded, StoredRow
from service.db import is_unavailable
from service.eventstore import EventStore
from service.runner import apply_batch

log = logging.getLogger(__name__)

BULK_BATCH = 20_000


def _owner(cls: type, attribute: str) -> type | None:
    return next((c for c in cls.__mro__ if attribute in vars(c)), None)


def bulk_loader(projection: Projection) -> Any:
    """The projection's bulk loader, if it has one that matches its ``apply``.

    A subclass that changes ``apply`` but inherits ``bulk_load`` would be rebuilt by its
    parent's rules, so it is rebuilt event by event instead.
    """
    loader = getattr(projection, "bulk_load", None)
    cls = type(projection)
    if loader is None or _owner(cls, "bulk_load") is not _owner(cls, "apply"):
        return None
    return loader


async def bulk_replay(
    conn: Any, dsn: str, store: EventStore, projection: Projection, until: int, done: Any
) -> int:
    """Load every relevant event up to ``until`` into the tables ``conn`` sees; returns the
    position reached (``until``). ``done(count, position)`` is called after each batch."""
    loader = bulk_loader(projection)
    reader = await asyncpg.connect(dsn)
    topics = projection.topics
    pending = asyncio.ensure_future(store.read_raw(reader, 0, until, BULK_BATCH, topics))
    try:
        while True:
            rows = await pending
            full = len(rows) == BULK_BATCH
            if full:
                after = rows[-1][0]
                pending = asyncio.ensure_future(
                    store.read_raw(reader, after, until, BULK_BATCH, topics)
                )
            if rows:
                await _load(conn, store, projection, loader, rows)
            position = rows[-1][0] if full else until
            done(len(rows), position)
            if not full:
                return until
    finally:
        if not pending.done():
            pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        await reader.close()


async def _load(
    conn: Any, store: EventStore, projection: Projection, loader: Any, rows: list[StoredRow]
) -> None:
    async with conn.transaction():
        try:
            async with conn.transaction():
                await loader(conn, rows, store.recorded)
            return
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.warning(
                "projection %s: bulk load of events %d-%d failed (%s); applying one by one",
                projection.name,
                rows[0][0],
                rows[-1][0],
                type(exc).__name__,
            )
        batch: list[Recorded] = [store.recorded(r) for r in rows]
        await apply_batch(conn, projection, batch)
