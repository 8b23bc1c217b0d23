"""The delivery log over HTTP: every outcome a webhook can have gets its row, and the row says
what the delivery was (headers, sha256, size) and what it did (status, sale, positions)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp.test_utils import TestClient

from aggregates.order import Order
from service.accounts import secrets
from service.http.keys import INTAKE
from service.settings import Settings
from tests.builders import as_body, shopify_body, sign, woo_order, woo_product
from tests.support import Merchant, create_merchant, server_keyring, start_client, wait_until

WOO_HEADERS = {
    "X-WC-Webhook-Topic": "order.created",
    "X-WC-Webhook-Delivery-ID": "d-501",
    "X-WC-Webhook-ID": "12",
    "X-WC-Webhook-Source": "https://shop.example/",
}


async def _post(
    client: TestClient, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(path, data=body, headers=headers or {})
    return resp.status, await resp.json()


async def _log(client: TestClient, merchant: Merchant, query: str = "") -> list[dict[str, Any]]:
    resp = await client.get(f"/api/deliveries?limit=500{query}", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["deliveries"])


async def _newest(client: TestClient, merchant: Merchant) -> dict[str, Any]:
    return (await _log(client, merchant))[0]


async def _detail(client: TestClient, merchant: Merchant, delivery_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/deliveries/{delivery_id}", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


class Events:
    """The log positions of an aggregate's events, and which are new since last asked."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.seen: set[int] = set()

    async def new(self, aggregate_id: UUID) -> list[int]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT notification_id FROM stored_events WHERE originator_id = $1"
                " ORDER BY notification_id",
                aggregate_id,
            )
        found = [r["notification_id"] for r in rows if r["notification_id"] not in self.seen]
        self.seen.update(found)
        return found


def _order501(june: int, status: str = "processing") -> bytes:
    return as_body(woo_order(501, status, date_modified_gmt=f"2026-06-{june:02d}T00:00:00"))


async def test_every_outcome_of_an_order_is_logged_with_its_positions(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    events = Events(pool)
    sale_id = Order.create_id(merchant.user_id, "woocommerce", "501")
    deleted = {"X-WC-Webhook-Topic": "order.deleted"}
    restored = {"X-WC-Webhook-Topic": "order.restored"}
    steps: list[tuple[str, bytes, dict[str, str], str]] = [
        ("first", _order501(2), WOO_HEADERS, "recorded"),
        ("again", _order501(2), WOO_HEADERS, "duplicate"),
        ("done", _order501(3, "completed"), {}, "updated"),
        ("old", _order501(1), {}, "stale"),
        ("gone", as_body({"id": 501}), deleted, "deleted"),
        ("back", _order501(4, "completed"), restored, "restored"),
    ]
    status = 200
    for name, body, headers, outcome in steps:
        assert (await _post(client, merchant.woo_orders(), body, headers))[0] == status, name
        row = await _newest(client, merchant)
        assert (row["outcome"], row["status"], row["endpoint"], row["via"]) == (
            outcome,
            status,
            "order",
            "webhook",
        ), name
        assert row["body_sha256"] == hashlib.sha256(body).hexdigest(), name
        assert row["body_size"] == len(body), name
        assert (row["sale_id"], row["external_id"]) == (str(sale_id), "501"), name
        assert row["positions"] == await events.new(sale_id), name
        assert row["verification"] == "unverified", name
        assert row["duration_ms"] >= 0, name
    rows = await _log(client, merchant)
    assert [r["outcome"] for r in rows] == [s[3] for s in reversed(steps)]
    recorded, duplicate = rows[-1], rows[-2]
    assert recorded["positions"] and duplicate["positions"] == []
    assert (recorded["topic"], recorded["delivery_id"], recorded["webhook_id"]) == (
        "order.created",
        "d-501",
        "12",
    )
    assert recorded["store"] == "https://shop.example/"
    # A duplicate adds a row, not a body: the bytes are stored once.
    async with pool.acquire() as conn:
        kept = await conn.fetchval(
            "SELECT count(*) FROM raw_deliveries WHERE sha256 = $1", recorded["body_sha256"]
        )
    assert kept == 1 and duplicate["body_sha256"] == recorded["body_sha256"]
    detail = await _detail(client, merchant, recorded["id"])
    assert (detail["raw_body_stored"], detail["headers_from"]) == (True, "receipt")
    assert detail["headers"]["x-wc-webhook-delivery-id"] == "d-501"
    assert detail["positions"] == recorded["positions"]


async def test_the_other_outcomes_are_logged_too(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    events = Events(pool)
    status, answer = await _post(client, merchant.woo_orders(), as_body(woo_order(502, "pending")))
    row = await _newest(client, merchant)
    assert (status, row["outcome"], row["external_id"]) == (200, "received", "502")
    assert row["positions"] == await events.new(UUID(answer["sale_id"]))

    status, _ = await _post(client, merchant.woo_products(), as_body(woo_product(61, 5)))
    row = await _newest(client, merchant)
    assert (status, row["outcome"], row["endpoint"]) == (200, "product_updated", "product")
    assert (row["product_ref"], row["external_id"]) == ("woocommerce:61", "61")
    assert row["sale_id"] is None
    assert len(row["positions"]) >= 1

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await _post(client, merchant.woo_products(), b"webhook_id=7", form))[0] == 200
    row = await _newest(client, merchant)
    assert (row["outcome"], row["status"], row["endpoint"], row["positions"]) == (
        "ping",
        200,
        "product",
        [],
    )

    status, answer = await _post(client, merchant.woo_orders(), b'{"id": 77, ')
    row = await _newest(client, merchant)
    assert (status, row["outcome"], row["reason"], row["inbox_id"]) == (
        202,
        "quarantined",
        "invalid_json",
        answer["inbox_id"],
    )
    assert (row["body_size"], row["positions"], row["sale_id"]) == (11, [], None)
    detail = await _detail(client, merchant, row["id"])
    assert (detail["raw_body_stored"], detail["headers_from"]) == (False, "inbox")

    body, doc = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-12-01T10:00:00.000Z",
        "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
    }
    status, answer = await _post(client, merchant.shopify_orders(), body, headers)
    row = await _newest(client, merchant)
    assert (status, row["outcome"], row["platform"], row["topic"]) == (
        200,
        "recorded",
        "shopify",
        "orders/create",
    )
    assert (row["event_id"], row["delivery_id"]) == (headers["X-Shopify-Event-Id"],) * 2
    assert row["webhook_id"] == headers["X-Shopify-Webhook-Id"]
    assert row["triggered_at"] == headers["X-Shopify-Triggered-At"]
    assert (row["store"], row["external_id"]) == ("jsmith.myshopify.com", str(doc["id"]))
    assert row["positions"] == await events.new(UUID(answer["sale_id"]))


