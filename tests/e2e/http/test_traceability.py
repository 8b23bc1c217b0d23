"""Every delivery, whatever it did, can be traced: its receipt carries the sha256 of the
stored raw body, the delivery headers and the verification outcome; one we could not use is
in the inbox with the same."""

from __future__ import annotations

import hashlib
import json

import asyncpg
from aiohttp.test_utils import TestClient

from aggregates.order import Order
from aggregates.product import Product
from service.store.eventstore import EventStore
from tests.builders import FIXTURES, shopify_body, woo_order
from tests.support import Merchant

RECEIPTS = (Order.OrderReceived, Product.ProductUpdated, Product.DeletedOnPlatform)


async def _receipts(pool: asyncpg.Pool, aggregate_id: str) -> list:
    async with pool.acquire() as conn:
        events = await EventStore().load(conn, aggregate_id)
    return [e for e in events if isinstance(e, RECEIPTS)]


async def _raw(pool: asyncpg.Pool, sha256: str) -> bytes | None:
    async with pool.acquire() as conn:
        body = await conn.fetchval("SELECT body FROM raw_deliveries WHERE sha256 = $1", sha256)
    return None if body is None else bytes(body)


async def test_every_kind_of_delivery_leaves_a_receipt_with_its_raw_body(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    product = FIXTURES / "woocommerce" / "woocommerce-product-restapidocs-v3-794-simple.json"
    refund, _ = shopify_body("shopify-refund-shopify-rest-example-no-restock.json")
    order_body = json.dumps(woo_order(61)).encode()
    deliveries = [
        (merchant.woo_orders(), order_body, {"X-WC-Webhook-Topic": "order.created"}),
        (merchant.woo_orders(), b'{"id": 61}', {"X-WC-Webhook-Topic": "order.deleted"}),
        (merchant.woo_products(), product.read_bytes(), {"X-WC-Webhook-Topic": "product.updated"}),
        (merchant.woo_products(), b'{"id": 794}', {"X-WC-Webhook-Topic": "product.deleted"}),
        (
            merchant.shopify_orders(),
            refund,
            {"X-Shopify-Topic": "refunds/create", "X-Shopify-Event-Id": "ev-1"},
        ),
        (
            merchant.shopify_orders(),
            refund + b"\n",
            {"X-Shopify-Topic": "refunds/create", "X-Shopify-Event-Id": "ev-1"},
        ),
    ]
    for path, body, headers in deliveries:
        resp = await client.post(path, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        aggregate_id = answer.get("sale_id") or str(
            Product.create_id(merchant.user_id, *answer["product_ref"].split(":", 1))
        )
        sha = hashlib.sha256(body).hexdigest()
        [receipt] = [r for r in await _receipts(pool, aggregate_id) if r.body_sha256 == sha]
        assert receipt.verification == "unverified"
        topic_header = next(iter(headers)).lower()
        assert receipt.headers[topic_header] == headers[next(iter(headers))]
        assert await _raw(pool, sha) == body


async def test_a_delivery_we_could_not_use_is_in_the_inbox_with_the_same(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = b'{"id": 1, "status": "processing", "line_items": "nope", "total": "1"}'
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"X-WC-Webhook-Delivery-ID": "d-9"}
    )
    inbox_id = (await resp.json())["inbox_id"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT body, body_sha256, headers FROM inbox WHERE inbox_id = $1", inbox_id
        )
    assert bytes(row["body"]) == body
    assert row["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert json.loads(row["headers"])["x-wc-webhook-delivery-id"] == "d-9"
