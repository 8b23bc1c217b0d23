"""A database from before migration 0010 keeps its signing secrets in clear and its webhook
tokens sealed under the session-derived key: ``ledger db migrate`` seals the secrets with the
server key and clears them, seals the tokens again under it (the console still reveals
them), and a signed delivery still verifies afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from service.accounts import sealing, users
from service.settings import Settings
from service.store import migrate as migrations
from service.store.db import drop_database, ensure_database
from service.store.eventstore import EventStore
from tests.builders import signed_vector
from tests.support import ledger, start_client

BODY, SECRET, SIGNATURE = signed_vector()
OLD = "an-old-secret-still-in-its-grace"


@pytest_asyncio.fixture
async def old_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A database migrated as the release before 0010 left it."""
    url = urlunsplit(
        urlsplit(database_url)._replace(path=f"/ledger_sealing_{secrets.token_hex(4)}")
    )
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        before = migrations.MIGRATIONS[: migrations.MIGRATIONS.index("0010_store_connections.sql")]
        monkeypatch.setattr(migrations, "MIGRATIONS", before)
        await migrations.migrate(conn)
        monkeypatch.undo()
        yield url
    finally:
        await conn.close()
        await drop_database(url)


async def test_migrate_seals_clear_secrets_and_signatures_still_verify(
    old_database: str, settings: Settings
):
    conn = await asyncpg.connect(old_database)
    try:
        # Its token sealed as the console sealed it then: under the session-derived key.
        new = await users.create_user(conn, "upgraded-shop", sealing.former_sealer(settings))
        # What 0004's set_secret wrote: the secret as given, and a replaced one in its grace.
        await conn.execute(
            "INSERT INTO user_secrets (user_id, platform, secret, set_at, previous_secret,"
            " previous_valid_until) VALUES ($1, 'woocommerce', $2, now(), $3,"
            " now() + interval '1 hour')",
            new.user_id,
            SECRET,
            OLD,
        )
    finally:
        await conn.close()

    code, out, err = await ledger(old_database, "db", "migrate")
    assert code == 0, err
    assert "signing secrets: 1 row(s) sealed with the server key" in out
    assert "webhook tokens: 1 sealed again with the server key" in out
    assert SECRET not in out + err and new.webhook_token not in out + err

    conn = await asyncpg.connect(old_database)
    try:
        row = await conn.fetchrow("SELECT user_secrets::text AS line FROM user_secrets")
        assert SECRET not in row["line"] and OLD not in row["line"]
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM user_secrets WHERE secret IS NULL"
                " AND previous_secret IS NULL AND secret_sealed IS NOT NULL"
                " AND previous_sealed IS NOT NULL"
            )
            == 1
        )
        # The console still reveals the token, now with the server key.
        current = sealing.sealer(settings)
        assert await users.revealed_token(conn, new.user_id, current) == new.webhook_token
    finally:
        await conn.close()
    code, out, _ = await ledger(old_database, "db", "migrate")
    assert code == 0 and "sealed" not in out  # nothing left in clear: nothing done

    # An older process still running during the upgrade writes a secret in clear: the
    # service's start seals it.
    conn = await asyncpg.connect(old_database)
    try:
        await conn.execute(
            "INSERT INTO user_secrets (user_id, platform, secret, set_at)"
            " VALUES ($1, 'shopify', 'written-by-an-older-process', now())",
            new.user_id,
        )
    finally:
        await conn.close()
    client = await start_client(replace(settings, database_url=old_database))
    try:
        conn = await asyncpg.connect(old_database)
        try:
            lines = await conn.fetch("SELECT user_secrets::text AS line FROM user_secrets")
        finally:
            await conn.close()
        assert not any("written-by-an-older-process" in r["line"] for r in lines)
        resp = await client.post(
            f"/api/webhook/woocommerce/{new.webhook_token}",
            data=BODY,
            headers={"X-WC-Webhook-Signature": SIGNATURE},
        )
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["status"] == "recorded"
        pool = await asyncpg.connect(old_database)
        try:
            receipt = (await EventStore().load(pool, answer["sale_id"]))[1]
        finally:
            await pool.close()
        assert receipt.verification == "signature_valid"
        # A wrong signature is still refused (verification stayed on).
        resp = await client.post(
            f"/api/webhook/woocommerce/{new.webhook_token}",
            data=BODY,
            headers={"X-WC-Webhook-Signature": "bm9wZQ=="},
        )
        assert resp.status == 401
    finally:
        await client.close()
