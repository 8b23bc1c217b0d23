"""The backfill engine against the real store's REST answers (a stand-in Source): a run
stopped midway resumes where it stopped and records everything once, a dry run appends
nothing, the trash scan marks what the webhooks never told, a sale the scans missed is
asked for by id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from aggregates.ids import order_id
from aggregates.order import Order
from service.backfill import checkpoint
from service.backfill.run import backfill
from service.backfill.source import Page, SourceUnavailable
from service.backfill.summary import BackfillSummary
from service.settings import Settings
from service.store.eventstore import EventStore
from tests.builders import shopify_body
from tests.e2e.http.test_live_store import _ledger, _sales, _stock
from tests.rest_fixtures import (
    DAY2_ORDERS,
    FixtureSource,
    array_items,
    exchange,
    store_connection,
)
from tests.support import Merchant, create_merchant, projections_caught_up

SINCE = datetime(2026, 11, 30, tzinfo=UTC)
SCANNED = ["19", "20", "21", "22", "23", "24", "26", "29", "30", "31"]


async def _run(
    pool: asyncpg.Pool,
    settings: Settings,
    merchant: Merchant,
    source: FixtureSource,
    **options: Any,
) -> BackfillSummary:
    summary = await backfill(
        pool,
        EventStore(),
        settings,
        store_connection(merchant.user_id),
        source,
        since=SINCE,
        **options,
    )
    await projections_caught_up(pool)
    return summary


_COUNT = {
    "stored_events": "SELECT count(*) FROM stored_events",
    "raw_deliveries": "SELECT count(*) FROM raw_deliveries",
    "backfill_checkpoints": "SELECT count(*) FROM backfill_checkpoints",
    "inbox": "SELECT count(*) FROM inbox",
}


async def _count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(_COUNT[table]))


async def _backfill_receipts(pool: asyncpg.Pool, merchant: Merchant, external_id: str) -> int:
    async with pool.acquire() as conn:
        events = await EventStore().load(
            conn, order_id(merchant.user_id, "woocommerce", external_id)
        )
    return len([e for e in events if isinstance(e, Order.OrderReceived) and e.topic == "backfill"])


async def test_a_run_stopped_midway_resumes_from_its_last_committed_page(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    stopped = await create_merchant(pool, "stopped")
    with pytest.raises(SourceUnavailable):
        await _run(pool, settings, stopped, FixtureSource(fail_after=2))
    async with pool.acquire() as conn:
        saved = await checkpoint.load(conn, stopped.user_id, "woocommerce")
    assert saved is not None and (saved.scan, saved.page, saved.since) == ("orders", "3", SINCE)
    assert saved.seen == {"26", "19", "20", "21", "22", "23"}

    resumed = FixtureSource()
    summary = await _run(pool, settings, stopped, resumed)
    assert resumed.calls[0] == ("orders", SINCE, None, "3")  # the page it had not committed
    assert summary.new_sales == 4  # 24, 29, 30, 31: the first six were recorded before the stop
    async with pool.acquire() as conn:
        assert await checkpoint.load(conn, stopped.user_id, "woocommerce") is None
    for oid in SCANNED:
        assert await _backfill_receipts(pool, stopped, oid) == 1, oid

    whole = await create_merchant(pool, "whole")
    await _run(pool, settings, whole, FixtureSource())
    assert _ledger(await _stock(client, stopped), await _sales(client, stopped)) == _ledger(
        await _stock(client, whole), await _sales(client, whole)
    )


async def test_a_dry_run_appends_nothing_and_says_what_would_change(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "dry")
    events, raw = await _count(pool, "stored_events"), await _count(pool, "raw_deliveries")
    lines: list[str] = []
    dry = await _run(pool, settings, merchant, FixtureSource(), dry_run=True, progress=lines.append)
    assert (await _count(pool, "stored_events"), await _count(pool, "raw_deliveries")) == (
        events,
        raw,
    )
    assert await _count(pool, "backfill_checkpoints") == 0
    assert "would record order 29: recorded" in lines
    assert any(line.startswith("orders: page 4, 1 items;") for line in lines)
    assert dry.dry_run and dry.new_sales == 10

    real = await _run(pool, settings, merchant, FixtureSource())
    assert (real.new_sales, real.updated, real.unchanged, real.products) == (
        dry.new_sales,
        dry.updated,
        dry.unchanged,
        dry.products,
    )
    assert "would be marked deleted" in dry.lines()[0]


async def test_the_trash_scan_marks_an_order_as_a_deletion_notice_does(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "trash")
    await _run(pool, settings, merchant, FixtureSource())
    before = await _stock(client, merchant)
    trashed = FixtureSource(trash=("055-trash-orders-status-trash",))
    summary = await _run(pool, settings, merchant, trashed)
    assert (summary.marked_trash, summary.marked_deleted, summary.new_sales) == (1, 0, 0)
    sale = (await _sales(client, merchant))["20"]
    assert (sale["platform_status"], sale["deleted_on_platform"]) == ("trash", True)
    assert await _stock(client, merchant) == before
    head = await _count(pool, "stored_events")
    again = await _run(pool, settings, merchant, FixtureSource(trash=trashed.trash))
    assert (await _count(pool, "stored_events"), again.marked_trash) == (head, 0)


@dataclass
class _Missing(FixtureSource):
    """The order scan leaves one order out (as a scan racing an edit may)."""

    left_out: str = "23"

    async def _pages(self, names: tuple[str, ...], start: str | None) -> Any:
        async for page in super()._pages(names, start):
            gone = b'{"id":' + self.left_out.encode() + b","
            items = [i for i in page.items if not i.startswith(gone)]
            yield Page(page.exchange, items, page.next)


async def test_a_live_sale_the_scans_missed_is_asked_for_and_kept_when_it_exists(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "missed")
    await _run(pool, settings, merchant, FixtureSource())
    expected = _ledger(await _stock(client, merchant), await _sales(client, merchant))
    source = _Missing(lookups={"23": "024-order-23"})
    summary = await _run(pool, settings, merchant, source)
    assert [c for c in source.calls if c[0] == "order"] == [("order", "23")]
    assert summary.marked_deleted == 0
    assert _ledger(await _stock(client, merchant), await _sales(client, merchant)) == expected


@dataclass
class _Odd(FixtureSource):
    """One answer holding an order the adapter refuses, beside a good one."""

    async def _pages(self, names: tuple[str, ...], start: str | None) -> Any:
        if names is not self.orders:
            async for page in super()._pages(names, start):
                yield page
            return
        good = exchange("046-day2-orders-modified-after")
        odd = b'{"id":77,"status":"processing","line_items":"none","total":"1.00"}'
        body = b"[" + odd + b"," + good.body[1:]
        yield Page(replace(good, body=body), [odd, *array_items(good.body)], None)


async def test_an_order_the_adapter_refuses_is_reported_and_the_others_recorded(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "odd")
    inbox = await _count(pool, "inbox")
    lines: list[str] = []
    summary = await _run(pool, settings, merchant, _Odd(), progress=lines.append)
    assert (summary.new_sales, summary.unchanged) == (3, 1)
    assert any("order at byte 1 of http://" in line and "line_items" in line for line in lines), (
        lines
    )
    assert await _count(pool, "inbox") == inbox  # the next backfill pulls it again
    assert set(await _sales(client, merchant)) == {"29", "30", "31"}


@dataclass
class _Shopify(FixtureSource):
    """A Shopify store answering ``orders.json`` with one order, its webhook's own shape."""

    body: bytes = b""
    platform: str = "shopify"

    async def _pages(self, names: tuple[str, ...], start: str | None) -> Any:
        if names is self.orders:
            answer = replace(
                exchange(DAY2_ORDERS[0]),
                url="https://shop-1.myshopify.com/admin/api/2025-07/orders.json?status=any",
                body=b'{"orders":[' + self.body + b"]}",
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            yield Page(answer, [self.body], None)


async def test_a_shopify_order_pulled_then_delivered_is_recorded_once(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "shopify")
    body, doc = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    connection = replace(
        store_connection(merchant.user_id),
        platform="shopify",
        base_url="https://shop-1.myshopify.com",
        key=None,
    )
    source = _Shopify(body=body)
    summary = await backfill(pool, EventStore(), settings, connection, source, since=SINCE)
    await projections_caught_up(pool)
    assert (summary.new_sales, summary.products, summary.pages) == (1, 0, 1)
    assert summary.high_water is not None  # the order's updated_at, capped at the run's start
    sale = (await _sales(client, merchant))[str(doc["id"])]
    assert sale["total"] == str(doc["total_price"])

    head = await _count(pool, "stored_events")
    answer = await client.post(
        merchant.shopify_orders(), data=body, headers={"X-Shopify-Topic": "orders/create"}
    )
    assert (await answer.json())["status"] == "duplicate"  # the same bytes, pulled first
    again = await backfill(
        pool, EventStore(), settings, connection, _Shopify(body=body), since=SINCE
    )
    assert (await _count(pool, "stored_events"), again.unchanged) == (head, 1)


async def test_a_run_stopped_between_scans_resumes_at_the_next_one(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "between")
    with pytest.raises(SourceUnavailable):
        await _run(pool, settings, merchant, FixtureSource(fail_after=4))  # the orders' 4
    async with pool.acquire() as conn:
        saved = await checkpoint.load(conn, merchant.user_id, "woocommerce")
    assert saved is not None and (saved.scan, saved.page) == ("trash", None)
    resumed = FixtureSource()
    summary = await _run(pool, settings, merchant, resumed)
    assert resumed.calls[0] == ("trash", None)  # the orders are not read again
    assert (summary.new_sales, summary.products) == (0, 6)
    assert len(await _sales(client, merchant)) == 10
