"""Where projections live, and how a new version of one replaces the old without downtime.

Each projection owns a PostgreSQL schema, ``projection_<name>``, holding its tables; the
database's ``search_path`` lists them all, so every connection (queries, the runner) reads the
live tables by their plain names. A rebuild creates the same tables in a schema beside it,
replays the whole log into them in large batches, catches up with what arrived meanwhile,
and then, in one short transaction that holds the projection's position row, renames the new
schema into place. Readers never see a half-built table: until the rename they read the old
schema, after it the new one, and a reader already running finishes on the old.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

from projections.base import Projection
from projections.registry import all_projections
from service.projecting.apply import apply_batch
from service.projecting.bulk_replay import bulk_loader, bulk_replay
from service.store.eventstore import EventStore
from service.store.migrate import migrate

log = logging.getLogger(__name__)

REBUILD_BATCH = 5000


def live_schema(name: str) -> str:
    return f"projection_{name}"


def version_of(projection: Projection) -> int:
    return int(getattr(projection, "version", 1))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def projection_sql(projection: Projection) -> str:
    sql_file = getattr(projection, "sql", f"{projection.name}.sql")
    return resources.files("projections").joinpath(sql_file).read_text(encoding="utf-8")


async def create_tables(conn: Any, schema: str, projection: Projection) -> None:
    """The projection's tables in ``schema`` (which must not exist yet)."""
    async with conn.transaction():
        await conn.execute(f"CREATE SCHEMA {_quote(schema)}")
        await conn.execute(f"SET LOCAL search_path TO {_quote(schema)}, public")
        await conn.execute(projection_sql(projection))


async def prepare_database(conn: Any) -> list[str]:
    """Everything a database needs before a service uses it: the service's migrations, then
    the projections' schemas; returns what was done."""
    return [*await migrate(conn), *await ensure_projection_schemas(conn)]


async def ensure_projection_schemas(
    conn: Any, projections: Sequence[Projection] | None = None
) -> list[str]:
    """Create the live schema of every projection that has none; point search_path at them.

    A projection whose stored version differs from its code is left as it is here: the
    runner rebuilds it on start, beside the live one, without stopping anyone.
    """
    if projections is None:
        projections = all_projections()
    created = []
    for projection in projections:
        schema = live_schema(projection.name)
        if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            continue
        await create_tables(conn, schema, projection)
        await conn.execute(
            "INSERT INTO projection_positions (name, position, version) VALUES ($1, 0, $2)"
            " ON CONFLICT (name) DO UPDATE SET position = 0, version = $2",
            projection.name,
            version_of(projection),
        )
        created.append(f"projection {projection.name} v{version_of(projection)}")
    # public first: anything created without a schema (migrations) must land there, never
    # in a projection's schema, which a rebuild replaces.
    path = "public, " + ", ".join(_quote(live_schema(p.name)) for p in projections)
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f"ALTER DATABASE {_quote(database)} SET search_path TO {path}")
    await conn.execute(f"SET search_path TO {path}")
    return created


@dataclass
class Progress:
    """Where a rebuild is: reported after every batch."""

    done: int
    position: int
    head: int
    started: float

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return (self.head - self.position) / rate if rate else None


Report = Callable[[Progress], None]


async def _replay(
    conn: Any,
    store: EventStore,
    projection: Projection,
    position: int,
    until: int | None,
    progress: Progress,
    report: Report | None,
) -> int:
    """Apply every relevant event after ``position`` (up to ``until``, else the head)."""
    while True:
        head = await store.head(conn)
        limit = head if until is None else min(head, until)
        async with conn.transaction():
            batch = await store.read_after(conn, position, REBUILD_BATCH, projection.topics)
            batch = [r for r in batch if r.notification_id <= limit]
            if batch:
                await apply_batch(conn, projection, batch)
        progress.done += len(batch)
        full = len(batch) == REBUILD_BATCH
        position = batch[-1].notification_id if full else max(position, limit)
        progress.position, progress.head = position, head
        if report is not None:
            report(progress)
        if not full:
            return position


