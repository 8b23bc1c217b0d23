"""Issue #13's done-when, through HTTP: the live day replayed, then a backfill by the real
WooCommerce client (OAuth-signed requests) from the stand-in serving the store's captured
answers (tests/standins/woocommerce.py), with the store's faults on the way: a 429 and 5xx
answers waited out, refused credentials ending the run, a run cut midway resumed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from aggregates.ids import order_id
from aggregates.order import Order
from aggregates.values import ANSWER_SHA256, ITEM_OFFSET, PULLED_URL
from service.accounts.connections import StoreConnection
from service.backfill.run import backfill
from service.backfill.source import CredentialsRejected, SourceUnavailable
from service.backfill.summary import BackfillSummary
from service.http.pull import open_source
from service.http.pull.transport import RetryPolicy
from service.settings import Settings
from service.store.eventstore import EventStore
from tests.e2e.http.test_live_backfill import MOVED, NEW, SINCE, _events, _levels, _raw, _receipts
from tests.e2e.http.test_live_store import (
    ORDERS,
    REST,
    _deliver,
    _live_merchant,
    _open,
    _sales,
    _stock,
)
from tests.standins.common import server_error, too_many_requests
from tests.standins.woocommerce import WooCommerceStandIn, fixture
from tests.support import Merchant, projections_caught_up

KEY = "ck_5e1f00d5e1f00d5e1f00d5e1f00d5e1f00d5e1f0"
SECRET = "cs_0ddba11c0ddba11c0ddba11c0ddba11c0ddba11c"
POLICY = RetryPolicy(retries=3, backoff_base=0.02, backoff_cap=0.1, retry_after_cap=5, timeout=5)


def _connection(merchant: Merchant, url: str, secret: str = SECRET) -> StoreConnection:
    return StoreConnection(
        user_id=merchant.user_id,
        platform="woocommerce",
        base_url=url,
        key=KEY,
        secret=secret,
        high_water=None,
        last_run_at=None,
        last_error=None,
        failures=0,
    )


async def _pull(
    pool: asyncpg.Pool, settings: Settings, connection: StoreConnection
) -> BackfillSummary:
    async with open_source(connection, settings, policy=POLICY) as source:
        summary = await backfill(pool, EventStore(), settings, connection, source, since=SINCE)
    await projections_caught_up(pool)
    return summary


async def _live_day(client: TestClient, pool: asyncpg.Pool, database_url: str) -> Merchant:
    merchant = await _live_merchant(pool)
    await _open(client, merchant, database_url)
    for d in REST:
        await _deliver(client, merchant, d)
    await projections_caught_up(pool)
    return merchant


def _pages_asked(standin: WooCommerceStandIn, path: str) -> list[str]:
    found = []
    for r in standin.requests:
        parts = urlsplit(r.path_qs)
        if parts.path == path and "status" not in parse_qs(parts.query):
            found.append(parse_qs(parts.query)["page"][0])
    return found


async def test_a_backfill_over_http_finds_what_no_webhook_said_despite_the_store_s_faults(
    client: TestClient, pool: asyncpg.Pool, database_url: str, settings: Settings
):
    merchant = await _live_day(client, pool, database_url)
    before_sales, before_stock = await _sales(client, merchant), await _stock(client, merchant)
    standin = WooCommerceStandIn(KEY, SECRET, page_cap=3)
    await standin.start()
    try:
        standin.fail_next(too_many_requests("1"), server_error(503), server_error(502))
        summary = await _pull(pool, settings, _connection(merchant, standin.url))
        assert (summary.new_sales, summary.marked_deleted, summary.marked_trash) == (3, 1, 0)
        assert standin.requests[1].at - standin.requests[0].at >= 0.95  # Retry-After: 1
        assert _pages_asked(standin, "/wp-json/wc/v3/orders") == ["1"] * 4 + ["2", "3", "4"]

        sales, stock = await _sales(client, merchant), await _stock(client, merchant)
        for oid, total in NEW.items():
            assert (sales[oid]["status"], sales[oid]["total"]) == ("sale", total), oid
        levels, earlier = _levels(stock), _levels(before_stock)
        assert {p: levels[p] - earlier[p] for p in levels if levels[p] != earlier[p]} == MOVED
        assert (sales["25"]["platform_status"], sales["25"]["deleted_on_platform"]) == (
            "deleted",
            True,
        )
        fields = ("status", "platform_status", "total", "refunded", "net_total", "lines")
        for oid in ORDERS:
            assert {f: sales[oid][f] for f in fields} == {f: before_sales[oid][f] for f in fields}

        async with pool.acquire() as conn:
            events = await EventStore().load(conn, order_id(merchant.user_id, "woocommerce", "25"))
        [found] = [e for e in events if isinstance(e, Order.PlatformDeletionFound)]
        assert (found.url, found.status) == (f"{standin.url}/wp-json/wc/v3/orders/25", 404)
        assert await _raw(pool, found.body_sha256) == fixture("026")  # the store's own bytes
        for oid in NEW:
            [receipt] = await _receipts(pool, merchant, oid)
            answer = await _raw(pool, receipt.headers[ANSWER_SHA256])
            body = await _raw(pool, receipt.body_sha256)
            at = int(receipt.headers[ITEM_OFFSET])
            assert answer[at : at + len(body)] == body
            assert "oauth" not in receipt.headers[PULLED_URL] and SECRET not in str(receipt)

        head = await _events(pool)
        again = await _pull(pool, settings, _connection(merchant, standin.url))
        assert await _events(pool) == head
        assert (again.new_sales, again.updated, again.marked_deleted) == (0, 0, 0)
    finally:
        await standin.close()


async def test_refused_credentials_end_the_run_and_a_cut_run_resumes_from_its_page(
    client: TestClient, pool: asyncpg.Pool, database_url: str, settings: Settings
):
    merchant = await _live_day(client, pool, database_url)
    standin = WooCommerceStandIn(KEY, SECRET, page_cap=3)
    await standin.start()
    try:
        with pytest.raises(CredentialsRejected) as refused:
            await _pull(pool, settings, _connection(merchant, standin.url, "cs_wrong"))
        assert "ck_5e1f\u2026" in str(refused.value) and "cs_wrong" not in str(refused.value)

        orders = "/wp-json/wc/v3/orders"
        third = lambda r: r.path == orders and r.query.get("page") == "3"  # noqa: E731
        standin.fail_matching(third, *[server_error(503)] * (POLICY.retries + 1))
        with pytest.raises(SourceUnavailable):
            await _pull(pool, settings, _connection(merchant, standin.url))
        standin.requests.clear()
        summary = await _pull(pool, settings, _connection(merchant, standin.url))
        assert _pages_asked(standin, orders)[0] == "3"  # not the pages already committed
        sales = await _sales(client, merchant)
        for oid, total in NEW.items():
            assert (sales[oid]["status"], sales[oid]["total"]) == ("sale", total), oid
        assert summary.marked_deleted == 1
    finally:
        await standin.close()
