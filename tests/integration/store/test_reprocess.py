"""Reprocess after an interpretation bug: corrections are appended, never edits, and the
ledger ends as a fresh run with the fixed code computes; a second run appends nothing."""

from __future__ import annotations

import dataclasses
import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.adapters import woocommerce
from service.audit.reprocess import reprocess
from service.http.keys import RUNNER
from service.store.eventstore import EventStore
from tests.builders import woo_order
from tests.support import Merchant, create_merchant


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
    preview = await reprocess(pool, EventStore(), merchant.user_id, dry_run=True)
    assert {c.external_id for c in preview} == {"1"}
    assert await _count(pool) == before  # a dry run appends nothing
    corrections = await reprocess(pool, EventStore(), merchant.user_id)
    assert [c.external_id for c in corrections] == ["1"]
    assert any("sale: False -> True" in d for d in corrections[0].differences)

    runner = client.app[RUNNER]
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
    assert await runner.wait_for(head, 5)
    assert await _views(client, merchant) == right

    after = await _count(pool)
    assert await reprocess(pool, EventStore(), merchant.user_id) == []
    assert await _count(pool) == after  # a second run appends nothing


def _product_deliveries() -> list[bytes]:
    def product(pid: int, modified: str, stock: int, name: str, **extra: object) -> dict:
        body = {"id": pid, "name": name, "sku": f"SKU-{pid}", "type": "simple"}
        body |= {"manage_stock": True, "stock_quantity": stock, "price": "9.50"}
        return body | {"status": "publish", "date_modified_gmt": modified, **extra}

    bodies = [
        product(42, "2026-08-01T10:00:00", 12, "Mug"),
        product(42, "2026-08-01T11:00:00", 9, "Mug, blue"),
        # Out of order: the newer description arrives first, the older one after it.
        product(71, "2026-08-02T10:00:00", 4, "Lamp v2", parent_id=7),
        product(71, "2026-08-01T10:00:00", 6, "Lamp", parent_id=7),
        product(99, "2026-08-01T10:00:00", 0, "Vase"),
    ]
    return [json.dumps(b).encode() for b in bodies]


async def _catalogue(client: TestClient, merchant: Merchant) -> dict:
    products = await client.get("/api/products?limit=100", headers=merchant.auth)
    stock = await client.get("/api/stock?limit=100", headers=merchant.auth)
    assert products.status == stock.status == 200
    drop = ("updated_at",)
    return {
        "products": [
            {k: v for k, v in p.items() if k not in drop} for p in (await products.json())["items"]
        ],
        "stock": sorted((await stock.json())["items"], key=lambda i: i["product_ref"]),
    }


async def _send_catalogue_and_orders(client: TestClient, merchant: Merchant) -> None:
    await client.post(merchant.woo_orders(), json=woo_order(1))
    for body in _product_deliveries():
        assert (await client.post(merchant.woo_products(), data=body)).status == 200
    await client.post(merchant.woo_orders(), json=woo_order(2))


async def test_reprocess_restates_product_deliveries_read_wrongly(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
):
    read = woocommerce.product_from_json

    def planted_read(doc: dict) -> object:
        right = read(doc)
        if " " not in (right.name or ""):
            return right
        return dataclasses.replace(right, stock_quantity=None, sku=None)

    with monkeypatch.context() as planted:
        # The bug: a product whose name has a space loses its stock count and SKU. Of 71,
        # only the newer description (which arrived first) is read wrongly; restating it
        # alone would leave the older one's count, the last reported, behind.
        planted.setattr(woocommerce, "product_from_json", planted_read)
        await _send_catalogue_and_orders(client, merchant)
    fresh = await create_merchant(pool)
    await _send_catalogue_and_orders(client, fresh)
    runner = client.app[RUNNER]
    assert await runner.wait_for(await _head(pool), 5)
    wrong, right = await _catalogue(client, merchant), await _catalogue(client, fresh)
    assert wrong != right

    preview = await reprocess(pool, EventStore(), merchant.user_id, dry_run=True)
    assert sorted(c.external_id for c in preview) == ["42", "71"]
    assert all(c.kind == "product" for c in preview)
    corrections = await reprocess(pool, EventStore(), merchant.user_id)
    assert [c.differences for c in corrections] == [c.differences for c in preview]
    assert any("stock_quantity: None -> 9" in d for c in corrections for d in c.differences)
    assert await runner.wait_for(await _head(pool), 5)
    assert await _catalogue(client, merchant) == right

    after = await _count(pool)
    assert await reprocess(pool, EventStore(), merchant.user_id) == []
    assert await _count(pool) == after


async def test_reprocess_leaves_products_read_rightly_alone(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    await _send_catalogue_and_orders(client, merchant)
    before = await _count(pool)
    assert await reprocess(pool, EventStore(), merchant.user_id) == []
    assert await _count(pool) == before


async def _head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT max(notification_id) FROM stored_events"))
