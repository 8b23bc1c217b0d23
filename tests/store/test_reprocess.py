"""Reprocess after an interpretation bug: corrections are appended, never edits, and the
ledger ends as a fresh run with the fixed code computes; a second run appends nothing."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.adapters import woocommerce
from service.keys import RUNNER
from service.reprocess import reprocess
from tests.support import Merchant, create_merchant, woo_order


def _deliveries() -> list[bytes]:
    bodies = [
        woo_order(1, "on-hold", date_modified_gmt="2026-08-01T10:00:00"),
        woo_order(2, "processing", date_modified_gmt="2026-08-01T10:00:00"),
        woo_order(3, "on-hold", date_modified_gmt="2026-08-01T10:00:00"),
        woo_order(3, "completed", date_modified_gmt="2026-08-01T11:00:00"),
        woo_order(4, "on-hold", date_modified_gmt="2026-08-01T10:00:00"),
        woo_order(4, "cancelled", date_modified_gmt="2026-08-01T12:00:00"),
    ]
    return [json.dumps(b).encode() for b in bodies]


async def _views(client: TestClient, merchant: Merchant) -> dict:
    sales = await (await client.get("/api/sales?limit=100", headers=merchant.auth)).json()
    stock = await (await client.get("/api/stock?limit=100", headers=merchant.auth)).json()
    keep = ("external_id", "status", "platform_status", "total", "lines")
    return {
        "sales": sorted(
            ({k: s[k] for k in keep} for s in sales["items"]), key=lambda s: s["external_id"]
        ),
        "stock": {i["product_ref"]: i["quantity"] for i in stock["items"]},
    }


async def _count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM stored_events"))


async def test_reprocess_corrects_a_planted_interpretation_bug(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
):
    with monkeypatch.context() as planted:
        # The bug: on-hold orders are not read as sales (WooCommerce deducts stock for them).
        planted.setitem(woocommerce._SALE_STATUS, "on-hold", "pending")
        for body in _deliveries():
            assert (await client.post(merchant.woo_orders(), data=body)).status == 200
    wrong = await _views(client, merchant)
    assert "1" not in {s["external_id"] for s in wrong["sales"]}

    fresh = await create_merchant(pool)
    for body in _deliveries():
        await client.post(fresh.woo_orders(), data=body)
    right = await _views(client, fresh)
    assert wrong != right

    before = await _count(pool)
    preview = await reprocess(pool, merchant.user_id, dry_run=True)
    assert {c.external_id for c in preview} == {"1"}
    assert await _count(pool) == before  # a dry run appends nothing
    corrections = await reprocess(pool, merchant.user_id)
    assert [c.external_id for c in corrections] == ["1"]
    assert any("sale: False -> True" in d for d in corrections[0].differences)

    runner = client.app[RUNNER]
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
    assert await runner.wait_for(head, 5)
    assert await _views(client, merchant) == right

    after = await _count(pool)
    assert await reprocess(pool, merchant.user_id) == []
    assert await _count(pool) == after  # a second run appends nothing
