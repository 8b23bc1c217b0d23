"""The ``ledger`` command, run as a process against the test database."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg
from aiohttp.test_utils import TestClient

from service.intake import inbox
from tests.builders import CURL_BODY, spooled, woo_order
from tests.support import ledger, wait_until


async def test_users_create_list_and_rotate(client: TestClient, database_url: str):
    code, out, _ = await ledger(database_url, "users", "create", "cli-shop", "--json")
    assert code == 0
    created = json.loads(out)
    assert set(created) == {"user_id", "name", "webhook_token", "api_key"}
    assert created["name"] == "cli-shop"

    code, out, _ = await ledger(database_url, "users", "list")
    assert code == 0 and "cli-shop" in out and created["user_id"] in out
    assert created["webhook_token"] not in out and created["api_key"] not in out

    code, _, err = await ledger(database_url, "users", "create", "cli-shop")
    assert code == 2 and "already exists" in err

    old_token = created["webhook_token"]
    resp = await client.post(f"/api/webhook/woocommerce/{old_token}", data=CURL_BODY)
    assert resp.status == 200
    code, out, _ = await ledger(database_url, "users", "rotate-token", "cli-shop")
    assert code == 0
    new_token = next(w for w in out.split() if w.startswith("whk_"))

    async def old_token_refused() -> bool:
        resp = await client.post(f"/api/webhook/woocommerce/{old_token}", data=CURL_BODY)
        return resp.status == 401

    # The service caches tokens and drops its copy when PostgreSQL announces the change:
    # refused as soon as the notification arrives, and never later than 1 s.
    await wait_until(old_token_refused, within=1.0, what="the rotated token refused")
    resp = await client.post(f"/api/webhook/woocommerce/{new_token}", data=CURL_BODY)
    assert (await resp.json())["status"] == "duplicate"

    old_key = created["api_key"]
    assert (
        await client.get("/api/sales", headers={"Authorization": f"Bearer {old_key}"})
    ).status == 200
    code, out, _ = await ledger(database_url, "users", "rotate-api-key", "cli-shop")
    new_key = next(w for w in out.split() if w.startswith("key_"))
    assert (
        await client.get("/api/sales", headers={"Authorization": f"Bearer {old_key}"})
    ).status == 401
    resp = await client.get("/api/sales", headers={"Authorization": f"Bearer {new_key}"})
    assert len((await resp.json())["items"]) == 1


async def test_unknown_user_and_bad_names_are_clear_errors(database_url: str):
    code, _, err = await ledger(database_url, "inbox", "list", "--user", "nobody-here")
    assert code == 2 and "No user has this name" in err
    code, _, err = await ledger(database_url, "users", "create", "bad name!")
    assert code == 2 and "user name" in err


async def test_inbox_list_and_reprocess(client: TestClient, database_url: str, pool: asyncpg.Pool):
    code, out, _ = await ledger(database_url, "users", "create", "cli-inbox", "--json")
    user = json.loads(out)
    bad = await client.post(
        f"/api/webhook/woocommerce/{user['webhook_token']}",
        data=b'{"id": 5, "status": "processing",'
        b' "line_items": [{"product_id": 1, "quantity": "x"}]}',
    )
    bad_id = (await bad.json())["inbox_id"]
    # A delivery an earlier version of the code could not read, which this one can.
    async with pool.acquire() as conn:
        good_id = await inbox.keep(
            conn,
            spooled(UUID(user["user_id"]), woo_order(6)),
            kind="quarantined",
            reason="invalid_field",
            field="line_items",
            detail="old bug",
        )
    code, out, _ = await ledger(database_url, "inbox", "list", "--user", "cli-inbox")
    assert code == 0 and str(bad_id) in out and str(good_id) in out

    code, out, _ = await ledger(database_url, "inbox", "reprocess", "--user", "cli-inbox")
    assert code == 1  # one delivery is still unusable
    assert f"{good_id}: recorded" in out
    assert f"{bad_id}: still quarantined" in out
    async with pool.acquire() as conn:
        states = dict(
            await conn.fetch(
                "SELECT inbox_id, state FROM inbox WHERE inbox_id = ANY($1::bigint[])",
                [bad_id, good_id],
            )
        )
    assert states == {bad_id: "open", good_id: "reprocessed"}
    resp = await client.get(
        "/api/lookup/woocommerce/orders/6", headers={"Authorization": f"Bearer {user['api_key']}"}
    )
    assert resp.status == 200

    code, out, _ = await ledger(
        database_url, "inbox", "reprocess", "--user", "cli-inbox", str(good_id)
    )
    assert code == 2  # no longer open


async def test_migrate_is_idempotent(database_url: str):
    code, out, _ = await ledger(database_url, "db", "migrate")
    assert code == 0 and "schema: current" in out


async def test_inbox_dismiss(client: TestClient, database_url: str, pool: asyncpg.Pool):
    code, out, _ = await ledger(database_url, "users", "create", "cli-dismiss", "--json")
    user = json.loads(out)
    path = f"/api/webhook/woocommerce/{user['webhook_token']}"
    for n in range(3):
        await client.post(path, data=f"webhook_id={n}")
    bad = await (await client.post(path, data=b"{nope")).json()
    base = ("inbox", "dismiss", "--user", "cli-dismiss")
    code, _, err = await ledger(database_url, *base)
    assert code == 2 and "either an inbox ID or --all-pings" in err
    code, out, _ = await ledger(database_url, *base, "--all-pings")
    assert (code, out.strip()) == (0, "3 dismissed")
    code, out, _ = await ledger(database_url, *base, str(bad["inbox_id"]))
    assert (code, out.strip()) == (0, "1 dismissed")
    code, _, err = await ledger(database_url, *base, str(bad["inbox_id"]))
    assert code == 2 and "no inbox entry" in err
    async with pool.acquire() as conn:
        user_id = await conn.fetchval("SELECT user_id FROM users WHERE name = 'cli-dismiss'")
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE user_id = $1", user_id) == 0


async def test_an_inbox_id_beyond_any_is_refused_in_one_line(database_url: str):
    for command in ("dismiss", "reprocess"):
        args = ("inbox", command, "--user", "nobody", "9" * 30)
        code, _, err = await ledger(database_url, *args)
        assert code == 2 and "an inbox id is a whole number" in err, err
