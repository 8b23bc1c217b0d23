"""The database goes away under a stream of deliveries: nothing is lost, nothing doubles."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from aggregates.ids import order_id
from service.http.keys import INTAKE
from service.settings import Settings
from tests.builders import woo_order
from tests.pgcluster import PrivateCluster, ProxiedServer, server_binaries
from tests.proxy import PostgresProxy
from tests.support import (
    Merchant,
    count_events,
    create_merchant,
    sales_of,
    start_client,
    stock_of,
    wait_until,
)


@pytest_asyncio.fixture
async def proxy(database_url: str) -> AsyncIterator[PostgresProxy]:
    proxy = PostgresProxy(database_url)
    await proxy.start()
    yield proxy
    await proxy.close()


def _fast(settings: Settings, proxy: PostgresProxy, **changes) -> Settings:
    return replace(
        settings,
        database_url=proxy.url,
        spool_retry_interval=0.1,
        projection_poll_interval=0.2,
        token_cache_refresh=0.2,
        **changes,
    )


async def _caught_up(db: asyncpg.Pool | asyncpg.Connection) -> bool:
    """Whether every projection has applied the whole log."""
    behind = await db.fetchval(
        "SELECT count(*) FROM projection_positions"
        " WHERE position < (SELECT coalesce(max(notification_id), 0) FROM stored_events)"
    )
    return behind == 0


def _token_cached(client: TestClient, merchant: Merchant) -> bool:
    """Whether the service can tell the merchant's token while the database is down."""
    return client.app[INTAKE].cache.user_for_token(merchant.token) == merchant.user_id


async def test_deliveries_during_an_outage_are_spooled_and_recorded_once(
    settings: Settings, proxy: PostgresProxy, merchant: Merchant, pool: asyncpg.Pool
):
    client = await start_client(_fast(settings, proxy))
    try:
        # Warm the token cache through a real delivery while the database is up.
        answers = [await client.post(merchant.woo_orders(), json=woo_order(1000))]
        await wait_until(lambda: _token_cached(client, merchant), what="the token cached")
        for n in range(1001, 1031):
            if n == 1008:
                proxy.cut()
            if n == 1022:
                proxy.restore()
            answers.append(await client.post(merchant.woo_orders(), json=woo_order(n)))
            if n == 1012:  # a repeat while down is spooled too, and deduplicated on replay
                answers.append(await client.post(merchant.woo_orders(), json=woo_order(n)))
        statuses = [(r.status, (await r.json())["status"]) for r in answers]
        assert all(200 <= code < 300 for code, _ in statuses), statuses
        assert (202, "spooled") in statuses
        assert {s for _, s in statuses} <= {"recorded", "spooled", "duplicate"}

        async def all_recorded() -> bool:
            return len(await sales_of(client, merchant)) == 31

        await wait_until(all_recorded)
        # Each projection catches up on its own: once all are at the log's head, the stock
        # is final, and exact (not merely past -62 on its way somewhere else).
        await wait_until(lambda: _caught_up(pool), what="every projection at the head")
        assert await stock_of(client, merchant, "woocommerce:42") == -2 * 31
        for n in range(1000, 1031):
            oid = order_id(merchant.user_id, "woocommerce", str(n))
            assert await count_events(pool, oid, "SaleRecorded") == 1
            assert await count_events(pool, oid, "OrderReceived") == 1
        assert not list(settings.spool_dir.glob("[0-9]*.json")), "the spool drained"
    finally:
        await client.close()


async def test_health_is_503_while_the_database_is_down(settings: Settings, proxy: PostgresProxy):
    client = await start_client(_fast(settings, proxy))
    try:
        assert (await client.get("/healthz")).status == 200
        proxy.cut()
        resp = await client.get("/healthz")
        assert resp.status == 503
        assert (await resp.json())["error"] == "unavailable"
        proxy.restore()
        await wait_until(lambda: _healthy(client))
    finally:
        await client.close()


async def _healthy(client: TestClient) -> bool:
    return (await client.get("/healthz")).status == 200


async def test_full_spool_answers_503_with_retry_after(
    settings: Settings, proxy: PostgresProxy, merchant: Merchant
):
    client = await start_client(_fast(settings, proxy, spool_max_entries=2))
    try:
        await client.post(merchant.woo_orders(), json=woo_order(2000))
        proxy.cut()
        codes = [
            (await client.post(merchant.woo_orders(), json=woo_order(n))).status
            for n in range(2001, 2004)
        ]
        assert codes[:2] == [202, 202]
        resp = await client.post(merchant.woo_orders(), json=woo_order(2004))
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert (await resp.json())["error"] == "unavailable"
        proxy.restore()

        async def drained() -> bool:
            return len(await sales_of(client, merchant)) == 3

        await wait_until(drained)
    finally:
        await client.close()


async def test_unknown_token_is_still_401_while_the_database_is_down(
    settings: Settings, proxy: PostgresProxy, merchant: Merchant
):
    client = await start_client(_fast(settings, proxy))
    try:
        await wait_until(lambda: _token_cached(client, merchant), what="the token cached")
        proxy.cut()
        resp = await client.post("/api/webhook/woocommerce/whk_" + "Z" * 43, json=woo_order(1))
        assert resp.status == 401
        ok = await client.post(merchant.woo_orders(), json=woo_order(3000))
        assert (ok.status, (await ok.json())["status"]) == (202, "spooled")
        proxy.restore()
    finally:
        await client.close()


