"""Store connections on a real database: kept, replaced, listed, their runs recorded, and
no credential anywhere in the database in clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.accounts import connections
from service.accounts import secrets as signing
from service.accounts.keyring import Keyring, SealedWithAnotherKeyError
from tests.support import create_merchant, server_keyring

WOO_SECRET = "cs_7f3a9d1e5b2c4a6f8e0d1c3b5a7f9e2d4c6b8a01"
WOO_KEY = "ck_1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"
SHOPIFY_TOKEN = "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"
SIGNING = ("whsec-woo-9b8a7c6d5e4f", "whsec-shopify-1f2e3d4c5b6a")


async def test_a_connection_is_kept_replaced_listed_and_removed(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        assert await connections.get_connection(conn, shop.user_id, "woocommerce", keyring) is None
        await connections.connect_store(
            conn, shop.name, "woocommerce", "https://shop.example", WOO_KEY, WOO_SECRET, keyring
        )
        await connections.connect_store(
            conn, shop.name, "shopify", "https://s.myshopify.com", None, SHOPIFY_TOKEN, keyring
        )
        woo = await connections.get_connection(conn, shop.user_id, "woocommerce", keyring)
        assert woo is not None
        assert (woo.base_url, woo.key, woo.secret) == ("https://shop.example", WOO_KEY, WOO_SECRET)
        assert (woo.high_water, woo.last_run_at, woo.last_error, woo.failures) == (
            None,
            None,
            None,
            0,
        )
        assert WOO_SECRET not in repr(woo)
        mine = [
            c
            for c in await connections.list_connections(conn, keyring)
            if c.user_id == shop.user_id
        ]
        assert sorted(c.platform for c in mine) == ["shopify", "woocommerce"]
        assert next(c for c in mine if c.platform == "shopify").secret == SHOPIFY_TOKEN

        mark = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        await connections.record_run(conn, shop.user_id, "woocommerce", high_water=mark, error=None)
        # Replaced with the same store: the high-water mark stays; another store: it goes.
        await connections.connect_store(
            conn, shop.name, "woocommerce", "https://shop.example", WOO_KEY, "cs_new", keyring
        )
        again = await connections.get_connection(conn, shop.user_id, "woocommerce", keyring)
        assert again is not None and again.secret == "cs_new" and again.high_water == mark
        await connections.connect_store(
            conn, shop.name, "woocommerce", "https://other.example", WOO_KEY, "cs_new", keyring
        )
        moved = await connections.get_connection(conn, shop.user_id, "woocommerce", keyring)
        assert moved is not None and moved.high_water is None

        assert await connections.disconnect_store(conn, shop.name, "woocommerce") is True
        assert await connections.disconnect_store(conn, shop.name, "woocommerce") is False
        assert await connections.get_connection(conn, shop.user_id, "woocommerce", keyring) is None


async def test_runs_record_failures_in_a_row_and_a_success_clears_them(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn, shop.name, "shopify", "https://s.myshopify.com", None, SHOPIFY_TOKEN, keyring
        )
        for _ in range(2):
            await connections.record_run(
                conn, shop.user_id, "shopify", high_water=None, error="401: check the token\nmore"
            )
        failing = (await connections.connection_status(conn, shop.user_id))["shopify"]
        assert (failing.failures, failing.last_error) == (2, "401: check the token")
        assert failing.last_run_at is not None and failing.high_water is None
        mark = datetime.now(UTC) - timedelta(minutes=5)
        await connections.record_run(conn, shop.user_id, "shopify", high_water=mark, error=None)
        await connections.record_run(conn, shop.user_id, "shopify", high_water=None, error=None)
        healed = (await connections.connection_status(conn, shop.user_id))["shopify"]
        assert (healed.failures, healed.last_error, healed.high_water) == (0, None, mark)
        assert healed.key_prefix is None and healed.base_url == "https://s.myshopify.com"


async def test_a_credential_sealed_with_another_key_is_refused_not_guessed(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn,
            shop.name,
            "shopify",
            "https://s.myshopify.com",
            None,
            SHOPIFY_TOKEN,
            Keyring(Fernet.generate_key()),
        )
        with pytest.raises(SealedWithAnotherKeyError):
            await connections.get_connection(conn, shop.user_id, "shopify", server_keyring())


async def test_no_table_holds_a_secret_in_clear(pool: asyncpg.Pool):
    """Both platforms connected, both signing secrets set (and one replaced, so a previous
    one is kept too): every table of the public schema, read as text, shows none of them."""
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn, shop.name, "woocommerce", "https://shop.example", WOO_KEY, WOO_SECRET, keyring
        )
        await connections.connect_store(
            conn, shop.name, "shopify", "https://s.myshopify.com", None, SHOPIFY_TOKEN, keyring
        )
        for platform, secret in zip(("woocommerce", "shopify"), SIGNING, strict=True):
            await signing.set_secret(
                conn, shop.name, platform, secret + "-old", timedelta(hours=1), keyring
            )
            await signing.set_secret(conn, shop.name, platform, secret, timedelta(hours=1), keyring)
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'"
        )
        assert {"store_connections", "user_secrets", "users"} <= {r["t"] for r in tables}
        dump = []
        for row in tables:
            # Each whole row as text (bytea as its hex escape, as psql or pg_dump would show it).
            rows = await conn.fetch(f"SELECT t::text AS line FROM public.{row['t']} AS t")
            dump.extend(r["line"] for r in rows)
        text = "\n".join(dump)
        assert shop.name in text  # the dump did read the rows
        secrets = [WOO_KEY, WOO_SECRET, SHOPIFY_TOKEN, *SIGNING, *(s + "-old" for s in SIGNING)]
        secrets += [shop.token, shop.api_key]  # hashed (and the token sealed) since #9
        for secret in secrets:
            assert secret not in text
            assert secret.encode().hex() not in text  # nor as bytes
        # And they still open, where they are read.
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "shopify", now, keyring)
        assert found == [SIGNING[1], SIGNING[1] + "-old"]


async def test_the_consumer_key_is_sealed_and_only_its_prefix_kept(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn, shop.name, "woocommerce", "https://shop.example", WOO_KEY, WOO_SECRET, keyring
        )
        row = await conn.fetchrow(
            "SELECT t::text AS line FROM store_connections AS t WHERE user_id = $1", shop.user_id
        )
        assert WOO_KEY not in row["line"] and WOO_KEY.encode().hex() not in row["line"]
        shown = (await connections.connection_status(conn, shop.user_id))["woocommerce"]
        assert shown.key_prefix == "ck_1b2c…" and shown.key_prefix[:-1] in row["line"]
        found = await connections.get_connection(conn, shop.user_id, "woocommerce", keyring)
        assert found is not None and found.key == WOO_KEY


async def test_an_explicit_window_never_moves_the_high_water_mark_back_or_over_a_gap(
    pool: asyncpg.Pool,
):
    shop = await create_merchant(pool)
    mark = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn,
            shop.name,
            "shopify",
            "https://s.myshopify.com",
            None,
            SHOPIFY_TOKEN,
            server_keyring(),
        )

        async def run(since: datetime | None, high_water: datetime) -> datetime | None:
            await connections.record_run(
                conn, shop.user_id, "shopify", high_water=high_water, error=None, since=since
            )
            return (await connections.connection_status(conn, shop.user_id))["shopify"].high_water

        assert await run(None, mark) == mark
        # An older window (--since/--until in the past): the mark stays where it was.
        assert await run(mark - timedelta(days=9), mark - timedelta(days=8)) == mark
        # A window starting after the mark (less the overlap): the time between is unpulled.
        assert await run(mark + timedelta(hours=1), mark + timedelta(hours=2)) == mark
        # One starting within the overlap, or before the mark, carries it forward.
        assert await run(mark - connections.OVERLAP, mark + timedelta(hours=3)) == (
            mark + timedelta(hours=3)
        )


async def test_the_due_connections_are_read_by_their_owner(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn,
            shop.name,
            "shopify",
            "https://s.myshopify.com",
            None,
            SHOPIFY_TOKEN,
            server_keyring(),
        )
        due = await connections.due_connections(conn, timedelta(minutes=60))
        assert (shop.user_id, "shopify") in due
        await connections.record_run(conn, shop.user_id, "shopify", high_water=None, error=None)
        due = await connections.due_connections(conn, timedelta(minutes=60))
        assert (shop.user_id, "shopify") not in due
