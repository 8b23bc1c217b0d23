"""Reading the delivery log: paging is complete, users see only their own, bad parameters
are 400s, and deliveries answered while the database was away are logged once it is back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from service.audit import deliveries
from service.http.keys import DELIVERY_LOG, INTAKE
from service.settings import Settings
from tests.builders import as_body, woo_order
from tests.proxy import PostgresProxy
from tests.support import Merchant, create_merchant, start_client, wait_until


async def _page(client: TestClient, merchant: Merchant, query: str) -> dict[str, Any]:
    resp = await client.get(f"/api/deliveries?{query}", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def _send(client: TestClient, merchant: Merchant, order_id: int) -> int:
    resp = await client.post(merchant.woo_orders(), data=as_body(woo_order(order_id)))
    return resp.status


async def test_paging_with_the_cursor_is_complete_and_has_no_repeats(
    client: TestClient, pool: asyncpg.Pool
):
    shop, other = await create_merchant(pool), await create_merchant(pool)
    for n in range(7):
        assert await _send(client, shop, 600 + n) == 200
    assert await _send(client, other, 600) == 200
    everything = (await _page(client, shop, "limit=500"))["deliveries"]
    assert [d["external_id"] for d in everything] == [str(600 + n) for n in reversed(range(7))]
    seen: list[int] = []
    cursor = ""
    while True:
        page = await _page(client, shop, f"limit=2{cursor}")
        assert len(page["deliveries"]) <= 2
        seen += [d["id"] for d in page["deliveries"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [d["id"] for d in everything]
    # Filters page the same way.
    filtered = await _page(client, shop, "limit=1&outcome=recorded&platform=woocommerce")
    assert filtered["deliveries"] == everything[:1] and filtered["next_cursor"]

    # Another user's deliveries are not there, and one asked for by id is not found.
    theirs = (await _page(client, other, "limit=500"))["deliveries"]
    assert len(theirs) == 1 and theirs[0]["id"] not in seen
    resp = await client.get(f"/api/deliveries/{theirs[0]['id']}", headers=shop.auth)
    assert (resp.status, (await resp.json())["error"]) == (404, "not_found")
    assert (await _page(client, shop, "external_id=600"))["deliveries"] == everything[-1:]


async def test_time_filters_are_inclusive_and_on_received_at(
    client: TestClient, merchant: Merchant
):
    assert await _send(client, merchant, 620) == 200
    [row] = (await _page(client, merchant, "limit=5"))["deliveries"]
    at = row["received_at"].replace("+00:00", "Z")
    assert (await _page(client, merchant, f"from={at}&to={at}"))["deliveries"] == [row]
    assert (await _page(client, merchant, "to=2000-01-01T00:00Z"))["deliveries"] == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=ten",
        "from=yesterday",
        "to=2026-12-01T00:00:00",  # no offset
        "cursor=bm90IGEgY3Vyc29y",
        "cursor=%F0%9F%92%A9",
        "outcome=lost",
        "platform=ebay",
        "topic=" + "x" * 400,
    ],
)
async def test_bad_parameters_are_400_with_a_json_error(
    client: TestClient, merchant: Merchant, query: str
):
    resp = await client.get(f"/api/deliveries?{query}", headers=merchant.auth)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_parameter"


async def test_the_log_needs_the_api_key_and_unknown_ids_are_404(
    client: TestClient, merchant: Merchant
):
    assert (await client.get("/api/deliveries")).status == 401
    token = {"Authorization": f"Bearer {merchant.token}"}  # the webhook token is no API key
    assert (await client.get("/api/deliveries", headers=token)).status == 401
    for delivery_id in ("abc", "0", "99999999999999999999", "9223372036854775807"):
        resp = await client.get(f"/api/deliveries/{delivery_id}", headers=merchant.auth)
        assert (resp.status, (await resp.json())["error"]) == (404, "not_found"), delivery_id


@pytest_asyncio.fixture
async def proxy(database_url: str) -> AsyncIterator[PostgresProxy]:
    proxy = PostgresProxy(database_url)
    await proxy.start()
    yield proxy
    await proxy.close()


async def test_deliveries_answered_while_the_database_is_away_are_logged_when_it_is_back(
    settings: Settings, proxy: PostgresProxy, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="service.deliveries")
    merchant = await create_merchant(pool)
    fast = replace(
        settings,
        database_url=proxy.url,
        spool_retry_interval=0.1,
        token_cache_refresh=0.2,
        spool_max_entries=1,
    )
    client = await start_client(fast)
    try:
        intake, log = client.app[INTAKE], client.app[DELIVERY_LOG]
        await wait_until(
            lambda: intake.cache.user_for_token(merchant.token) == merchant.user_id,
            what="the token cached",
        )
        proxy.cut()
        resp = await client.post(merchant.woo_orders(), data=as_body(woo_order(630)))
        assert (resp.status, (await resp.json())["status"]) == (202, "spooled")
        resp = await client.post(merchant.woo_orders(), data=as_body(woo_order(631)))
        assert (resp.status, (await resp.json())["error"]) == (503, "unavailable")
        # Refused too, it is a delivery: its one log line (and its count in the metrics).
        lines = [r for r in caplog.records if r.name == "service.deliveries"]
        assert [(r.outcome, r.status) for r in lines][-2:] == [  # type: ignore[attr-defined]
            ("spooled", 202),
            ("unavailable", 503),
        ]
        assert not await log.flush()  # the rows wait in memory
        assert len(log) == 2
        proxy.restore()

        async def logged() -> bool:
            return len((await _page(client, merchant, "limit=10"))["deliveries"]) == 3

        await wait_until(logged, what="the rows written and the spool replayed")
        rows = (await _page(client, merchant, "limit=10"))["deliveries"]
        by_outcome = {r["outcome"]: r for r in rows}
        assert set(by_outcome) == {"spooled", "unavailable", "recorded"}
        assert (by_outcome["spooled"]["status"], by_outcome["spooled"]["external_id"]) == (
            202,
            "630",
        )
        assert (by_outcome["unavailable"]["status"], by_outcome["unavailable"]["external_id"]) == (
            503,
            "631",
        )
        replayed = by_outcome["recorded"]
        assert (replayed["via"], replayed["status"], replayed["external_id"]) == (
            "spool",
            None,
            "630",
        )
        assert replayed["positions"] and log.dropped == 0
    finally:
        await client.close()


async def test_the_newest_delivery_per_endpoint(client: TestClient, pool: asyncpg.Pool):
    """What the console shows per connection: the last delivery, and how long ago."""
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        assert await deliveries.last_deliveries(conn, shop.user_id) == {}
    for n in (640, 641):
        assert await _send(client, shop, n) == 200
    product = {"id": 90, "name": "Jar", "type": "simple"}
    assert (await client.post(shop.woo_products(), json=product)).status == 200
    assert (await client.post(shop.shopify_orders(), data=b"{}")).status == 202
    rows = (await _page(client, shop, "limit=10"))["deliveries"]
    async with pool.acquire() as conn:
        last = await deliveries.last_deliveries(conn, shop.user_id)
    assert set(last) == {("woocommerce", "order"), ("woocommerce", "product"), ("shopify", "order")}
    assert last[("woocommerce", "order")] == next(r for r in rows if r["external_id"] == "641")
    assert last[("woocommerce", "product")]["outcome"] == "product_updated"
    assert last[("shopify", "order")]["outcome"] == "quarantined"
