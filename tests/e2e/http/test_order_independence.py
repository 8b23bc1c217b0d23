"""The same deliveries, posted in order to one merchant and shuffled (with repeats) to
another, end in identical sales and stock as the query API shows them."""

from __future__ import annotations

import json
import random
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.builders import woo_order
from tests.support import Merchant, create_merchant

WOO_PATHS = [
    ["pending", "processing", "completed"],
    ["processing", "shipped"],
    ["processing", "pending"],
    ["pending", "cancelled"],
    ["on-hold", "processing", "cancelled", "processing"],
    ["processing", "completed", "refunded"],
]


def _woo_history(order_id: int, path: list[str], rng: random.Random) -> list[bytes]:
    bodies, refunds = [], []
    for i, status in enumerate(path):
        extra: dict[str, Any] = {"date_modified_gmt": f"2026-06-01T09:00:{i:02d}"}
        if status in ("completed", "refunded") and rng.random() < 0.5:
            refunds.append({"id": order_id * 10 + i, "total": "-1.25"})
        if i and rng.random() < 0.3:
            extra["line_items"] = [
                {"id": 1, "product_id": 42, "quantity": rng.randint(1, 3), "total": "10.00"}
            ]
        bodies.append(
            json.dumps(woo_order(order_id, status, refunds=list(refunds), **extra)).encode()
        )
    return bodies


async def _state(client: TestClient, merchant: Merchant) -> dict[str, Any]:
    sales = await (await client.get("/api/sales?limit=100", headers=merchant.auth)).json()
    stock = await (await client.get("/api/stock?limit=100", headers=merchant.auth)).json()
    keep = ("external_id", "status", "platform_status", "lines", "total", "refunded", "net_total")
    return {
        "sales": sorted(
            ({k: s[k] for k in keep} for s in sales["items"]), key=lambda s: s["external_id"]
        ),
        "stock": {i["product_ref"]: i["quantity"] for i in stock["items"]},
    }


async def test_shuffled_and_repeated_deliveries_give_the_same_views(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    rng = random.Random(20261128)
    deliveries = [
        body for n, path in enumerate(WOO_PATHS * 2) for body in _woo_history(7000 + n, path, rng)
    ]
    other = await create_merchant(pool)
    for body in deliveries:
        await client.post(merchant.woo_orders(), data=body)
    mixed = deliveries + rng.sample(deliveries, 10)
    rng.shuffle(mixed)
    for body in mixed:
        resp = await client.post(other.woo_orders(), data=body)
        assert resp.status == 200
    ordered, shuffled = await _state(client, merchant), await _state(client, other)
    assert len(ordered["sales"]) >= 8
    assert shuffled == ordered
