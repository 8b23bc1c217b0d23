"""Bulk rebuilds: a projection's bulk loader must build exactly what ``apply`` builds.

A mixed workload (every fixture, Shopify refunds, cancellations, stock adjustments, product
deliveries, generated orders) is built three ways: by the live runner (``compare``), by the
bulk loader in tiny batches (so that levels merge across many batches), and event by event;
all must agree row for row. A loader that fails falls back to the per-event path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from projections.base import Decode, Recorded, StoredRow
from projections.registry import all_projections
from projections.stock import StockProjection
from service import bulk_replay
from service.eventstore import EventStore
from service.projection_schemas import _differences, build, compare
from tests.support import FIXTURES, Merchant, shopify_body, woo_order

# Every projection with a bulk loader is held to the same standard, whoever adds one.
BULK = tuple(type(p) for p in all_projections() if bulk_replay.bulk_loader(p) is not None)

SHOPIFY_PRODUCT = {
    "id": 632910392,
    "title": "IPod Nano - 8GB",
    "product_type": "Cult Products",
    "status": "active",
    "updated_at": "2026-05-01T10:00:00-04:00",
    "variants": [
        {"id": 808950810, "title": "Pink", "sku": "IPOD2008PINK", "inventory_quantity": 10},
        {"id": 49148385, "title": "Red", "sku": "IPOD2008RED", "inventory_quantity": 20},
    ],
}


def _per_event(cls: type) -> Any:
    """The same projection without its bulk loader: ``apply`` overridden, so not trusted."""

    class PerEvent(cls):  # type: ignore[misc, valid-type]
        async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
            await super().apply(conn, batch)

    return PerEvent()


async def _shopify(client: TestClient, merchant: Merchant, name: str, topic: str) -> None:
    body, _ = shopify_body(name)
    headers = {"X-Shopify-Topic": topic}
    assert (await client.post(merchant.shopify_orders(), data=body, headers=headers)).ok


async def _adjust(client: TestClient, merchant: Merchant, ref: str, by: int, key: str) -> None:
    headers = {**merchant.auth, "Idempotency-Key": key}
    body = {"by": by, "reason": f"counted {key}"}
    resp = await client.post(f"/api/stock/{ref}/adjustments", json=body, headers=headers)
    assert resp.status == 201, await resp.text()


async def _mixed_workload(client: TestClient, merchant: Merchant) -> None:
    await _adjust(client, merchant, "woocommerce:42", 5, "before-any-sale")
    await _adjust(client, merchant, "shopify:49148385", 3, "before-the-catalogue")
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-order-*.json")):
        await client.post(merchant.woo_orders(), data=path.read_bytes())
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-product-*.json")):
        await client.post(merchant.woo_products(), data=path.read_bytes())
    shopify = FIXTURES / "shopify"
    for path in sorted(shopify.glob("shopify-order-*.json")):
        topic = "orders/cancelled" if "cancelled" in path.name else "orders/create"
        await _shopify(client, merchant, path.name, topic)
    for path in sorted(shopify.glob("shopify-refund-*.json")):
        await _shopify(client, merchant, path.name, "refunds/create")
    headers = {"X-Shopify-Topic": "products/create"}
    await client.post(merchant.shopify_orders(), json=SHOPIFY_PRODUCT, headers=headers)
    for n in range(24):
        await client.post(merchant.woo_orders(), json=woo_order(700 + n % 12))
        if n % 4 == 0:
            cancelled = woo_order(
                700 + n % 12, "cancelled", date_modified_gmt="2026-07-01T00:00:00"
            )
            await client.post(merchant.woo_orders(), data=json.dumps(cancelled))
        if n % 5 == 0:
            await _adjust(client, merchant, "woocommerce:42", -1 - n, f"shelf-{n}")
    # A later delivery of a product already sold: a new reported count, a new name.
    later = {"id": 794, "name": "Premium Quality, v2", "manage_stock": True, "stock_quantity": 7}
    later["date_modified_gmt"] = "2027-01-01T00:00:00"
    await client.post(merchant.woo_products(), json=later)
    await _adjust(client, merchant, "shopify:808950810", -2, "after-the-catalogue")


async def _bulk_against_per_event(database_url: str, cls: type) -> list[str]:
    store = EventStore()
    bulk_conn, _, bulk_progress = await build(database_url, store, cls(), "bulk_check_a")
    slow_conn, _, _ = await build(database_url, store, _per_event(cls), "bulk_check_b")
    try:
        assert bulk_progress.done > 0
        return await _differences(slow_conn, "bulk_check_a", "bulk_check_b")
    finally:
        for conn, schema in ((bulk_conn, "bulk_check_a"), (slow_conn, "bulk_check_b")):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()


@pytest.mark.parametrize("batch", [bulk_replay.BULK_BATCH, 7])
async def test_bulk_rebuilds_equal_per_event_and_live_ones(
    client: TestClient,
    merchant: Merchant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
):
    await _mixed_workload(client, merchant)
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", batch)
    assert {"stock", "owners"} <= {cls.name for cls in BULK}
    for cls in BULK:
        assert bulk_replay.bulk_loader(cls()) is not None
        assert bulk_replay.bulk_loader(_per_event(cls)) is None
        assert await _bulk_against_per_event(database_url, cls) == [], cls.name
        assert await compare(database_url, EventStore(), cls()) == [], cls.name


class FailingBulkStock(StockProjection):
    """A loader that fails on any batch holding an adjustment: those go event by event."""

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        await super().bulk_load(conn, rows, decode)
        if any(row[3].endswith("StockAdjusted") for row in rows):
            raise ValueError("planted")

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        await super().apply(conn, batch)


async def test_a_failing_bulk_batch_falls_back_to_the_per_event_path(
    client: TestClient, merchant: Merchant, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    await _mixed_workload(client, merchant)
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", 5)
    assert await compare(database_url, EventStore(), FailingBulkStock()) == []
