"""Signed deliveries and one store per connection, over HTTP on a real database."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from service.accounts import secrets
from service.store.eventstore import EventStore
from tests.builders import FIXTURES, woo_order
from tests.support import Merchant, create_merchant, ledger, sales_of, server_keyring, stock_of

SIGNED = FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json"
SOURCE = FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.source.txt"
GRACE = timedelta(hours=24)


def _vector() -> tuple[bytes, str, str]:
    """The ERPNext body, its secret and its signature, as its .source.txt gives them."""
    text = SOURCE.read_text()
    secret = re.search(r"woo_settings\.secret\): (\S+)", text)
    signature = re.search(r"X-Wc-Webhook-Signature: (\S+)", text)
    assert secret and signature
    return SIGNED.read_bytes(), secret.group(1), signature.group(1)


async def _set(pool: asyncpg.Pool, merchant: Merchant, platform: str, secret: str) -> None:
    async with pool.acquire() as conn:
        await secrets.set_secret(conn, merchant.name, platform, secret, GRACE, server_keyring())


async def _inbox(client: TestClient, merchant: Merchant) -> list[dict]:
    return (await (await client.get("/api/inbox", headers=merchant.auth)).json())["items"]


async def test_the_real_test_vector_is_accepted_and_recorded_as_verified(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body, secret, signature = _vector()
    await _set(pool, merchant, "woocommerce", secret)
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"X-WC-Webhook-Signature": signature}
    )
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["status"] == "recorded"
    async with pool.acquire() as conn:
        receipt = (await EventStore().load(conn, answer["sale_id"]))[1]
    assert receipt.verification == "signature_valid"
    assert receipt.headers["x-wc-webhook-signature"] == signature


async def test_wrong_or_missing_signatures_are_401_kept_and_reprocessable(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, database_url: str
):
    body, secret, signature = _vector()
    await _set(pool, merchant, "woocommerce", "a mis-set secret")
    reserialised = json.dumps(json.loads(body)).encode()
    attempts = [
        (body, {"X-WC-Webhook-Signature": signature}),  # right body, wrong secret set
        (reserialised, {"X-WC-Webhook-Signature": signature}),
        (body, {}),
        (body, {"X-WC-Webhook-Signature": "not base64 at all"}),
    ]
    for data, headers in attempts:
        resp = await client.post(merchant.woo_orders(), data=data, headers=headers)
        assert resp.status == 401
        answer = await resp.json()
        assert answer["error"] == "invalid_signature"
        assert secret not in await resp.text()
    assert await sales_of(client, merchant) == []
    kept = await _inbox(client, merchant)
    assert [i["reason"] for i in kept] == ["invalid_signature"] * 4
    # The merchant fixes the secret and reprocesses: the properly signed delivery is recorded,
    # the others stay quarantined.
    await _set(pool, merchant, "woocommerce", secret)
    code, out, _ = await ledger(database_url, "inbox", "reprocess", "--user", merchant.name)
    assert code == 1
    assert out.count(": recorded") == 1 and "1 reprocessed, 3 still quarantined" in out
    assert len(await sales_of(client, merchant)) == 1


async def test_the_previous_secret_is_honoured_for_a_grace_period(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body, secret, signature = _vector()
    await _set(pool, merchant, "woocommerce", secret)
    await _set(pool, merchant, "woocommerce", "the new secret")
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"X-WC-Webhook-Signature": signature}
    )
    assert (await resp.json())["status"] == "recorded"
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE user_secrets SET previous_valid_until = now() - interval '1 second'"
            " WHERE user_id = $1",
            merchant.user_id,
        )
    other = body + b" "  # another delivery, signed with the expired previous secret
    resp = await client.post(
        merchant.woo_orders(),
        data=other,
        headers={"X-WC-Webhook-Signature": secrets.signature(other, secret)},
    )
    assert resp.status == 401
    resp = await client.post(
        merchant.woo_orders(),
        data=other,
        headers={"X-WC-Webhook-Signature": secrets.signature(other, "the new secret")},
    )
    assert resp.status == 200


async def test_a_body_signed_for_one_user_is_refused_at_another_users_url(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    other = await create_merchant(pool)
    await _set(pool, merchant, "shopify", "secret of the first shop")
    await _set(pool, other, "shopify", "secret of the second shop")
    body = json.dumps(
        {"id": 1, "financial_status": "paid", "total_price": "1.00", "line_items": []}
    ).encode()
    signed = {"X-Shopify-Hmac-Sha256": secrets.signature(body, "secret of the first shop")}
    assert (await client.post(other.shopify_orders(), data=body, headers=signed)).status == 401
    assert (await client.post(merchant.shopify_orders(), data=body, headers=signed)).status == 200


async def test_the_ping_is_never_signed_and_stays_200(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    await _set(pool, merchant, "woocommerce", "any secret")
    resp = await client.post(merchant.woo_orders(), data="webhook_id=3")
    assert (resp.status, await resp.json()) == (200, {"status": "ping"})


async def test_without_a_secret_the_token_alone_authenticates(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    answer = await (await client.post(merchant.woo_orders(), json=woo_order(11))).json()
    async with pool.acquire() as conn:
        receipt = (await EventStore().load(conn, answer["sale_id"]))[1]
    assert receipt.verification == "unverified"


async def test_a_topic_header_cannot_cancel_what_the_body_does_not_show(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    """An orders/create body (signed) delivered under an orders/cancelled topic: the body
    shows a paid order, so that is what the ledger records."""
    await _set(pool, merchant, "shopify", "shop secret")
    body = json.dumps(
        {
            "id": 77,
            "financial_status": "paid",
            "total_price": "9.00",
            "updated_at": "2026-01-01T10:00:00Z",
            "line_items": [
                {"id": 1, "product_id": 5, "variant_id": 51, "quantity": 2, "price": "4.50"}
            ],
        }
    ).encode()
    headers = {
        "X-Shopify-Hmac-Sha256": secrets.signature(body, "shop secret"),
        "X-Shopify-Topic": "orders/cancelled",
    }
    resp = await client.post(merchant.shopify_orders(), data=body, headers=headers)
    assert (resp.status, (await resp.json())["status"]) == (200, "recorded")
    [sale] = await sales_of(client, merchant)
    assert (sale["status"], sale["platform_status"]) == ("sale", "paid")
    assert await stock_of(client, merchant, "shopify:51") == -2
    # And a WooCommerce order.deleted topic on a full order body deletes nothing.
    resp = await client.post(
        merchant.woo_orders(), json=woo_order(78), headers={"X-WC-Webhook-Topic": "order.deleted"}
    )
    assert (await resp.json())["status"] == "recorded"
    woo = [s for s in await sales_of(client, merchant) if s["external_id"] == "78"]
    assert woo[0]["deleted_on_platform"] is False


async def test_one_store_per_connection(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, database_url: str
):
    store_a = {"X-WC-Webhook-Source": "https://shop-a.example/"}
    store_b = {"X-WC-Webhook-Source": "https://shop-b.example/"}
    first = await client.post(merchant.woo_orders(), json=woo_order(17), headers=store_a)
    assert (await first.json())["status"] == "recorded"
    again = await client.post(
        merchant.woo_orders(),
        json=woo_order(18),
        headers={"X-WC-Webhook-Source": "HTTPS://SHOP-A.example"},
    )
    assert (await again.json())["status"] == "recorded"
    # Order 17 of store B is not a duplicate of order 17 of store A: it is set aside.
    other = await client.post(merchant.woo_orders(), json=woo_order(17), headers=store_b)
    assert other.status == 202
    assert (await other.json())["reason"] == "unexpected_source"
    unnamed = await client.post(merchant.woo_orders(), json=woo_order(19))
    assert (await unnamed.json())["status"] == "recorded"
    code, out, _ = await ledger(database_url, "users", "show", merchant.name)
    assert code == 0 and "shop-a.example" in out
    code, _, _ = await ledger(database_url, "users", "unbind-store", merchant.name, "woocommerce")
    assert code == 0
    rebound = await client.post(merchant.woo_orders(), json=woo_order(20), headers=store_b)
    assert (await rebound.json())["status"] == "recorded"
    assert len(await sales_of(client, merchant)) == 4
