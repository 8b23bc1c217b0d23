"""Migrations that can be trusted: a database of the first release, migrated, has exactly the
schema of a fresh one; a migration edited after it was applied stops the run, named."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from service.projecting.rebuild import ensure_projection_schemas, prepare_database
from service.store import migrate as migrations
from service.store.db import drop_database, ensure_database
from service.store.migrate import MigrationChangedError, migrate

FIRST_RELEASE = Path(__file__).parent / "first_release"
# The files the first releases applied, under the names they recorded, in order: the
# service's (each as first released: 0001 before c73521c edited it), and the projections'
# tables, which the first release kept in public.
_FIRST = [
    ("service/sql/event_store.sql", "event_store.sql"),
    ("service/sql/users.sql", "users.sql"),
    ("projections/sales.sql", "projections_sales.sql"),
    ("projections/stock.sql", "projections_stock.sql"),
    ("projections/lookup.sql", "projections_lookup.sql"),
    ("projections/products.sql", "projections_products.sql"),
    ("service/sql/projection_failures.sql", "projection_failures.sql"),
    ("service/sql/connections.sql", "connections.sql"),
]


def _scratch(database_url: str) -> str:
    name = f"ledger_migrations_{secrets.token_hex(4)}"
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


@pytest_asyncio.fixture
async def scratch(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    url = _scratch(database_url)
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()
        await drop_database(url)


async def _schema(conn: asyncpg.Connection) -> dict[str, list[tuple[str, ...]]]:
    """The catalog, as far as the service and its projections own it (names qualified the
    same way in both: only public on the search path)."""
    await conn.execute("SET search_path TO public")
    schemas = "(n.nspname = 'public' OR n.nspname LIKE 'projection\\_%')"
    queries = {
        "columns": f"""
            SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE {schemas} AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""",
        "constraints": f"""
            SELECT n.nspname, c.relname, pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schemas}""",
        "indexes": f"""
            SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schemas}""",
        "triggers": f"""
            SELECT n.nspname, c.relname, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schemas} AND NOT t.tgisinternal""",
        "functions": """
            SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'""",
    }
    return {
        name: sorted(tuple(str(v) for v in row) for row in await conn.fetch(sql))
        for name, sql in queries.items()
    }


async def test_a_first_release_database_migrates_to_a_fresh_ones_schema(
    scratch: asyncpg.Connection, database_url: str
):
    for recorded, file in _FIRST:
        sql = (FIRST_RELEASE / file).read_text(encoding="utf-8")
        await scratch.execute(sql)
        await scratch.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
            " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await scratch.execute(
            "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
            recorded,
            hashlib.sha256(sql.encode()).hexdigest(),
        )
    done = await prepare_database(scratch)
    assert done[:2] == ["0005_projection_versions.sql", "0006_first_release_projection_tables.sql"]
    assert await migrate(scratch) == []  # and again: nothing
    upgraded, fresh = await _schema(scratch), await _fresh_schema(database_url)
    for part in fresh:
        assert set(upgraded[part]) - set(fresh[part]) == set(), part
        assert set(fresh[part]) - set(upgraded[part]) == set(), part


async def _fresh_schema(database_url: str) -> dict[str, list[tuple[str, ...]]]:
    url = _scratch(database_url)
    await ensure_database(url)
    try:
        conn = await asyncpg.connect(url)
        try:
            await prepare_database(conn)
            return await _schema(conn)
        finally:
            await conn.close()
    finally:
        await drop_database(url)


def _as_edited_in_c73521c(text: str) -> str:
    """0001 as the releases from c73521c until the numbering shipped it (its sha proves it)."""
    edited = text.replace(
        "-- Where each projection has got to in the log; updated in the same transaction as its"
        " tables.\n",
        "-- Where each projection has got to in the log; updated in the same transaction as its"
        " tables.\n-- ``version`` is the projection code version its tables were built by; a"
        " runner that finds\n-- another version rebuilds them from the log before serving"
        " them.\n",
    ).replace(
        "    position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),\n",
        "    position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),\n"
        "    version integer NOT NULL DEFAULT 1,\n",
    )
    assert hashlib.sha256(edited.encode()).hexdigest() == (
        "ab079e1ae4ba342ff334e1a351609308a02ba9cf37bf9a2d6674f2738bea8677"
    )
    return edited


async def test_a_database_of_the_release_before_the_numbering_migrates_to_a_fresh_ones(
    scratch: asyncpg.Connection, database_url: str
):
    """What most databases in use are: the four service files under their old names (0001
    as edited in c73521c), and the projections' schemas beside them."""
    await scratch.execute(
        "CREATE TABLE schema_migrations (name text PRIMARY KEY,"
        " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for old_name, name in (
        ("service/sql/event_store.sql", "0001_event_store.sql"),
        ("service/sql/users.sql", "0002_users.sql"),
        ("service/sql/projection_failures.sql", "0003_projection_failures.sql"),
        ("service/sql/connections.sql", "0004_connections.sql"),
    ):
        sql = migrations.migration_text(name)
        if name == "0001_event_store.sql":
            sql = _as_edited_in_c73521c(sql)
        await scratch.execute(sql)
        await scratch.execute(
            "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
            old_name,
            hashlib.sha256(sql.encode()).hexdigest(),
        )
    await ensure_projection_schemas(scratch)
    done = await prepare_database(scratch)
    assert done[:2] == ["0005_projection_versions.sql", "0006_first_release_projection_tables.sql"]
    assert await migrate(scratch) == []
    upgraded, fresh = await _schema(scratch), await _fresh_schema(database_url)
    for part in fresh:
        assert set(upgraded[part]) ^ set(fresh[part]) == set(), part


async def test_the_edited_first_migration_of_c73521c_is_accepted(scratch: asyncpg.Connection):
    """0001 was edited once after release, before migrations were numbered: a database that
    ran the edited text (it added the projection version that 0005 adds now) is right."""
    await migrate(scratch)
    edited = "ab079e1ae4ba342ff334e1a351609308a02ba9cf37bf9a2d6674f2738bea8677"
    await scratch.execute(
        "UPDATE schema_migrations SET sha256 = $1 WHERE name = '0001_event_store.sql'", edited
    )
    assert await migrate(scratch) == []


async def test_a_migration_changed_after_it_was_applied_stops_the_run(
    scratch: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
):
    await migrate(scratch)
    released = migrations.migration_text

    def edited(name: str) -> str:
        text = released(name)
        return text + "\n-- a column added here\n" if name == "0002_users.sql" else text

    monkeypatch.setattr(migrations, "migration_text", edited)
    with pytest.raises(MigrationChangedError, match=r"0002_users\.sql"):
        await migrate(scratch)
