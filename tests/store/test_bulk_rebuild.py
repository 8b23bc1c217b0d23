"""Bulk rebuilds: a projection's bulk loader must build exactly what ``apply`` builds.

A mixed workload (every fixture, the real store's day, Shopify refunds, cancellations, stock
adjustments, product deliveries and their reports out of order, generated orders) is built
three ways: by the live runner (``compare``), by the
bulk loader in tiny batches (so that levels merge across many batches), and event by event;
all must agree row for row. A loader that fails falls back to the per-event path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from aggregates.order import Order
from aggregates.values import Delivery
from projections import sales_bulk
from projections.base import Decode, Recorded, StoredRow
from projections.registry import all_projections
from projections.sales import SalesProjection
from projections.stock import StockProjection
from service.adapters.woocommerce import order_from_json
from service.projecting import bulk_replay
from service.projecting.rebuild import _differences, build, compare
from service.store.eventstore import EventStore
from tests.support import FIXTURES, Merchant, live_day, shopify_body, woo_order

# Every projection with a bulk loader is held to the same standard, whoever adds one.
BULK = tuple(type(p) for p in all_projections() if bulk_replay.bulk_loader(p) is not None)
BATCH = bulk_replay.BULK_BATCH

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
    body = {"by": by, "reason": f"counted {key}", "create": True}
    resp = await client.post(f"/api/stock/{ref}/adjustments", json=body, headers=headers)
    assert resp.status == 201, await resp.text()


async def _woo(
    client: TestClient, merchant: Merchant, body: dict[str, Any], topic: str | None = None
) -> None:
    headers = {"X-WC-Webhook-Topic": topic} if topic else {}
    resp = await client.post(merchant.woo_orders(), json=body, headers=headers)
    assert resp.status == 200, await resp.text()


def _june(day: int) -> str:
    return f"2026-06-{day:02d}T00:00:00"


async def _sale_lifecycles(client: TestClient, merchant: Merchant) -> None:
    """What the sales projection folds: amendments, status changes, refunds and deletion
    marks, before and after the order is a sale."""
    # Amended (the customer's email, then a line's quantity), completed, then refunded.
    email = {"first_name": "Ana", "last_name": "Ruiz", "email": "ana.ruiz@example.com"}
    await _woo(client, merchant, woo_order(800, date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(800, billing=email, date_modified_gmt=_june(2)))
    more = woo_order(800, billing=email, date_modified_gmt=_june(3))
    more["line_items"][0]["quantity"] = 3
    await _woo(client, merchant, more)
    refunds = [{"id": 81, "total": "-2.50"}]
    done = {**more, "status": "completed", "date_modified_gmt": _june(4), "refunds": refunds}
    await _woo(client, merchant, done)
    # Deleted on the platform, then restored; deleted before it is an order; deleted after.
    await _woo(client, merchant, woo_order(801, date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 801}, "order.deleted")
    await _woo(client, merchant, woo_order(801, date_modified_gmt=_june(5)), "order.restored")
    await _woo(client, merchant, {"id": 802}, "order.deleted")
    await _woo(client, merchant, woo_order(802, "completed", date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(803, date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 803}, "order.deleted")
    # In the trash, then a late older snapshot: the sale's platform status stays the trash,
    # whatever the last receipt said; an order that is no sale shows its last receipt's.
    await _woo(client, merchant, woo_order(804, "completed", date_modified_gmt=_june(5)))
    await _woo(client, merchant, {"id": 804}, "order.deleted")
    await _woo(client, merchant, woo_order(804, date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(805, "pending", date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 805}, "order.deleted")


async def _shopify_refund_before_its_order(client: TestClient, merchant: Merchant) -> None:
    _, refund = shopify_body("shopify-refund-shopify-rest-example-shipping-only.json")
    order, _ = shopify_body("shopify-order-shopify-rest-example-eur-custom-items.json")
    refund["order_id"] = json.loads(order)["id"]
    body = json.dumps(refund, default=str).encode()
    headers = {"X-Shopify-Topic": "refunds/create"}
    assert (await client.post(merchant.shopify_orders(), data=body, headers=headers)).ok


async def _reports_out_of_order(client: TestClient, merchant: Merchant) -> None:
    """Product reports late, older, without a time, untracked: the newest by the platform's
    clock is kept, and a timeless one replaces and is replaced by any. Each product's last
    report is kept out, so what is kept depends on every rule."""
    reports = {
        5000: [
            (20, "2026-09-01T10:05:00", True),
            (30, "2026-09-01T10:00:00", True),  # older: kept out
            (25, None, True),  # no time: replaces
            (31, "2026-09-01T09:00:00", True),  # replaces the timeless one
            (40, "2026-09-01T09:30:00", True),
            (41, "2026-09-01T09:10:00", True),  # older: kept out
        ],
        5002: [
            (7, "2026-09-01T10:00:00", True),
            (None, "2026-09-01T11:00:00", False),  # no longer counted
            (8, "2026-09-01T10:30:00", True),  # older: kept out
        ],
    }
    for pid, sequence in reports.items():
        for n, (count, modified, managed) in enumerate(sequence):
            body: dict[str, Any] = {"id": pid, "name": f"Jar v{n}", "type": "simple"}
            body.update(manage_stock=managed, stock_quantity=count)
            if modified is not None:
                body["date_modified_gmt"] = modified
            assert (await client.post(merchant.woo_products(), json=body)).status == 200
            if n == 2:
                line = {"id": 1, "product_id": pid, "quantity": 3, "total": "3.00"}
                order = woo_order(pid + 1, line_items=[line])
                assert (await client.post(merchant.woo_orders(), json=order)).status == 200


async def _live_day(client: TestClient, merchant: Merchant) -> None:
    for d in live_day():
        resp = await client.post(d.path(merchant), data=d.body, headers=d.headers)
        assert resp.status == 200, await resp.text()


async def _mixed_workload(client: TestClient, merchant: Merchant) -> None:
    await _adjust(client, merchant, "woocommerce:42", 5, "before-any-sale")
    await _shopify_refund_before_its_order(client, merchant)
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
    await _sale_lifecycles(client, merchant)
    await _reports_out_of_order(client, merchant)
    await _live_day(client, merchant)


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


def _fell_back(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The projections whose bulk loader gave a batch up to the per-event path."""
    return {
        r.getMessage().split(":")[0].removeprefix("projection ")
        for r in caplog.records
        if r.name == bulk_replay.__name__ and "bulk load of events" in r.getMessage()
    }


