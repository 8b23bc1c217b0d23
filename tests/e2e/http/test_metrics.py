"""GET /metrics after the fixtures are posted: every series, read with prometheus-client's own
parser, against what was posted and what the database holds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from projections.registry import all_projections
from service.http.keys import INTAKE
from service.projecting.progress import announcement
from service.settings import Settings
from tests.builders import FIXTURES, live_day, shopify_body, woo_order
from tests.proxy import PostgresProxy
from tests.support import Merchant, projections_caught_up, start_client, wait_until

TOKEN = "metrics-token-Zq8vX2pL"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest_asyncio.fixture
async def scraped(settings: Settings) -> AsyncIterator[TestClient]:
    client = await start_client(replace(settings, metrics_token=TOKEN))
    yield client
    await client.close()


async def scrape(client: TestClient) -> Samples:
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def _outcome(answer: dict) -> str:
    return answer.get("status") or answer["error"]


async def _post_fixtures(client: TestClient, merchant: Merchant) -> Counter[tuple[str, str, str]]:
    """Every fixture once, the first order twice (a duplicate) and a body that is not JSON
    (quarantined): what was answered, by platform, topic and outcome."""
    posted: Counter[tuple[str, str, str]] = Counter()

    async def post(platform: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        resp = await client.post(path, data=body, headers=headers)
        topic = headers.get("X-WC-Webhook-Topic") or headers.get("X-Shopify-Topic") or "none"
        outcome = _outcome(await resp.json())
        posted[(platform, "ping" if outcome == "ping" else topic, outcome)] += 1

    orders = sorted((FIXTURES / "woocommerce").glob("woocommerce-order-*.json"))
    for path in [*orders, orders[0]]:
        await post("woocommerce", merchant.woo_orders(), path.read_bytes(), {})
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-product-*.json")):
        await post("woocommerce", merchant.woo_products(), path.read_bytes(), {})
    await post("woocommerce", merchant.woo_orders(), b"{not json", {})
    for path in sorted((FIXTURES / "shopify").glob("shopify-order-*.json")):
        body, _ = shopify_body(path.name)
        await post("shopify", merchant.shopify_orders(), body, {"X-Shopify-Topic": "orders/create"})
    for d in live_day():
        await post("woocommerce", d.path(merchant), d.body, d.headers)
    return posted


async def _events(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM stored_events"))


async def test_metrics_are_disabled_without_a_token(client: TestClient):
    resp = await client.get("/metrics")
    assert resp.status == 404
    assert (await resp.json())["error"] == "metrics_disabled"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", "Bearer \udcff"],
)
async def test_metrics_ask_for_the_token(scraped: TestClient, authorization: str | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = await scraped.get("/metrics", headers=headers)
    assert resp.status == 401
    body = await resp.json()
    assert body["error"] == "unauthorized"
    assert TOKEN not in json.dumps(body)
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_every_series_after_the_fixtures(
    scraped: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    before = await _events(pool)
    posted = await _post_fixtures(scraped, merchant)
    assert {"recorded", "duplicate", "quarantined", "ping", "product_updated"} <= {
        outcome for _, _, outcome in posted
    }
    await projections_caught_up(pool)
    samples = await scrape(scraped)

    deliveries = series(samples, "ledger_deliveries_total")
    counted = {
        (dict(k)["platform"], dict(k)["topic"], dict(k)["outcome"]): v
        for k, v in deliveries.items()
    }
    assert counted == posted
    latency = series(samples, "ledger_webhook_latency_seconds_count")
    per_platform: Counter[str] = Counter()
    for (platform, _, _), n in posted.items():
        per_platform[platform] += n
    assert {dict(k)["platform"]: v for k, v in latency.items()} == per_platform
    slowest = series(samples, "ledger_webhook_latency_seconds_bucket")
    assert slowest[(("le", "+Inf"), ("platform", "shopify"))] == per_platform["shopify"]

    appended = await _events(pool) - before
    assert appended > 0
    assert samples[("ledger_events_appended_total", ())] == appended
    assert samples[("ledger_database_up", ())] == 1
    assert samples[("ledger_spool_entries", ())] == 0
    assert 1 <= samples[("ledger_db_pool_connections", ())] <= 20
    assert (
        0 <= samples[("ledger_db_pool_in_use", ())] <= samples[("ledger_db_pool_connections", ())]
    )

    names = {p.name for p in all_projections()}
    lag_events = series(samples, "ledger_projection_lag_events")
    assert {dict(k)["projection"] for k in lag_events} == names
    assert set(lag_events.values()) == {0}
    assert set(series(samples, "ledger_projection_lag_seconds").values()) == {0}

    inbox = {
        (r["kind"], r["state"]): r["n"]
        for r in await pool.fetch(
            "SELECT kind, state, count(*) AS n FROM inbox GROUP BY kind, state"
        )
    }
    shown = series(samples, "ledger_inbox_entries")
    assert {(dict(k)["kind"], dict(k)["state"]): v for k, v in shown.items()} == inbox
    assert inbox[("quarantined", "open")] >= 1
    assert any(kind == "ping" for kind, _ in inbox)  # the live day's pings


async def test_projection_lag_when_no_runner_applies_the_log(
    settings: Settings, merchant: Merchant, pool: asyncpg.Pool
):
    client = await start_client(replace(settings, metrics_token=TOKEN, run_projections=False))
    try:
        resp = await client.post(merchant.woo_orders(), json=woo_order(4242))
        assert (await resp.json())["status"] == "recorded"
        samples = await scrape(client)
        head = await pool.fetchval("SELECT max(notification_id) FROM stored_events")
        positions = dict(await pool.fetch("SELECT name, position FROM projection_positions"))
    finally:
        await client.close()
    lag_events = series(samples, "ledger_projection_lag_events")
    for projection in all_projections():
        labels = (("projection", projection.name),)
        assert lag_events[labels] == head - positions[projection.name] >= 1
        assert series(samples, "ledger_projection_lag_seconds")[labels] > 0


async def test_rebuild_progress_is_read_from_the_database(scraped: TestClient, database_url: str):
    samples = await scrape(scraped)
    assert series(samples, "ledger_projection_rebuild_progress") == {}
    # A rebuild announces itself on a connection of its own (service/projecting/progress.py),
    # from whichever process runs it: here, this test.
    conn = await asyncpg.connect(
        database_url, server_settings={"application_name": announcement("sales", 250, 1000)}
    )
    try:
        samples = await scrape(scraped)
    finally:
        await conn.close()
    assert series(samples, "ledger_projection_rebuild_progress") == {
        (("projection", "sales"),): 0.25
    }


async def test_a_scrape_answers_while_the_database_is_away(
    settings: Settings, merchant: Merchant, database_url: str
):
    proxy = PostgresProxy(database_url)
    await proxy.start()
    fast = replace(settings, database_url=proxy.url, metrics_token=TOKEN, token_cache_refresh=0.2)
    client = await start_client(fast)
    try:
        await client.post(merchant.woo_orders(), json=woo_order(5151))
        cache = client.app[INTAKE].cache
        await wait_until(lambda: cache.user_for_token(merchant.token) == merchant.user_id)
        proxy.cut()
        resp = await client.post(merchant.woo_orders(), json=woo_order(5152))
        assert (await resp.json())["status"] == "spooled"
        samples = await scrape(client)
        assert samples[("ledger_database_up", ())] == 0
        assert samples[("ledger_spool_entries", ())] == 1
        assert series(samples, "ledger_projection_lag_events") == {}
        spooled = (("outcome", "spooled"), ("platform", "woocommerce"), ("topic", "none"))
        assert series(samples, "ledger_deliveries_total")[spooled] == 1
        proxy.restore()
        await wait_until(lambda: client.app[INTAKE].spool.is_empty(), what="the spool replayed")
        samples = await scrape(client)
        assert samples[("ledger_database_up", ())] == 1
        assert samples[("ledger_spool_entries", ())] == 0
    finally:
        await client.close()
        await proxy.close()
