"""The fast first pass of a rebuild: stored rows handed to a projection's bulk loader.

A projection that defines ``bulk_load`` (see projections/base.py) gets the log's rows of its
topics undecoded, in batches of ``BULK_BATCH``, each batch in its own transaction. A second
connection reads the next batch while this one is loaded, so PostgreSQL and Python work at
once. A batch the loader cannot load is rolled back and applied event by event instead, with
the runner's set-aside rules, so one bad event costs speed, never correctness.

A projection may name, in ``bulk_deferred``, indexes and constraints of its tables that the
first pass builds once at its end instead of row by row (several times faster for a large
history). Only what the log itself guarantees belongs there (say, a unique key made of an
event's own originator id and version), since nothing checks it until the end of the pass.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from projections.base import Projection, Recorded, StoredRow
from service.projecting.apply import apply_batch
from service.store.db import is_unavailable
from service.store.eventstore import EventStore

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
    deferred = await _defer(conn, getattr(projection, "bulk_deferred", ()))
    reader = await asyncpg.connect(dsn)
    topics = projection.topics
    pending = asyncio.ensure_future(store.read_raw(reader, 0, until, BULK_BATCH, topics))
    _FEWER_COLLECTIONS.enter()
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
                break
    finally:
        _FEWER_COLLECTIONS.leave()
        if not pending.done():
            pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        await reader.close()
    async with conn.transaction():
        for statement in deferred:
            await conn.execute(statement)
    return until


class _FewerCollections:
    """Python's cycle collector, run less often while bulk passes run.

    A bulk loader makes and drops millions of small acyclic objects (decoded JSON, rows),
    and the collector, triggered every 700 allocations, re-scans everything alive each
    time: about 15% of a sales or lookup rebuild. Raising its first threshold while a pass
    runs keeps collection (of other tasks' cycles, in the service) without that cost. The
    threshold is process-wide, so passes running at once share one count and the last to
    leave puts it back.
    """

    def __init__(self) -> None:
        self.running = 0
        self.saved = gc.get_threshold()

    def enter(self) -> None:
        if self.running == 0:
            self.saved = gc.get_threshold()
            gc.set_threshold(100_000, *self.saved[1:])
        self.running += 1

    def leave(self) -> None:
        self.running -= 1
        if self.running == 0:
            gc.set_threshold(*self.saved)


_FEWER_COLLECTIONS = _FewerCollections()

_DEFERRABLE = """
SELECT c.conname AS name,
    format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, t.relname, c.conname) AS drop,
    format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, t.relname, c.conname,
        pg_get_constraintdef(c.oid)) AS create
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n
    ON n.oid = c.connamespace
WHERE n.nspname = current_schema() AND c.conname = ANY($1::text[])
UNION ALL
SELECT i.indexname, format('DROP INDEX %I.%I', i.schemaname, i.indexname), i.indexdef
FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.indexname = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname
        AND c.connamespace = i.schemaname::regnamespace)
"""


async def _defer(conn: Any, names: Sequence[str]) -> list[str]:
    """Drop the named indexes and constraints of the fresh tables (``conn``'s first schema);
    returns the statements that create them again."""
    if not names:
        return []
    rows = await conn.fetch(_DEFERRABLE, list(names))
    missing = set(names) - {r["name"] for r in rows}
    if missing:
        raise LookupError(f"bulk_deferred names no index or constraint: {sorted(missing)}")
    async with conn.transaction():
        for row in rows:
            await conn.execute(row["drop"])
    return [row["create"] for row in rows]


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
