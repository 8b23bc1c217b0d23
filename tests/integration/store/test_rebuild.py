"""Rebuilding projections: under live traffic with no half-built table ever visible, the
bug-fix story (a wrong version, then the corrected one), and verification."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from projections.base import Recorded
from projections.registry import all_projections
from projections.stock import StockProjection
from service.projecting.rebuild import compare, rebuild
from service.store.eventstore import EventStore
from tests.builders import FIXTURES, mixed_workload, shopify_body, woo_order
from tests.support import Merchant, create_merchant, projections_caught_up, wait_until


def _projection(name: str) -> Any:
    return next(p for p in all_projections() if p.name == name)


@pytest.mark.slow
async def test_rebuild_under_live_traffic_then_verify(
    client: TestClient, merchant: Merchant, database_url: str
):
    store = EventStore()
    seen_sales, seen_stock, answers = [], [], []
    stop = asyncio.Event()

    async def post() -> None:
        for n in range(1, 121):
            resp = await client.post(merchant.woo_orders(), json=woo_order(9000 + n))
            answers.append(resp.status)
            await asyncio.sleep(0.005)
        stop.set()

    async def read() -> None:
        while not stop.is_set():
            sales = await client.get("/api/sales?limit=100", headers=merchant.auth)
            stock = await client.get("/api/stock/woocommerce:42", headers=merchant.auth)
            assert sales.status == 200
            seen_sales.append(len((await sales.json())["items"]))
            if stock.status == 200:
                seen_stock.append((await stock.json())["quantity"])
            else:
                assert stock.status == 404 and not seen_stock
            await asyncio.sleep(0)

    async def rebuild_twice() -> None:
        await wait_until(lambda: len(answers) >= 20, 30, "live traffic")  # rebuild under it
        for name in ("stock", "sales"):
            await rebuild(database_url, store, _projection(name))
        await rebuild(database_url, store, _projection("stock"))

    await asyncio.gather(post(), read(), rebuild_twice())
    assert all(200 <= status < 300 for status in answers)
    # A reader never saw a half-built table: what it saw only ever grew.
    assert seen_sales == sorted(seen_sales) and seen_sales[-1] >= 100
    assert seen_stock == sorted(seen_stock, reverse=True)
    assert all(q % 2 == 0 for q in seen_stock)
    for projection in all_projections():
        assert await compare(database_url, store, projection) == []


class ParentFiledStock(StockProjection):
    """A deliberately wrong version: files variation sales under the parent product id,
    ignoring the variation id the events carry."""

    version = 2

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        wrong = []
        for recorded in batch:
            e = recorded.event
            if getattr(e, "variation_id", None) and getattr(e, "product_id", None):
                e = _with_ref(e, f"{e.product_ref.split(':')[0]}:{e.product_id}")
            wrong.append(Recorded(recorded.notification_id, e))
        await super().apply(conn, wrong)


def _with_ref(event: Any, ref: str) -> Any:
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**vars(event), "product_ref": ref})
    return copy


class CorrectedStock(StockProjection):
    version = 3


async def _stock(pool: asyncpg.Pool, user_id) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT product_ref, quantity FROM stock_levels WHERE user_id = $1 AND quantity <> 0",
            user_id,
        )
    return {r["product_ref"]: r["quantity"] for r in rows}


async def test_the_bug_fix_story(client: TestClient, merchant: Merchant, pool, database_url):
    woo = (FIXTURES / "woocommerce" / "woocommerce-order-restapidocs-v3-727.json").read_bytes()
    shop, _ = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    deliveries = [(merchant.woo_orders, woo), (merchant.shopify_orders, shop)]
    for path, body in deliveries:
        assert (await client.post(path(), data=body)).status == 200
    await projections_caught_up(pool)
    right = await _stock(pool, merchant.user_id)
    assert right["woocommerce:23"] == -1  # the variation of product 22

    store = EventStore()
    try:
        await rebuild(database_url, store, ParentFiledStock())
        wrong = await _stock(pool, merchant.user_id)
        assert "woocommerce:23" not in wrong and wrong["woocommerce:22"] == -1
        await rebuild(database_url, store, CorrectedStock())
        corrected = await _stock(pool, merchant.user_id)
    finally:
        await rebuild(database_url, store, _projection("stock"))  # back to the code's version
    # What a fresh ledger fed the same deliveries computes:
    fresh = await create_merchant(pool)
    for path, body in deliveries:
        other = Merchant(fresh.user_id, fresh.name, fresh.token, fresh.api_key)
        route = {
            merchant.woo_orders: other.woo_orders,
            merchant.shopify_orders: other.shopify_orders,
        }
        assert (await client.post(route[path](), data=body)).status == 200
    await projections_caught_up(pool)
    assert corrected == await _stock(pool, fresh.user_id) == right


async def test_verify_finds_zero_differences_after_a_mixed_workload(
    client: TestClient, merchant: Merchant, database_url: str
):
    await mixed_workload(client, merchant)
    store = EventStore()
    for projection in all_projections():
        assert await compare(database_url, store, projection) == [], projection.name
    # And a planted difference is found.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE stock_levels SET quantity = quantity + 1 WHERE user_id = $1"
            " AND product_ref = 'woocommerce:42'",
            merchant.user_id,
        )
        differences = await compare(database_url, store, _projection("stock"))
    finally:
        await conn.execute(
            "UPDATE stock_levels SET quantity = quantity - 1 WHERE user_id = $1"
            " AND product_ref = 'woocommerce:42'",
            merchant.user_id,
        )
        await conn.close()
    assert len(differences) == 2 and all("stock_levels" in d for d in differences)
