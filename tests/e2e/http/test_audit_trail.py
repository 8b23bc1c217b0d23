"""The audit trail over HTTP: stock history that adds up to the level, sale traces down to
the raw delivery bytes, and each user's own events for export."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.audit.trace import _body_fields
from tests.builders import FIXTURES, shopify_body, woo_order
from tests.support import Merchant, create_merchant

WOO_ORDERS = sorted((FIXTURES / "woocommerce").glob("woocommerce-order-*.json"))
SHOPIFY_ORDERS = sorted(p.name for p in (FIXTURES / "shopify").glob("shopify-order-*.json"))
SHOPIFY_REFUNDS = sorted(p.name for p in (FIXTURES / "shopify").glob("shopify-refund-*.json"))


async def _get(client: TestClient, merchant: Merchant, path: str) -> dict[str, Any]:
    resp = await client.get(path, headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def _post(client: TestClient, path: str, body: bytes, **headers: str) -> dict[str, Any]:
    resp = await client.post(path, data=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def _levels(client: TestClient, merchant: Merchant) -> dict[str, int]:
    levels: dict[str, int] = {}
    cursor = ""
    while True:
        page = await _get(client, merchant, f"/api/stock?limit=100{cursor}")
        levels.update({i["product_ref"]: i["quantity"] for i in page["items"]})
        if page["next_cursor"] is None:
            return levels
        cursor = f"&cursor={page['next_cursor']}"


async def _orders_cancellations_and_a_stocktake(client: TestClient, merchant: Merchant) -> None:
    """Every fixture order and refund, generated orders cancelled or redelivered, and one
    stocktake on woocommerce:42 (whose history the test reads adjustment by adjustment)."""
    for path in WOO_ORDERS:
        await _post(client, merchant.woo_orders(), path.read_bytes())
    for name in SHOPIFY_ORDERS:
        await _post(client, merchant.shopify_orders(), shopify_body(name)[0])
    for name in SHOPIFY_REFUNDS:
        body = shopify_body(name)[0]
        await _post(
            client, merchant.shopify_orders(), body, **{"X-Shopify-Topic": "refunds/create"}
        )
    for n in range(100, 112):
        modified = {"date_modified_gmt": "2026-05-01T10:00:00"}
        await _post(client, merchant.woo_orders(), json.dumps(woo_order(n, **modified)).encode())
        if n % 3 == 0:  # cancelled later: the stock comes back
            later = woo_order(n, "cancelled", date_modified_gmt="2026-05-01T11:00:00")
            await _post(client, merchant.woo_orders(), json.dumps(later).encode())
        if n % 4 == 0:  # redelivered: nothing moves twice
            await _post(
                client, merchant.woo_orders(), json.dumps(woo_order(n, **modified)).encode()
            )
    resp = await client.post(
        "/api/stock/woocommerce:42/adjustments",
        json={"by": 30, "reason": "stocktake"},
        headers={**merchant.auth, "Idempotency-Key": "stocktake-1"},
    )
    assert resp.status == 201


async def test_every_history_adds_up_to_its_level_after_a_orders_cancellations_and_a_stocktake(
    client: TestClient, merchant: Merchant
):
    await _orders_cancellations_and_a_stocktake(client, merchant)
    levels = await _levels(client, merchant)
    # Every product a fixture order names has a history.
    for ref in ("woocommerce:56", "woocommerce:23", "woocommerce:93", "shopify:39072856"):
        assert ref in levels
    kinds: set[str] = set()
    for ref, level in levels.items():
        history = await _get(client, merchant, f"/api/stock/{ref}/history")
        assert history["quantity"] == level
        moves = history["movements"]
        positions = [m["notification_id"] for m in moves]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        balance = 0
        for m in moves:
            balance += m["delta"]
            assert m["balance"] == balance
            kinds.add(m["kind"])
            assert m["kind"] in ("deducted", "restored", "adjusted")
            assert m["topic"].endswith(m["event"])
            if m["kind"] == "adjusted":
                assert m["adjustment_id"] == m["originator_id"] and m["sale_id"] is None
            else:
                assert m["sale_id"] == m["originator_id"] and m["adjustment_id"] is None
        assert balance == level, ref
    assert kinds == {"deducted", "restored", "adjusted"}

    stocktake = await _get(client, merchant, "/api/stock/woocommerce:42/history")
    adjusted = [m for m in stocktake["movements"] if m["kind"] == "adjusted"]
    assert [(m["delta"], m["reason"], m["event"]) for m in adjusted] == [
        (30, "stocktake", "StockAdjusted")
    ]
    assert adjusted[0]["actor"] == f"api:{merchant.name}"
    restored = [m for m in stocktake["movements"] if m["kind"] == "restored"]
    assert restored and all(m["reason"] for m in restored)


async def test_history_pages_keep_the_running_balance(client: TestClient, merchant: Merchant):
    for n in range(1, 6):
        await _post(client, merchant.woo_orders(), json.dumps(woo_order(n)).encode())
    whole = await _get(client, merchant, "/api/stock/woocommerce:42/history")
    paged: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await _get(
            client, merchant, f"/api/stock/woocommerce:42/history?limit=2&after={after}"
        )
        paged += page["movements"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert paged == whole["movements"]
    assert paged[-1]["balance"] == whole["quantity"] == -10


async def test_history_is_404_for_unknown_and_other_users_products(client, merchant, pool):
    await _post(client, merchant.woo_orders(), json.dumps(woo_order(1)).encode())
    other = await create_merchant(pool)
    for who, ref in ((merchant, "woocommerce:4242"), (other, "woocommerce:42")):
        resp = await client.get(f"/api/stock/{ref}/history", headers=who.auth)
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"
    resp = await client.get("/api/stock/woocommerce:42/history?limit=0", headers=merchant.auth)
    assert resp.status == 400
    resp = await client.get("/api/stock/woocommerce:42/history")
    assert resp.status == 401


def _check_trace(trace: dict[str, Any], answer: dict[str, Any], body: bytes) -> None:
    receipt = trace["receipt"]
    assert trace["sale_id"] == answer["sale_id"]
    assert receipt["originator_id"] == answer["sale_id"]
    assert receipt["sha256_verified"] is True
    assert receipt["body_encoding"] == "utf-8"
    assert receipt["body"].encode() == body
    assert receipt["verification"] == "unverified"
    events = trace["events"]
    assert [e["originator_version"] for e in events] == list(range(1, len(events) + 1))
    positions = [e["notification_id"] for e in events]
    assert positions == sorted(positions)
    [source] = [e for e in events if e["originator_version"] == receipt["originator_version"]]
    assert source["event"] == "OrderReceived"
    assert source["notification_id"] == receipt["notification_id"]
    assert source["fields"]["body_sha256"] == receipt["sha256"]
    assert events[0]["event"] == "Opened"
    [recorded] = [e for e in events if e["event"] == "SaleRecorded"]
    assert recorded["fields"]["receipt_version"] == receipt["originator_version"]
    assert isinstance(recorded["fields"]["total"], str)


async def test_trace_of_a_woocommerce_fixture_sale(client: TestClient, merchant: Merchant):
    body = (FIXTURES / "woocommerce" / "woocommerce-order-restapidocs-v3-727.json").read_bytes()
    answer = await _post(
        client, merchant.woo_orders(), body, **{"X-WC-Webhook-Delivery-ID": "d-727"}
    )
    trace = await _get(client, merchant, f"/api/sales/{answer['sale_id']}/trace")
    _check_trace(trace, answer, body)
    assert trace["receipt"]["delivery"]["headers"]["x-wc-webhook-delivery-id"] == "d-727"
    assert trace["receipt"]["delivery"]["delivery_id"] == "d-727"
    raw = json.loads(body)
    [recorded] = [e for e in trace["events"] if e["event"] == "SaleRecorded"]
    assert recorded["fields"]["total"] == raw["total"]
    deducted = [e for e in trace["events"] if e["event"] == "StockDeducted"]
    assert sorted(e["fields"]["product_ref"] for e in deducted) == [
        "woocommerce:23",
        "woocommerce:93",
    ]


async def test_trace_of_a_shopify_fixture_sale_with_its_refund(client, merchant: Merchant):
    body, raw = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    answer = await _post(
        client, merchant.shopify_orders(), body, **{"X-Shopify-Topic": "orders/create"}
    )
    trace = await _get(client, merchant, f"/api/sales/{answer['sale_id']}/trace")
    _check_trace(trace, answer, body)
    assert trace["receipt"]["topic"] == "orders/create"
    refunds = [e for e in trace["events"] if e["event"] == "RefundRecorded"]
    assert refunds and all(isinstance(e["fields"]["amount"], str) for e in refunds)
    assert trace["platform"] == "shopify" and trace["external_id"] == str(raw["id"])


async def test_trace_is_404_for_unknown_other_users_and_pending_orders(client, merchant, pool):
    answer = await _post(client, merchant.woo_orders(), json.dumps(woo_order(1)).encode())
    pending = await _post(
        client, merchant.woo_orders(), json.dumps(woo_order(2, "pending")).encode()
    )
    other = await create_merchant(pool)
    cases = [
        (other, answer["sale_id"]),
        (merchant, pending["sale_id"]),
        (merchant, "00000000-0000-0000-0000-000000000000"),
        (merchant, "not-a-uuid"),
    ]
    for who, sale_id in cases:
        resp = await client.get(f"/api/sales/{sale_id}/trace", headers=who.auth)
        assert resp.status == 404, sale_id
        assert (await resp.json())["error"] == "not_found"


def test_bytes_that_are_not_utf8_are_shown_as_base64():
    assert _body_fields(b"\xff\xfe") == {
        "body": base64.b64encode(b"\xff\xfe").decode(),
        "body_encoding": "base64",
    }


async def _export(client: TestClient, merchant: Merchant, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await _get(client, merchant, f"/api/events?after={after}&limit={limit}")
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next_after"] is None:
            return items
        assert page["next_after"] == page["items"][-1]["notification_id"]
        after = page["next_after"]


async def test_export_pages_through_a_users_own_events_only(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    other = await create_merchant(pool)
    mine = [
        await _post(client, merchant.woo_orders(), json.dumps(woo_order(n)).encode())
        for n in (1, 2)
    ]
    theirs = await _post(client, other.woo_orders(), json.dumps(woo_order(1)).encode())
    resp = await client.post(
        "/api/stock/woocommerce:42/adjustments",
        json={"by": 3, "reason": "found"},
        headers={**merchant.auth, "Idempotency-Key": "x"},
    )
    adjustment_id = (await resp.json())["adjustment_id"]

    items = await _export(client, merchant, limit=3)
    expected_ids = {a["sale_id"] for a in mine} | {adjustment_id}
    assert {i["originator_id"] for i in items} == expected_ids
    positions = [i["notification_id"] for i in items]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    async with pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM stored_events WHERE originator_id = ANY($1::uuid[])",
            list(expected_ids),
        )
    assert len(items) == count
    assert items == await _export(client, merchant, limit=100)
    [recorded] = [
        i
        for i in items
        if i["topic"].endswith("SaleRecorded") and i["originator_id"] == mine[0]["sale_id"]
    ]
    assert recorded["event"]["total"] == "15.50"
    assert all(isinstance(line["total"], str) for line in recorded["event"]["lines"])
    assert all(i["event"]["user_id"] == str(merchant.user_id) for i in items)

    their_items = await _export(client, other, limit=100)
    assert {i["originator_id"] for i in their_items} == {theirs["sale_id"]}
    later = await _get(client, merchant, f"/api/events?after={positions[-1]}")
    assert later == {"items": [], "next_after": None}


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=1001", "after=1e3"])
async def test_export_parameters_are_checked(client: TestClient, merchant: Merchant, query):
    resp = await client.get(f"/api/events?{query}", headers=merchant.auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_parameter"


async def test_export_needs_the_api_key(client: TestClient):
    resp = await client.get("/api/events")
    assert resp.status == 401
