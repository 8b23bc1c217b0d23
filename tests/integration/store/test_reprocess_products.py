"""Reprocessing product deliveries: what a restatement must keep of the original delivery
(its report's time, the product's deletion), and a delivery unreadable now."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.adapters import shopify, woocommerce
from service.adapters.common import PayloadError
from service.audit import adjustments
from service.audit.reprocess import reprocess
from service.http.keys import RUNNER
from service.store.eventstore import EventStore
from tests.builders import as_body, shopify_product, woo_product
from tests.support import Merchant, create_merchant


def _woo_product(stock: int, modified: str) -> bytes:
    return as_body(woo_product(42, stock, modified, name="Mug", sku="SKU-42", status="publish"))


PRODUCT = shopify_product()


async def _settled(client: TestClient, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
    assert await client.app[RUNNER].wait_for(head, 5)


async def test_a_restated_report_keeps_its_time_so_reconcile_applies_it_once(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
):
    read = woocommerce.product_from_json
    with monkeypatch.context() as planted:  # the bug: the SKU is dropped
        planted.setattr(
            woocommerce, "product_from_json", lambda doc: dataclasses.replace(read(doc), sku=None)
        )
        body = _woo_product(10, "2026-08-01T10:00:00")
        assert (await client.post(merchant.woo_products(), data=body)).status == 200
    await _settled(client, pool)
    before = await adjustments.discrepancies(pool, merchant.user_id)
    assert [(d.product_ref, d.reported) for d in before] == [("woocommerce:42", 10)]

    assert [c.differences for c in await reprocess(pool, EventStore(), merchant.user_id)] == [
        ["delivery 2: sku: None -> 'SKU-42'"]
    ]
    await _settled(client, pool)
    after = await adjustments.discrepancies(pool, merchant.user_id)
    # The same report of the same count: the same key, so reconcile cannot apply it twice.
    assert [(d.reported_at, d.key) for d in after] == [(d.reported_at, d.key) for d in before]


async def _shopify(client: TestClient, merchant: Merchant, body: Any, topic: str) -> None:
    headers = {"X-Shopify-Topic": topic}
    resp = await client.post(merchant.shopify_orders(), json=body, headers=headers)
    assert resp.status == 200, await resp.text()


async def _catalogue(client: TestClient, merchant: Merchant) -> list[tuple[str, bool]]:
    resp = await client.get("/api/products?limit=100", headers=merchant.auth)
    return [(p["product_ref"], p["deleted_on_platform"]) for p in (await resp.json())["items"]]


async def test_entries_a_correction_adds_to_a_deleted_product_are_deleted_too(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
):
    read = shopify.product_from_json

    def first_variant_only(doc: Any) -> Any:
        right = read(doc)
        return dataclasses.replace(right, variants=right.variants[:1])

    with monkeypatch.context() as planted:
        planted.setattr(shopify, "product_from_json", first_variant_only)
        await _shopify(client, merchant, PRODUCT, "products/create")
        await _shopify(client, merchant, {"id": PRODUCT["id"]}, "products/delete")
    fresh = await create_merchant(pool)
    await _shopify(client, fresh, PRODUCT, "products/create")
    await _shopify(client, fresh, {"id": PRODUCT["id"]}, "products/delete")

    assert len(await reprocess(pool, EventStore(), merchant.user_id)) == 1
    await _settled(client, pool)
    right = await _catalogue(client, fresh)
    assert len(right) == 2 and all(deleted for _, deleted in right)
    assert await _catalogue(client, merchant) == right


async def test_a_delivery_unreadable_now_is_restated_as_recorded_after_a_difference(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
):
    read = woocommerce.product_from_json
    older, newer = _woo_product(12, "2026-08-01T10:00:00"), _woo_product(3, "2026-08-02T10:00:00")
    with monkeypatch.context() as planted:  # the bug: the SKU is dropped
        planted.setattr(
            woocommerce, "product_from_json", lambda doc: dataclasses.replace(read(doc), sku=None)
        )
        for body in (older, newer):
            assert (await client.post(merchant.woo_products(), data=body)).status == 200

    def newer_unreadable(doc: Any) -> Any:
        if doc.get("stock_quantity") == 3:
            raise PayloadError("invalid_field", "stock_quantity", "planted")
        return read(doc)

    monkeypatch.setattr(woocommerce, "product_from_json", newer_unreadable)
    [correction] = await reprocess(pool, EventStore(), merchant.user_id)
    assert correction.differences == ["delivery 2: sku: None -> 'SKU-42'"]
    assert len(correction.unreadable) == 1
    await _settled(client, pool)
    async with pool.acquire() as conn:
        reported = await conn.fetchval(
            "SELECT platform_reported_quantity FROM stock_levels WHERE user_id = $1",
            merchant.user_id,
        )
    assert reported == 3  # the latest report still stands last
    assert await reprocess(pool, EventStore(), merchant.user_id) == []
