"""``ledger stock adjust|history|reconcile``, ``ledger trace`` and ``ledger export``, run as
processes against the test database while the service (and its projection runner) runs."""

from __future__ import annotations

import getpass
import json
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.builders import FIXTURES, as_body, woo_order, woo_product
from tests.support import Merchant, ledger, stock_of, wait_until


async def level_becomes(client: TestClient, merchant: Merchant, ref: str, level: int) -> None:
    async def check() -> bool:
        return await stock_of(client, merchant, ref) == level

    await wait_until(check, 10, f"{ref} at {level}")


def _product(product_id: int, stock: int | None, modified: str, **extra: Any) -> bytes:
    doc = woo_product(product_id, stock, modified, name=f"Product {product_id}", **extra)
    return as_body({**doc, "status": "publish"})


async def _adjusted_events(client: TestClient, merchant: Merchant) -> list[dict[str, Any]]:
    resp = await client.get("/api/events?limit=1000", headers=merchant.auth)
    items = (await resp.json())["items"]
    return [i for i in items if i["topic"].endswith("StockAdjustment.StockAdjusted")]


@pytest.mark.slow
async def test_reconcile_lists_then_applies_once(
    client: TestClient, merchant: Merchant, database_url: str
):
    user = ("--user", merchant.name)
    code, out, _ = await ledger(database_url, "stock", "reconcile", *user)
    assert (code, out.strip()) == (0, "nothing to reconcile")

    await client.post(merchant.woo_orders(), json=woo_order(1))  # 42: -2, 71: -1
    products = [
        _product(42, 20, "2026-05-01T10:00:00"),
        _product(71, 5, "2026-05-01T10:00:00", type="variation", parent_id=7),
        _product(900, 0, "2026-05-01T10:00:00"),  # agrees with the ledger: nothing to do
        _product(901, None, "2026-05-01T10:00:00"),  # stock not managed: nothing reported
    ]
    for body in products:
        resp = await client.post(merchant.woo_products(), data=body)
        assert (await resp.json())["status"] == "product_updated"

    code, out, _ = await ledger(database_url, "stock", "reconcile", *user)
    assert code == 0
    lines = out.strip().splitlines()
    # The platform's count with the platform's own time of it (the product's modification).
    assert lines[0] == (
        "woocommerce:42\tledger -2\tplatform 20 (reported at 2026-05-01T10:00:00+00:00)\tdrift +22"
    )
    assert lines[1].startswith("woocommerce:71\tledger -1\tplatform 5")
    assert len(lines) == 3 and "--apply" in lines[2]
    assert await _adjusted_events(client, merchant) == []

    # Twice in a row, before the projections may have caught up: still adjusted once.
    code, out, _ = await ledger(database_url, "stock", "reconcile", *user, "--apply")
    assert code == 0 and "woocommerce:42: adjusted by +22" in out
    code, out, _ = await ledger(database_url, "stock", "reconcile", *user, "--apply")
    assert code == 0
    await level_becomes(client, merchant, "woocommerce:42", 20)
    await level_becomes(client, merchant, "woocommerce:71", 5)
    code, out, _ = await ledger(database_url, "stock", "reconcile", *user, "--apply")
    assert (code, out.strip()) == (0, "nothing to reconcile")
    events = await _adjusted_events(client, merchant)
    assert sorted((e["event"]["product_ref"], e["event"]["by"]) for e in events) == [
        ("woocommerce:42", 22),
        ("woocommerce:71", 6),
    ]
    for e in events:
        assert e["event"]["reason"].startswith("reconcile to platform count ")
        assert " reported at 2026-05-01T10:00:00+00:00" in e["event"]["reason"]
        assert e["event"]["actor"] == f"cli:{getpass.getuser()}"

    # A newer count from the platform is a new report: reconciled again, once.
    await client.post(merchant.woo_products(), data=_product(42, 25, "2026-05-02T10:00:00"))
    for _ in range(2):
        code, out, _ = await ledger(database_url, "stock", "reconcile", *user, "--apply")
        assert code == 0
    await level_becomes(client, merchant, "woocommerce:42", 25)
    assert len(await _adjusted_events(client, merchant)) == 3

    # A sale whose new count the platform has not reported yet: the drift is back, but the
    # report was reconciled already, so it is not applied again (nor does it stop the run).
    await client.post(merchant.woo_orders(), json=woo_order(2))
    await level_becomes(client, merchant, "woocommerce:42", 23)
    code, out, err = await ledger(database_url, "stock", "reconcile", *user, "--apply")
    assert code == 0, err
    assert "woocommerce:42: already adjusted for this report" in out
    assert len(await _adjusted_events(client, merchant)) == 3


