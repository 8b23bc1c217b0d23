"""Stock adjustments over HTTP: corrections are events, a repeated Idempotency-Key does
nothing twice, and every bad request is a clear 4xx."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from aggregates.stock_adjustment import StockAdjustment
from tests.builders import woo_order
from tests.support import Merchant, count_events, create_merchant, stock_of

REF = "woocommerce:42"


def _path(ref: str = REF) -> str:
    return f"/api/stock/{ref}/adjustments"


async def _adjust(
    client: TestClient, merchant: Merchant, body: Any, key: str | None, ref: str = REF
) -> tuple[int, dict[str, Any]]:
    headers = dict(merchant.auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, bytes) else None
    resp = await client.post(
        _path(ref), headers=headers, data=data, json=None if data is not None else body
    )
    return resp.status, dict(await resp.json())


async def test_an_adjustment_moves_stock_once_per_key(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    await client.post(merchant.woo_orders(), json=woo_order(1))
    assert await stock_of(client, merchant, REF) == -2

    status, first = await _adjust(client, merchant, {"by": 10, "reason": "counted"}, "k-1")
    assert status == 201, first
    assert first == {
        "status": "adjusted",
        "adjustment_id": str(StockAdjustment.create_id(merchant.user_id, "k-1")),
        "product_ref": REF,
        "by": 10,
        "quantity": 8,
    }
    status, again = await _adjust(client, merchant, {"by": 10, "reason": "counted"}, "k-1")
    assert status == 200
    assert again == {**first, "status": "duplicate"}
    assert await stock_of(client, merchant, REF) == 8
    adjustment_id = UUID(first["adjustment_id"])
    assert await count_events(pool, adjustment_id, "StockAdjusted") == 1

    status, conflict = await _adjust(client, merchant, {"by": 9, "reason": "counted"}, "k-1")
    assert status == 409 and conflict["error"] == "idempotency_conflict"
    status, conflict = await _adjust(
        client, merchant, {"by": 10, "reason": "counted"}, "k-1", ref="woocommerce:71"
    )
    assert status == 409 and conflict["error"] == "idempotency_conflict"

    status, down = await _adjust(client, merchant, {"by": -3, "reason": "broken"}, "k-2")
    assert (status, down["quantity"]) == (201, 5)
    assert await stock_of(client, merchant, REF) == 5


async def test_a_product_not_seen_yet_can_be_given_an_opening_balance(client, merchant):
    """Only when asked: a mistyped reference must not make a phantom product."""
    opening = {"by": 12, "reason": "opening balance"}
    status, body = await _adjust(client, merchant, opening, "open-1", ref="shopify:777")
    assert (status, body["error"]) == (404, "not_found")
    assert '"create": true' in body["detail"]
    assert await stock_of(client, merchant, "shopify:777") is None
    status, body = await _adjust(
        client, merchant, {**opening, "create": True}, "open-1", ref="shopify:777"
    )
    assert (status, body["quantity"]) == (201, 12)
    assert await stock_of(client, merchant, "shopify:777") == 12


@pytest.mark.parametrize(
    "ref", ["woocommerce:%FF", "woocommerce:sku:", "woocommerce:sku:%20", "woocommerce:"]
)
async def test_malformed_references_are_refused(client, merchant: Merchant, ref: str):
    """A path that does not decode as UTF-8, an empty or blank SKU, no id: never a product,
    even when asked to create one."""
    body = {"by": 1, "reason": "typo", "create": True}
    resp = await client.post(
        f"/api/stock/{ref}/adjustments",
        json=body,
        headers={**merchant.auth, "Idempotency-Key": "k"},
    )
    assert resp.status in (400, 404), ref
    items = (await (await client.get("/api/stock", headers=merchant.auth)).json())["items"]
    assert items == []


@pytest.mark.parametrize("ref", ["woocommerce:%2542", "woocommerce:a%20b"])
async def test_escapes_are_decoded_once_and_name_no_known_product(client, merchant, ref: str):
    """``%2542`` is the id ``%42``, ``a%20b`` the id ``a b``: references a delivery could
    make, but never seen, so not adjusted without "create"."""
    body = {"by": 1, "reason": "typo"}
    headers = {**merchant.auth, "Idempotency-Key": "k"}
    resp = await client.post(f"/api/stock/{ref}/adjustments", json=body, headers=headers)
    assert resp.status == 404
    assert (
        "never seen woocommerce:" + ref.split(":")[1].replace("%25", "%").replace("%20", " ")
        in (await resp.json())["detail"]
    )


async def test_concurrent_requests_with_one_key_adjust_once(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = {"by": 4, "reason": "delivery from supplier", "create": True}
    answers = await asyncio.gather(*(_adjust(client, merchant, body, "same-key") for _ in range(6)))
    assert sorted(status for status, _ in answers) == [200] * 5 + [201]
    assert len({a["adjustment_id"] for _, a in answers}) == 1
    assert await stock_of(client, merchant, REF) == 4
    adjustment_id = StockAdjustment.create_id(merchant.user_id, "same-key")
    assert await count_events(pool, adjustment_id, "StockAdjusted") == 1


BAD_BODIES = [
    b"not json",
    b"[1, 2]",
    b'"text"',
    {"reason": "no by"},
    {"by": 0, "reason": "zero"},
    {"by": 1.5, "reason": "fraction"},
    {"by": 2.0, "reason": "float"},
    {"by": True, "reason": "bool"},
    {"by": "3", "reason": "string"},
    {"by": None, "reason": "null"},
    {"by": 10**12, "reason": "absurd"},
    {"by": 1},
    {"by": 1, "reason": ""},
    {"by": 1, "reason": "   "},
    {"by": 1, "reason": 5},
    {"by": 1, "reason": "x" * 501},
    {"by": 1, "reason": "a\u0000b"},
    b'{"by": 1, "reason": "\\ud800"}',
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
async def test_bad_bodies_are_invalid_parameters(client: TestClient, merchant: Merchant, body):
    status, answer = await _adjust(client, merchant, body, "bad-body")
    assert status == 400, answer
    assert answer["error"] == "invalid_parameter" and answer["detail"]
    assert await stock_of(client, merchant, REF) is None


@pytest.mark.parametrize("key", [None, "", "k" * 201])
async def test_the_idempotency_key_is_required_and_bounded(client, merchant: Merchant, key):
    status, answer = await _adjust(client, merchant, {"by": 1, "reason": "r"}, key)
    assert (status, answer["error"]) == (400, "invalid_parameter")
    assert "Idempotency-Key" in answer["detail"]


@pytest.mark.parametrize("ref", ["nope:1", "woocommerce:", "woocommerce", "x" * 320])
async def test_unknown_kinds_of_product_reference_are_refused(client, merchant: Merchant, ref):
    status, answer = await _adjust(client, merchant, {"by": 1, "reason": "r"}, "k", ref=ref)
    assert (status, answer["error"]) == (400, "invalid_parameter")


async def test_adjustments_need_the_api_key_and_stay_with_their_user(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = {"by": 1, "reason": "r"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": merchant.token}):
        resp = await client.post(_path(), json=body, headers={**headers, "Idempotency-Key": "a"})
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"
    # The webhook token is not an API key.
    resp = await client.post(
        _path(),
        json=body,
        headers={"Authorization": f"Bearer {merchant.token}", "Idempotency-Key": "a"},
    )
    assert resp.status == 401

    other = await create_merchant(pool)
    status, mine = await _adjust(client, merchant, {**body, "create": True}, "shared-key")
    theirs_body = {"by": 5, "reason": "theirs", "create": True}
    status2, theirs = await _adjust(client, other, theirs_body, "shared-key")
    assert (status, status2) == (201, 201)
    assert mine["adjustment_id"] != theirs["adjustment_id"]
    assert await stock_of(client, merchant, REF) == 1
    assert await stock_of(client, other, REF) == 5


async def test_wrong_methods_are_json_405(client: TestClient, merchant: Merchant):
    resp = await client.get(_path(), headers=merchant.auth)
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"
