"""The merchant's first minutes, over HTTP against a real database: the documented curl
test, its repetition, and concurrent copies of one order."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
from aiohttp.test_utils import TestClient

from tests.builders import CURL_BODY, woo_order
from tests.support import Merchant, count_events, sales_of, stock_of


async def test_documented_curl_test_records_a_sale(client: TestClient, merchant: Merchant):
    resp = await client.post(
        merchant.woo_orders(), data=CURL_BODY, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 200
    answer = await resp.json()
    assert answer["status"] == "recorded"
    assert answer["external_id"] == "9999"

    # Read-your-writes: the very next queries show the sale and the stock change.
    sales = await sales_of(client, merchant)
    assert len(sales) == 1
    sale = sales[0]
    assert sale["sale_id"] == answer["sale_id"]
    assert sale["status"] == "sale"
    assert sale["platform_status"] == "processing"
    assert sale["customer"] == {"name": "Jane Doe", "email": "jane@example.com"}
    assert sale["total"] == "19.99"
    assert sale["payment_method"] == "stripe"
    [line] = sale["lines"]
    assert line["product_id"] == "42"
    assert line["name"] == "Sample Product"
    assert line["quantity"] == 1
    assert line["total"] == "19.99"
    assert await stock_of(client, merchant, "woocommerce:42") == -1

    resp = await client.get("/api/lookup/woocommerce/orders/9999", headers=merchant.auth)
    assert resp.status == 200
    found = await resp.json()
    assert found["sale_id"] == answer["sale_id"]
    source = found["source"]
    assert source["originator_id"] == answer["sale_id"]
    assert source["notification_id"] > 0
    assert source["originator_version"] == 2

    resp = await client.get(f"/api/sales/{answer['sale_id']}", headers=merchant.auth)
    detail = await resp.json()
    assert detail["source"] == source


async def test_the_same_body_again_is_a_duplicate(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    first = await (await client.post(merchant.woo_orders(), data=CURL_BODY)).json()
    resp = await client.post(merchant.woo_orders(), data=CURL_BODY)
    assert resp.status == 200
    again = await resp.json()
    assert again == {**first, "status": "duplicate"}
    assert await stock_of(client, merchant, "woocommerce:42") == -1
    assert len(await sales_of(client, merchant)) == 1
    assert await count_events(pool, UUID(first["sale_id"]), "StockDeducted") == 1


async def test_eight_concurrent_copies_make_one_sale(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = woo_order(5150)
    answers = await asyncio.gather(
        *(client.post(merchant.woo_orders(), json=body) for _ in range(8))
    )
    statuses = [r.status for r in answers]
    assert all(200 <= s < 300 for s in statuses), statuses
    results = [await r.json() for r in answers]
    assert sorted(r["status"] for r in results) == ["duplicate"] * 7 + ["recorded"]
    assert len({r["sale_id"] for r in results}) == 1
    sale_id = UUID(results[0]["sale_id"])
    assert await count_events(pool, sale_id, "SaleRecorded") == 1
    assert await count_events(pool, sale_id, "StockDeducted") == 2  # two product lines
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    assert await stock_of(client, merchant, "woocommerce:71") == -1
    assert len(await sales_of(client, merchant)) == 1


async def test_users_never_share_an_order(client: TestClient, merchant: Merchant, pool):
    from tests.support import create_merchant

    other = await create_merchant(pool)
    mine = await (await client.post(merchant.woo_orders(), data=CURL_BODY)).json()
    theirs = await (await client.post(other.woo_orders(), data=CURL_BODY)).json()
    assert mine["status"] == theirs["status"] == "recorded"
    assert mine["sale_id"] != theirs["sale_id"]
    assert [s["sale_id"] for s in await sales_of(client, other)] == [theirs["sale_id"]]
    resp = await client.get(f"/api/sales/{mine['sale_id']}", headers=other.auth)
    assert resp.status == 404


async def test_a_pending_order_becomes_a_sale_when_paid(client: TestClient, merchant: Merchant):
    pending = await (
        await client.post(merchant.woo_orders(), json=woo_order(77, status="pending"))
    ).json()
    assert pending["status"] == "received"
    assert await sales_of(client, merchant) == []
    assert await stock_of(client, merchant, "woocommerce:42") is None
    resp = await client.get("/api/lookup/woocommerce/orders/77", headers=merchant.auth)
    assert resp.status == 404
    assert "not a sale" in (await resp.json())["detail"]

    paid = await (
        await client.post(merchant.woo_orders(), json=woo_order(77, status="processing"))
    ).json()
    assert paid == {**pending, "status": "recorded"}
    assert await stock_of(client, merchant, "woocommerce:42") == -2

    done = await (
        await client.post(merchant.woo_orders(), json=woo_order(77, status="completed"))
    ).json()
    assert done["status"] == "updated"
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    [sale] = await sales_of(client, merchant)
    assert (sale["status"], sale["platform_status"]) == ("sale", "completed")


async def test_a_cancelled_sale_gives_its_stock_back_once(client: TestClient, merchant: Merchant):
    await client.post(merchant.woo_orders(), json=woo_order(88))
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    for _ in range(2):
        await client.post(merchant.woo_orders(), json=woo_order(88, status="cancelled"))
    assert await stock_of(client, merchant, "woocommerce:42") == 0
    [sale] = await sales_of(client, merchant)
    assert sale["status"] == "cancelled"
