"""What a backfill makes of the answers it asks for by id and of its scans' times, against
the stand-ins on 127.0.0.1: only a store's own "no such order" marks a sale deleted (a proxy's
404, or WordPress's rest_no_route, is reported and changes nothing), a Shopify order asked
for by id is ingested as the ``order`` member of its answer, and the high-water mark is the
orders scan's alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from aggregates.ids import order_id
from aggregates.order import Order
from aggregates.values import ANSWER_SHA256, ITEM_OFFSET
from service.accounts.connections import StoreConnection
from service.backfill.run import backfill
from service.http.pull import open_source
from service.settings import Settings
from service.store.eventstore import EventStore
from tests.builders import shopify_body
from tests.e2e.http.test_live_backfill import SINCE, _raw
from tests.e2e.http.test_live_backfill_http import KEY, POLICY, SECRET, _connection, _live_day
from tests.e2e.http.test_live_store import _sales
from tests.standins.common import Fault
from tests.standins.shopify import ShopifyStandIn
from tests.standins.woocommerce import WooCommerceStandIn, fixture
from tests.support import create_merchant, projections_caught_up

TOKEN = "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"
HTML_404 = b"<html><body><h1>404 Not Found</h1>nginx</body></html>"
ORDER_25 = "/wp-json/wc/v3/orders/25"


async def _checkpoints(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM backfill_checkpoints"))


async def test_only_the_store_s_own_invalid_id_404_marks_a_sale_deleted(
    client: TestClient, pool: asyncpg.Pool, database_url: str, settings: Settings
):
    merchant = await _live_day(client, pool, database_url)
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    try:
        connection = _connection(merchant, standin.url)
        for body in (fixture("041"), HTML_404):  # rest_no_route; a proxy's page
            standin.fail_matching(lambda r: r.path == ORDER_25, Fault(404, body=body))
            lines: list[str] = []
            async with open_source(connection, settings, policy=POLICY) as source:
                summary = await backfill(
                    *(pool, EventStore(), settings, connection, source),
                    since=SINCE,
                    progress=lines.append,
                )
            await projections_caught_up(pool)
            assert summary.marked_deleted == 0  # the run went on, and ended
            assert any("order 25:" in line and "HTTP 404" in line for line in lines), lines
            assert (await _sales(client, merchant))["25"]["deleted_on_platform"] is False
            assert await _checkpoints(pool) == 0
        async with open_source(connection, settings, policy=POLICY) as source:
            summary = await backfill(pool, EventStore(), settings, connection, source, since=SINCE)
        await projections_caught_up(pool)
        assert summary.marked_deleted == 1  # the store's own invalid-id answer (026)
        assert (await _sales(client, merchant))["25"]["deleted_on_platform"] is True
    finally:
        await standin.close()


async def test_a_shopify_sale_the_scans_missed_is_looked_up_and_its_order_member_ingested(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "lookup")
    for name in ("450789469", "eur-custom-items"):
        body, _ = shopify_body(f"shopify-order-shopify-rest-example-{name}.json")
        answer = await client.post(
            merchant.shopify_orders(), data=body, headers={"X-Shopify-Topic": "orders/create"}
        )
        assert (await answer.json())["status"] == "recorded"
    await projections_caught_up(pool)
    standin = ShopifyStandIn(TOKEN, version=settings.shopify_api_version)
    standin.orders = [o for o in standin.orders if o.id != 1073459976]  # deleted for good
    await standin.start()
    try:
        connection = StoreConnection(
            *(merchant.user_id, "shopify", standin.url, None, TOKEN), None, None, None, 0
        )
        recent = datetime.now(UTC) - timedelta(minutes=5)  # the scans return neither order
        async with open_source(connection, settings, policy=POLICY) as source:
            summary = await backfill(pool, EventStore(), settings, connection, source, since=recent)
        await projections_caught_up(pool)
        assert (summary.updated, summary.marked_deleted) == (1, 1)
        sales = await _sales(client, merchant)
        assert sales["450789469"]["status"] == "cancelled"  # the store's newer version
        assert sales["1073459976"]["deleted_on_platform"] is True
        async with pool.acquire() as conn:
            events = await EventStore().load(
                conn, order_id(merchant.user_id, "shopify", "450789469")
            )
        [receipt] = [
            e for e in events if isinstance(e, Order.OrderReceived) and e.topic == "backfill"
        ]
        answer = await _raw(pool, receipt.headers[ANSWER_SHA256])
        body = await _raw(pool, receipt.body_sha256)
        at = int(receipt.headers[ITEM_OFFSET])
        assert answer.startswith(b'{"order":') and at == len(b'{"order":')
        assert answer[at : at + len(body)] == body
        async with pool.acquire() as conn:
            events = await EventStore().load(
                conn, order_id(merchant.user_id, "shopify", "1073459976")
            )
        assert any(isinstance(e, Order.PlatformDeletionFound) for e in events)
    finally:
        await standin.close()


async def test_the_high_water_mark_is_the_orders_scan_s_newest_change(
    pool: asyncpg.Pool, settings: Settings
):
    merchant = await create_merchant(pool, "mark")
    standin = WooCommerceStandIn(KEY, SECRET)
    standin.trash_order(20)  # trashed at 08:58:00; the trash scan has no window
    await standin.start()
    try:
        connection = _connection(merchant, standin.url)
        until = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # before 29-31 and the products
        async with open_source(connection, settings, policy=POLICY) as source:
            summary = await backfill(
                *(pool, EventStore(), settings, connection, source), since=SINCE, until=until
            )
        assert summary.high_water == datetime(2026, 12, 1, 8, 9, 57, tzinfo=UTC)  # order 24
    finally:
        await standin.close()