# Batches of every size (one event each: every change lands on rows of earlier batches), and
# sales chunks so small that sales made in one chunk change in the next ones of the batch.
@pytest.mark.parametrize(
    ("batch", "chunk"),
    [(BATCH, sales_bulk.CHUNK), (7, sales_bulk.CHUNK), (1, sales_bulk.CHUNK), (BATCH, 3)],
)
async def test_bulk_rebuilds_equal_per_event_and_live_ones(
    client: TestClient,
    merchant: Merchant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: int,
    chunk: int,
):
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    await _mixed_workload(client, merchant)
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", batch)
    monkeypatch.setattr(sales_bulk, "CHUNK", chunk)
    assert {"stock", "owners", "sales"} <= {cls.name for cls in BULK}
    for cls in BULK:
        assert bulk_replay.bulk_loader(cls()) is not None
        assert bulk_replay.bulk_loader(_per_event(cls)) is None
        assert await _bulk_against_per_event(database_url, cls) == [], cls.name
        assert await compare(database_url, EventStore(), cls()) == [], cls.name
    # Equal tables prove little if the per-event path built them.
    assert not _fell_back(caplog) & {"sales", "stock", "lookup"}
    if batch == BATCH:  # and a rebuild of those without a loader is what the runner made
        for projection in all_projections():
            assert await compare(database_url, EventStore(), projection) == [], projection.name


async def test_a_sale_whose_receipt_is_missing_is_set_aside_as_apply_does(
    client: TestClient,
    merchant: Merchant,
    pool: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    """A SaleRecorded naming a receipt that is not in the log fails its bulk batch, and the
    per-event path sets it aside, as the live runner does."""
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    await _woo(client, merchant, woo_order(900))
    order = Order.open(merchant.user_id, "woocommerce", "901")
    delivery = Delivery(None, None, None, None, None, {}, datetime.now(UTC), "unverified", "ab")
    order.receive(delivery, order_from_json(woo_order(901)))
    lost = [e for e in order.collect_events() if not isinstance(e, Order.OrderReceived)]
    async with pool.acquire() as conn, conn.transaction():
        await EventStore().append(conn, lost)
    await _woo(client, merchant, woo_order(902))
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", 3)
    assert await _bulk_against_per_event(database_url, SalesProjection) == []
    assert await compare(database_url, EventStore(), SalesProjection()) == []
    assert _fell_back(caplog) == {"sales"}
    assert "(LookupError)" in caplog.text


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
