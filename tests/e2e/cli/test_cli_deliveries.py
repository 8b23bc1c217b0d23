"""``ledger deliveries`` and ``ledger deliveries prune``, run as processes against the test
database, reading what the service logged."""

from __future__ import annotations

import json

import asyncpg
from aiohttp.test_utils import TestClient

from service.http.keys import DELIVERY_LOG
from tests.builders import as_body, woo_order
from tests.support import Merchant, ledger


async def test_the_cli_prints_the_rows_the_api_gives(
    client: TestClient, merchant: Merchant, database_url: str
):
    for n in (701, 702):
        assert (await client.post(merchant.woo_orders(), data=as_body(woo_order(n)))).ok
    assert (await client.post(merchant.woo_orders(), data=b"nope")).status == 202
    assert await client.app[DELIVERY_LOG].flush()
    resp = await client.get("/api/deliveries", headers=merchant.auth)
    api = (await resp.json())["deliveries"]

    code, out, err = await ledger(database_url, "deliveries", "--user", merchant.name, "--json")
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == api

    code, out, _ = await ledger(database_url, "deliveries", "--user", merchant.name)
    header, *lines = out.splitlines()
    assert header.split("\t")[:7] == [
        "id",
        "received_at",
        "platform",
        "endpoint",
        "topic",
        "outcome",
        "status",
    ]
    assert [line.split("\t")[5:7] for line in lines] == [
        ["quarantined", "202"],
        ["recorded", "200"],
        ["recorded", "200"],
    ]
    user = ("--user", merchant.name)
    code, out, _ = await ledger(database_url, "deliveries", *user, "--external-id", "701")
    assert code == 0 and len(out.splitlines()) == 2 and "\t701\t" in out
    code, out, _ = await ledger(database_url, "deliveries", *user, "--outcome", "quarantined")
    assert [line.split("\t")[0] for line in out.splitlines()[1:]] == [str(api[0]["id"])]
    code, out, _ = await ledger(database_url, "deliveries", *user, "--limit", "1", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [api[0]["id"]]
    code, out, _ = await ledger(database_url, "deliveries", *user, "--to", "2000-01-01T00:00Z")
    assert (code, out) == (0, "no deliveries\n")


async def test_bad_arguments_and_unknown_users_fail_in_one_line(database_url: str):
    code, _, err = await ledger(database_url, "deliveries")
    assert code == 2 and "--user" in err
    code, _, err = await ledger(database_url, "deliveries", "--user", "nobody-here")
    assert code == 2 and len(err.splitlines()) == 1, err
    code, _, err = await ledger(database_url, "deliveries", "--user", "x", "--from", "monday")
    assert code == 2 and "ISO 8601" in err


async def test_prune_applies_the_retention_settings(
    client: TestClient, merchant: Merchant, database_url: str, pool: asyncpg.Pool
):
    for n in (711, 712, 713):
        assert (await client.post(merchant.woo_orders(), data=as_body(woo_order(n)))).ok
    assert await client.app[DELIVERY_LOG].flush()
    env_limit = {"LEDGER_DELIVERIES_MAX_PER_USER": "1"}
    code, out, err = await ledger(
        database_url, "deliveries", "prune", "--user", merchant.name, env=env_limit
    )
    assert code == 0, err
    assert out.startswith("2 deliveries pruned")
    async with pool.acquire() as conn:
        left = await conn.fetch(
            "SELECT external_id FROM deliveries WHERE user_id = $1", merchant.user_id
        )
    assert [r["external_id"] for r in left] == ["713"]