@pytest.mark.slow
async def test_adjust_and_history_from_the_command_line(
    client: TestClient, merchant: Merchant, database_url: str
):
    await client.post(merchant.woo_orders(), json=woo_order(1))
    user = ("--user", merchant.name)
    args = ("stock", "adjust", *user, "woocommerce:42", "--by", "-3", "--reason", "breakage")
    code, out, _ = await ledger(database_url, *args, "--key", "break-1")
    assert code == 0 and "adjusted woocommerce:42 by -3" in out
    code, out, _ = await ledger(database_url, *args, "--key", "break-1")
    assert code == 0 and "duplicate" in out
    code, _, err = await ledger(database_url, *args[:-1], "other reason", "--key", "break-1")
    assert code == 2 and "already used" in err
    code, out, _ = await ledger(database_url, *args)  # a fresh key each time, printed
    assert code == 0 and out.startswith("key: ")
    await level_becomes(client, merchant, "woocommerce:42", -8)

    code, out, _ = await ledger(database_url, "stock", "history", *user, "woocommerce:42")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-1] == "woocommerce:42: final balance -8, stock level -8"
    rows = [line.split("\t") for line in lines[1:-1]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("deducted", "-2", "-2"),
        ("adjusted", "-3", "-5"),
        ("adjusted", "-3", "-8"),
    ]
    assert rows[1][6] == f"breakage [cli:{getpass.getuser()}]"

    for bad in (("--by", "0"), ("--by", "2", "--reason", "")):
        code, _, err = await ledger(
            database_url, "stock", "adjust", *user, "woocommerce:42", "--reason", "r", *bad
        )
        assert code == 2 and err.startswith("ledger: "), err
    code, _, err = await ledger(database_url, "stock", "history", *user, "woocommerce:4242")
    assert code == 2 and "no stock" in err
    code, _, err = await ledger(database_url, "stock", "history", "--user", "nobody", "x:1")
    assert code == 2 and "No user has this name" in err


@pytest.mark.slow
async def test_trace_and_export_from_the_command_line(
    client: TestClient, merchant: Merchant, database_url: str, pool: asyncpg.Pool
):
    body = (FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json").read_bytes()
    resp = await client.post(merchant.woo_orders(), data=body)
    answer = await resp.json()
    user = ("--user", merchant.name)
    code, out, _ = await ledger(database_url, "trace", *user, answer["sale_id"])
    assert code == 0
    trace = json.loads(out)
    assert trace["receipt"]["sha256_verified"] is True
    assert trace["receipt"]["body"].encode() == body
    code, out, _ = await ledger(database_url, "trace", *user, "--external", "woocommerce:74")
    assert code == 0 and json.loads(out) == trace
    resp = await client.get(f"/api/sales/{answer['sale_id']}/trace", headers=merchant.auth)
    assert await resp.json() == trace

    for bad in (("--external", "woocommerce:75"), ("--external", "nope"), ("not-a-uuid",), ()):
        code, _, err = await ledger(database_url, "trace", *user, *bad)
        assert code == 2 and err.startswith("ledger: "), (bad, err)

    code, out, _ = await ledger(database_url, "export", *user, "--format", "jsonl")
    assert code == 0
    exported = [json.loads(line) for line in out.splitlines()]
    resp = await client.get("/api/events?limit=1000", headers=merchant.auth)
    assert exported == (await resp.json())["items"]
    assert [e["originator_version"] for e in exported] == list(range(1, len(exported) + 1))