async def test_signatures_refused_and_verified_are_logged(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    async with pool.acquire() as conn:
        await secrets.set_secret(
            conn, merchant.name, "woocommerce", "s3cret", timedelta(hours=1), server_keyring()
        )
    body = as_body(woo_order(510))
    for signature, verification in ((None, "missing_signature"), ("bm9wZQ==", "invalid_signature")):
        headers = {"X-WC-Webhook-Signature": signature} if signature else {}
        status, answer = await _post(client, merchant.woo_orders(), body, headers)
        row = await _newest(client, merchant)
        assert (status, row["outcome"], row["status"]) == (401, "invalid_signature", 401)
        assert (row["verification"], row["inbox_id"]) == (verification, answer["inbox_id"])
        assert (row["external_id"], row["sale_id"], row["positions"]) == ("510", None, [])
    signed = {"X-WC-Webhook-Signature": sign(body, "s3cret")}
    assert (await _post(client, merchant.woo_orders(), body, signed))[0] == 200
    row = await _newest(client, merchant)
    assert (row["outcome"], row["verification"]) == ("recorded", "signature_valid")


async def test_a_body_not_kept_is_logged_with_its_reason(settings: Settings, pool: asyncpg.Pool):
    client = await start_client(replace(settings, inbox_max_per_user=1))
    try:
        merchant = await create_merchant(pool)
        for expected in ("quarantined", "not_kept"):
            status, _ = await _post(client, merchant.woo_orders(), b"not json")
            row = await _newest(client, merchant)
            assert (status, row["outcome"], row["reason"]) == (202, expected, "invalid_json")
        assert row["inbox_id"] is None
    finally:
        await client.close()


async def test_a_queued_delivery_is_logged_when_answered_and_again_when_recorded(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    assert (await _post(client, merchant.woo_orders(), as_body(woo_order(520))))[0] == 200
    intake = client.app[INTAKE]
    # The rule under test, at its default (the suite's settings turn it off: tests/conftest.py).
    intake.settings = replace(intake.settings, max_loop_lag=Settings.max_loop_lag)
    intake.loop_lag.lag = 10.0  # the event loop running late: overload
    body = as_body(woo_order(521))
    assert await _post(client, merchant.woo_orders(), body) == (202, {"status": "queued"})
    intake.loop_lag.lag = 0.0

    async def replayed() -> bool:
        return len(await _log(client, merchant, "&external_id=521")) == 2

    await wait_until(replayed, what="the queued delivery recorded")
    recorded, queued = await _log(client, merchant, "&external_id=521")
    assert (queued["outcome"], queued["status"], queued["via"], queued["verification"]) == (
        "queued",
        202,
        "webhook",
        None,
    )
    assert (recorded["outcome"], recorded["status"], recorded["via"]) == ("recorded", None, "spool")
    assert recorded["body_sha256"] == queued["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert recorded["received_at"] == queued["received_at"]
    sale_id = Order.create_id(merchant.user_id, "woocommerce", "521")
    assert recorded["positions"] == await Events(pool).new(sale_id)