async def build(
    dsn: str,
    store: EventStore,
    projection: Projection,
    schema: str,
    report: Report | None = None,
) -> tuple[Any, int, Progress]:
    """A fresh copy of the projection in ``schema``, built from the whole log.

    Returns the open connection (its search_path points at ``schema``), the position built
    to, and the progress; the caller swaps or compares, then closes the connection.
    """
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
        await create_tables(conn, schema, projection)
        await conn.execute(f"SET search_path TO {_quote(schema)}, public")
        progress = Progress(0, 0, await store.head(conn), time.monotonic())
        if bulk_loader(projection) is not None:
            position = await _bulk(conn, dsn, store, projection, progress, report)
        else:
            position = await _replay(conn, store, projection, 0, None, progress, report)
    except BaseException:
        await conn.close()
        raise
    return conn, position, progress


async def _bulk(
    conn: Any,
    dsn: str,
    store: EventStore,
    projection: Projection,
    progress: Progress,
    report: Report | None,
) -> int:
    """The first pass through the bulk loader, up to the head as it was at the start; the
    caller's catch-up applies what arrived meanwhile the usual way."""

    def done(count: int, position: int) -> None:
        progress.done += count
        progress.position = position
        if report is not None:
            report(progress)

    return await bulk_replay(conn, dsn, store, projection, progress.head, done)


async def rebuild(
    dsn: str, store: EventStore, projection: Projection, report: Report | None = None
) -> Progress:
    """Rebuild ``projection`` beside the live one and swap it in atomically."""
    live = live_schema(projection.name)
    staged = f"{live}__build"
    conn, position, progress = await build(dsn, store, projection, staged, report)
    try:
        # Catch up outside the lock first, so the locked part is short.
        position = await _replay(conn, store, projection, position, None, progress, report)
        async with conn.transaction():
            await conn.fetchval(
                "SELECT position FROM projection_positions WHERE name = $1 FOR UPDATE",
                projection.name,
            )
            position = await _replay(conn, store, projection, position, None, progress, report)
            old = f"{live}__old"
            await conn.execute(f"DROP SCHEMA IF EXISTS {_quote(old)} CASCADE")
            await conn.execute(f"ALTER SCHEMA {_quote(live)} RENAME TO {_quote(old)}")
            await conn.execute(f"ALTER SCHEMA {_quote(staged)} RENAME TO {_quote(live)}")
            await conn.execute(
                "INSERT INTO projection_positions (name, position, version) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET position = $2, version = $3,"
                " updated_at = now()",
                projection.name,
                position,
                version_of(projection),
            )
        await conn.execute(f"DROP SCHEMA IF EXISTS {_quote(old)} CASCADE")
    finally:
        await conn.close()
    log.info("projection %s v%d rebuilt to %d", projection.name, version_of(projection), position)
    return progress


async def compare(
    dsn: str, store: EventStore, projection: Projection, report: Report | None = None
) -> list[str]:
    """Rebuild into scratch tables and compare them row by row with the live ones, at the
    same log position; returns the differences (empty when identical)."""
    live = live_schema(projection.name)
    scratch = f"{live}__verify"
    conn, position, progress = await build(dsn, store, projection, scratch, report)
    try:
        return await _compare_at_live_position(conn, store, projection, position, progress)
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {_quote(scratch)} CASCADE")
        await conn.close()


async def _compare_at_live_position(
    conn: Any, store: EventStore, projection: Projection, position: int, progress: Progress
) -> list[str]:
    live, scratch = live_schema(projection.name), f"{live_schema(projection.name)}__verify"
    for _ in range(600):
        async with conn.transaction():
            live_position = await conn.fetchval(
                "SELECT position FROM projection_positions WHERE name = $1 FOR SHARE",
                projection.name,
            )
            if live_position >= position:
                await _replay(conn, store, projection, position, live_position, progress, None)
                return await _differences(conn, live, scratch)
        # The live projection is behind what we built: let its runner catch up.
        await asyncio.sleep(0.1)
    raise TimeoutError(f"projection {projection.name} is not catching up; is a runner active?")


async def _differences(conn: Any, live: str, scratch: str) -> list[str]:
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
        " ORDER BY table_name",
        scratch,
    )
    found = []
    for row in tables:
        table = row["table_name"]
        for here, there, label in ((live, scratch, "only live"), (scratch, live, "only rebuilt")):
            rows = await conn.fetch(
                f"SELECT * FROM {_quote(here)}.{_quote(table)} EXCEPT ALL "  # noqa: S608
                f"SELECT * FROM {_quote(there)}.{_quote(table)} LIMIT 20"
            )
            found += [f"{table}: {label}: {dict(r)}" for r in rows]
    return found