async def test_no_secret_reaches_any_log_line(
    client: TestClient,
    merchant: Merchant,
    caplog: pytest.LogCaptureFixture,
    restore_logging: None,
):
    from service.logs import configure_logging

    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    secrets = [merchant.token, merchant.api_key, "whk_" + "Q" * 43, "malformed%2Ftoken-xyz"]
    for token in secrets[:1] + secrets[2:]:
        for suffix in ("", "/producto"):
            await client.post(f"/api/webhook/woocommerce/{token}{suffix}", json=woo_order(4000))
            await client.post(f"/api/webhook/woocommerce/{token}{suffix}", data=b"{bad json")
            await client.get(f"/api/webhook/woocommerce/{token}{suffix}?token={token}")
        await client.post(f"/api/webhook/shopify/{token}", data=b"[]")
    await client.get("/api/sales", headers=merchant.auth)
    await client.get("/api/sales", headers={"Authorization": f"Bearer {secrets[2]}"})
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "/api/webhook/woocommerce/***" in text
    for secret in [*secrets, "Q" * 43]:
        assert secret not in text
    assert UUID(str(merchant.user_id))  # the user id is not a secret and may be logged


async def test_a_ping_while_the_database_is_down_is_still_exactly_200(
    settings: Settings, proxy: PostgresProxy, merchant: Merchant
):
    client = await start_client(_fast(settings, proxy))
    try:
        await wait_until(lambda: _token_cached(client, merchant), what="the token cached")
        proxy.cut()
        resp = await client.post(merchant.woo_orders(), data="webhook_id=9")
        assert resp.status == 200
        assert await resp.json() == {"status": "ping"}
        proxy.restore()

        async def pinged() -> bool:
            resp = await client.get("/api/inbox", headers=merchant.auth)
            return resp.status == 200 and len((await resp.json())["items"]) == 1

        await wait_until(pinged)
    finally:
        await client.close()


@pytest_asyncio.fixture
async def stoppable(database_url: str) -> AsyncIterator[PrivateCluster | ProxiedServer]:
    bindir = server_binaries()
    server = PrivateCluster(bindir) if bindir else ProxiedServer(database_url)
    await server.create()
    yield server
    await server.destroy()


async def test_database_stopped_and_restarted_under_a_stream_of_deliveries(
    settings: Settings, stoppable: PrivateCluster | ProxiedServer
):
    """Deliveries keep coming, four at a time, while the server stops and starts again;
    every one is answered 2xx and ends up recorded exactly once."""
    pool = await asyncpg.create_pool(stoppable.url, min_size=1, max_size=2)
    merchant = await create_merchant(pool)
    await pool.close()
    client = await start_client(
        replace(_fast(settings, PostgresProxy(stoppable.url)), database_url=stoppable.url)
    )
    orders = list(range(5000, 5060))
    answers: list[tuple[int, str]] = []

    async def send(n: int) -> None:
        resp = await client.post(merchant.woo_orders(), json=woo_order(n))
        answers.append((resp.status, (await resp.json())["status"]))

    try:
        await send(orders[0])
        await wait_until(lambda: _token_cached(client, merchant), what="the token cached")
        for i in range(1, len(orders), 4):
            if i == 17:
                await stoppable.stop()
            if i == 41:
                await stoppable.start()
            burst = orders[i : i + 4]
            await asyncio.gather(*(send(n) for n in burst + burst[:1]))  # and one repeat
        assert all(200 <= code < 300 for code, _ in answers), answers
        assert any(status == "spooled" for _, status in answers)

        async def all_recorded() -> bool:
            resp = await client.get("/api/sales?limit=100", headers=merchant.auth)
            return resp.status == 200 and len((await resp.json())["items"]) == len(orders)

        await wait_until(all_recorded, within=60)
        check = await asyncpg.connect(stoppable.url)
        try:
            await wait_until(lambda: _caught_up(check), 60, "every projection at the head")
            assert await stock_of(client, merchant, "woocommerce:42") == -2 * len(orders)
            counts = await check.fetch(
                "SELECT topic, count(*) FROM stored_events WHERE originator_id = ANY($1::uuid[])"
                " GROUP BY topic",
                [order_id(merchant.user_id, "woocommerce", str(n)) for n in orders],
            )
        finally:
            await check.close()
        by_topic = {r["topic"].split(":")[-1]: r["count"] for r in counts}
        assert by_topic["Order.SaleRecorded"] == len(orders)
        assert by_topic["Order.OrderReceived"] == len(orders)
    finally:
        await client.close()


async def test_a_service_started_while_the_database_is_down_still_accepts_deliveries(
    settings: Settings, proxy: PostgresProxy, merchant: Merchant
):
    fast = _fast(settings, proxy)
    first = await start_client(fast)
    await first.close()  # it kept a copy of the token hashes on disk (never the tokens)
    assert merchant.token not in fast.token_cache_file.read_text()
    proxy.cut()
    client = await start_client(fast)
    try:
        resp = await client.post(merchant.woo_orders(), json=woo_order(6001))
        assert (resp.status, (await resp.json())["status"]) == (202, "spooled")
        unknown = await client.post("/api/webhook/woocommerce/whk_" + "U" * 43, json={})
        assert unknown.status == 401
        proxy.restore()

        async def recorded() -> bool:
            return len(await sales_of(client, merchant)) == 1

        await wait_until(recorded)
    finally:
        await client.close()
