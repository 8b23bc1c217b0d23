"""Issue #13, done when 1 and 2: the real store's day replayed, then a backfill from its REST
answers (``woocommerce-rest/``) finds the second day's three orders no webhook delivered and
order 25, deleted for good without a word; and the other way round (the backfill first, the
webhooks after) ends in the same ledger.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from aggregates.ids import order_id
from aggregates.order import Order
from aggregates.values import ANSWER_SHA256, ITEM_OFFSET, PULLED_URL
from projections.lookup import LookupProjection
from projections.products import ProductsProjection
from projections.sales import SalesProjection
from projections.stock import StockProjection
from service.backfill.run import backfill
from service.backfill.summary import BackfillSummary
from service.settings import Settings
from service.store.eventstore import EventStore
from tests.e2e.http.test_live_store import (
    ORDERS,
    REST,
    _catalogue,
    _deliver,
    _get,
    _ledger,
    _live_merchant,
    _open,
    _sales,
    _stock,
)
from tests.rest_fixtures import STORE_URL, FixtureSource, store_connection
from tests.support import Merchant, bulk_against_per_event, ledger, projections_caught_up

SINCE = datetime(2026, 11, 30, tzinfo=UTC)
NEW = {"29": "20.00", "30": "25.00", "31": "40.00"}
MOVED = {"11": -1, "14": -2, "16": -1, "12": -1, "17": -1}


async def _backfill(
    pool: asyncpg.Pool, settings: Settings, merchant: Merchant, source: FixtureSource
) -> BackfillSummary:
    summary = await backfill(
        pool, EventStore(), settings, store_connection(merchant.user_id), source, since=SINCE
    )
    await projections_caught_up(pool)
    return summary


async def _events(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM stored_events"))


async def _receipts(pool: asyncpg.Pool, merchant: Merchant, external_id: str) -> list[Any]:
    async with pool.acquire() as conn:
        events = await EventStore().load(
            conn, order_id(merchant.user_id, "woocommerce", external_id)
        )
    return [e for e in events if isinstance(e, Order.OrderReceived) and e.topic == "backfill"]


async def _raw(pool: asyncpg.Pool, sha256: str) -> bytes:
    async with pool.acquire() as conn:
        return bytes(
            await conn.fetchval("SELECT body FROM raw_deliveries WHERE sha256 = $1", sha256)
        )


def _levels(stock: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {pid: item["quantity"] for pid, item in stock.items()}


async def test_a_backfill_after_the_live_day_finds_what_no_webhook_said(
    client: TestClient, pool: asyncpg.Pool, database_url: str, settings: Settings
):
    merchant = await _live_merchant(pool)
    await _open(client, merchant, database_url)
    for d in REST:
        await _deliver(client, merchant, d)
    await projections_caught_up(pool)
    before_sales, before_stock = await _sales(client, merchant), await _stock(client, merchant)
    assert "25" in before_sales and not NEW.keys() & before_sales.keys()

    source = FixtureSource()
    summary = await _backfill(pool, settings, merchant, source)
    assert (summary.new_sales, summary.marked_deleted, summary.marked_trash) == (3, 1, 0)
    assert summary.pages == 4 + 1 + 1 + 1  # the orders, the trash, products, variations
    assert summary.high_water == datetime(2026, 12, 1, 8, 57, 40, tzinfo=UTC)
    assert ("order", "25") in source.calls  # the only live sale the scans did not return
    assert [c for c in source.calls if c[0] == "order"] == [("order", "25")]

    sales, stock = await _sales(client, merchant), await _stock(client, merchant)
    for oid, total in NEW.items():
        assert (sales[oid]["status"], sales[oid]["total"]) == ("sale", total), oid
        assert sales[oid]["platform_status"] == "processing"
    levels, earlier = _levels(stock), _levels(before_stock)
    assert {p: levels[p] - earlier[p] for p in levels if levels[p] != earlier[p]} == MOVED
    gone = sales["25"]
    assert (gone["platform_status"], gone["deleted_on_platform"]) == ("deleted", True)
    assert gone["status"] == before_sales["25"]["status"] == "sale"
    assert gone["lines"] == before_sales["25"]["lines"]  # and no stock moved for it
    fields = ("status", "platform_status", "total", "refunded", "net_total", "lines", "refunds")
    for oid in ORDERS:
        assert {f: sales[oid][f] for f in fields} == {f: before_sales[oid][f] for f in fields}
        assert sales[oid]["deleted_on_platform"] is before_sales[oid]["deleted_on_platform"]
    # The platform's own counts, refreshed: 14 is 48 on the store after order 29 took two.
    assert (
        stock["14"]["platform_reported_quantity"],
        stock["16"]["platform_reported_quantity"],
    ) == (48, 7)

    # The deletion's evidence: the request and the store's 404, its body kept.
    async with pool.acquire() as conn:
        events = await EventStore().load(conn, order_id(merchant.user_id, "woocommerce", "25"))
    [found] = [e for e in events if isinstance(e, Order.PlatformDeletionFound)]
    assert (found.method, found.url, found.status) == (
        "GET",
        f"{STORE_URL}/wp-json/wc/v3/orders/25",
        404,
    )
    assert hashlib.sha256(await _raw(pool, found.body_sha256)).hexdigest() == found.body_sha256
    assert b"woocommerce_rest_shop_order_invalid_id" in await _raw(pool, found.body_sha256)
    after = events[events.index(found) :]
    assert not [e for e in after if isinstance(e, Order.StockRestored | Order.StockDeducted)]

    # Each backfilled order's receipt is a slice of an answer kept whole.
    for oid in NEW:
        [receipt] = await _receipts(pool, merchant, oid)
        assert receipt.verification == "pulled_via_api"
        answer = await _raw(pool, receipt.headers[ANSWER_SHA256])
        assert hashlib.sha256(answer).hexdigest() == receipt.headers[ANSWER_SHA256]
        body = await _raw(pool, receipt.body_sha256)
        at = int(receipt.headers[ITEM_OFFSET])
        assert answer[at : at + len(body)] == body
        assert hashlib.sha256(body).hexdigest() == receipt.body_sha256
        assert receipt.headers[PULLED_URL].startswith(f"{STORE_URL}/wp-json/wc/v3/orders?")

    # The lookup shows it too, and a rebuild of each read model gives what was applied live.
    async with pool.acquire() as conn:
        shown = await conn.fetchval(
            "SELECT platform_status FROM order_lookup WHERE order_id = $1",
            order_id(merchant.user_id, "woocommerce", "25"),
        )
    assert shown == "deleted"
    for cls in (SalesProjection, LookupProjection, StockProjection, ProductsProjection):
        assert await bulk_against_per_event(database_url, cls) == [], cls.name

    # The audit trail of a backfilled sale names its pulled receipt and checks its bytes,
    # and order 25's shows the deletion found after its sale.
    trace = await _get(client, merchant, f"/api/sales/{sales['29']['sale_id']}/trace")
    receipt = trace["receipt"]
    assert (receipt["topic"], receipt["verification"], receipt["sha256_verified"]) == (
        "backfill",
        "pulled_via_api",
        True,
    )
    trace = await _get(client, merchant, f"/api/sales/{gone['sale_id']}/trace")
    assert [e["event"] for e in trace["events"]][-3:] == [
        "OrderReceived",
        "PlatformDeletionFound",
        "SaleStatusChanged",
    ]

    # Re-read by the current code, the pulled receipts (the 404's too) mean what they did.
    code, out, err = await ledger(database_url, "reprocess", "--user", merchant.name)
    assert code == 0 and "nothing to correct" in out, out + err

    # A second run appends nothing.
    head = await _events(pool)
    again = await _backfill(pool, settings, merchant, FixtureSource())
    assert await _events(pool) == head
    assert (again.new_sales, again.updated, again.marked_deleted) == (0, 0, 0)
    assert again.unchanged == 10


async def test_the_webhooks_after_the_backfill_end_in_the_same_ledger(
    client: TestClient, pool: asyncpg.Pool, database_url: str, settings: Settings
):
    webhooks_first = await _live_merchant(pool)
    await _open(client, webhooks_first, database_url)
    for d in REST:
        await _deliver(client, webhooks_first, d)
    await projections_caught_up(pool)
    await _backfill(pool, settings, webhooks_first, FixtureSource())

    backfill_first = await _live_merchant(pool)
    await _open(client, backfill_first, database_url)
    await _backfill(pool, settings, backfill_first, FixtureSource())
    for d in REST:
        await _deliver(client, backfill_first, d)
    await projections_caught_up(pool)
    # Order 25 came by webhook after the backfill looked: the next backfill finds it gone.
    summary = await _backfill(pool, settings, backfill_first, FixtureSource())
    assert (summary.new_sales, summary.marked_deleted) == (0, 1)

    expected = _ledger(await _stock(client, webhooks_first), await _sales(client, webhooks_first))
    got = _ledger(await _stock(client, backfill_first), await _sales(client, backfill_first))
    for pid, item in expected["stock"].items():
        differ = {
            k: (v, got["stock"][pid][k]) for k, v in item.items() if got["stock"][pid][k] != v
        }
        assert not differ, (pid, differ)
    assert got == expected
    assert await _catalogue(client, backfill_first) == await _catalogue(client, webhooks_first)
