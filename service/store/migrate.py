"""The service's schema migrations: numbered files in ``migrations/``, applied in order, once.

A released migration is never edited: the next change is the next file. Each applied file's
sha256 is recorded and compared on every run, so a migration changed after it was applied
stops the run, naming the file, instead of leaving databases that differ by when they were
migrated. Migrations run under an advisory lock, so processes starting together do not race.

Projections are not migrated here: each lives in a schema of its own and is rebuilt from the
log when its version changes (service/projecting/rebuild.py); callers that prepare a database
run both steps (``prepare_database`` there).
"""

from __future__ import annotations

import hashlib
from importlib import resources

import asyncpg

MIGRATIONS = (
    "0001_event_store.sql",
    "0002_users.sql",
    "0003_projection_failures.sql",
    "0004_connections.sql",
    "0005_projection_versions.sql",
    "0006_first_release_projection_tables.sql",
    "0007_append_function.sql",
    "0008_deliveries.sql",
    "0009_sealed_tokens.sql",
    "0010_store_connections.sql",
    "0011_backfill_checkpoints.sql",
)
# What releases before the numbering recorded for the first four files.
_LEGACY_NAMES = {
    "service/sql/event_store.sql": "0001_event_store.sql",
    "service/sql/users.sql": "0002_users.sql",
    "service/sql/projection_failures.sql": "0003_projection_failures.sql",
    "service/sql/connections.sql": "0004_connections.sql",
}
# The first release migrated its projections' tables too; 0006 drops what they left.
_LEGACY_PREFIX = "projections/"
# The one migration edited after release, before this rule held: c73521c added the
# projection version to 0001, where 0005 adds it now. A database that ran that text is right.
_KNOWN_TEXTS = {
    "0001_event_store.sql": {"ab079e1ae4ba342ff334e1a351609308a02ba9cf37bf9a2d6674f2738bea8677"},
}
_MIGRATION_LOCK = 0x6C6564676572  # "ledger"


class MigrationChangedError(Exception):
    """A migration already applied to this database has changed since: released migrations
    are never edited (write the next numbered one)."""


def migration_text(name: str) -> str:
    return resources.files("service.store").joinpath("migrations", name).read_text("utf-8")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def applied_migrations(conn: asyncpg.Connection) -> dict[str, str]:
    """The migrations this database recorded (under today's names), with their sha256."""
    rows = await conn.fetch("SELECT name, sha256 FROM schema_migrations")
    return {
        _LEGACY_NAMES.get(r["name"], r["name"]): r["sha256"]
        for r in rows
        if not r["name"].startswith(_LEGACY_PREFIX)
    }


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations this database has not seen; returns their names. Raises
    MigrationChangedError, applying nothing, when an applied one has changed."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        # The service's own tables live in public, whatever the database's search_path says.
        await conn.execute("SET search_path TO public")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, sha256 text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = await applied_migrations(conn)
        for name, sha in done.items():
            if name in MIGRATIONS and sha != _sha256(migration_text(name)):
                if sha not in _KNOWN_TEXTS.get(name, ()):
                    raise MigrationChangedError(name)
        for name in MIGRATIONS:
            if name in done:
                continue
            sql = migration_text(name)
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
                    name,
                    _sha256(sql),
                )
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied
