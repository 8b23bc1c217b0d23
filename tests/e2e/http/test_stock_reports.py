"""What the platform reports about a product's stock, beside the ledger's own count: whether
it counts it at all (``tracked``), its newest count by the platform's own clock, and the
drift between the two."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.builders import woo_order, woo_product
from tests.support import Merchant, create_merchant


async def _post_product(client: TestClient, merchant: Merchant, body: dict[str, Any]) -> None:
    resp = await client.post(merchant.woo_products(), data=json.dumps(body))
    assert resp.status == 200, await resp.text()


async def _item(client: TestClient, merchant: Merchant, ref: str) -> dict[str, Any]:
    resp = await client.get(f"/api/stock/{ref}", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def _report(item: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("tracked", "platform_reported_quantity", "platform_reported_at", "drift")
    return tuple(item[k] for k in keys)


async def test_the_newest_report_by_the_platforms_clock_wins(client: TestClient, merchant):
    await client.post(merchant.woo_orders(), json=woo_order(1))  # woocommerce:42 at -2
    await _post_product(client, merchant, woo_product(42, 8, "2026-05-01T10:05:00"))
    # A late delivery of an older count changes nothing.
    await _post_product(client, merchant, woo_product(42, 12, "2026-05-01T10:00:00"))
    item = await _item(client, merchant, "woocommerce:42")
    assert item["quantity"] == -2
    assert _report(item) == (True, 8, "2026-05-01T10:05:00+00:00", 10)
    await _post_product(client, merchant, woo_product(42, 5, "2026-05-01T10:09:00"))
    assert _report(await _item(client, merchant, "woocommerce:42"))[1:] == (
        5,
        "2026-05-01T10:09:00+00:00",
        7,
    )


async def test_a_report_without_a_time_shows_when_it_was_recorded(client: TestClient, merchant):
    await _post_product(client, merchant, woo_product(43, 4, None))
    item = await _item(client, merchant, "woocommerce:43")
    assert (item["tracked"], item["platform_reported_quantity"], item["drift"]) == (True, 4, 4)
    assert item["platform_reported_at"] is not None


async def test_untracked_products_have_no_drift_and_are_not_reconciled(client, merchant):
    await client.post(merchant.woo_orders(), json=woo_order(2))  # 42 at -2, 71 at -1
    await _post_product(client, merchant, woo_product(42, None, "2026-05-01T10:00:00"))
    item = await _item(client, merchant, "woocommerce:42")
    assert (item["quantity"], *_report(item)) == (-2, False, None, None, None)
    # Never said: null.
    assert _report(await _item(client, merchant, "woocommerce:71")) == (None, None, None, None)
    listed = await (await client.get("/api/stock?tracked=false", headers=merchant.auth)).json()
    assert [i["product_ref"] for i in listed["items"]] == ["woocommerce:42"]
    listed = await (await client.get("/api/stock?tracked=true", headers=merchant.auth)).json()
    assert listed["items"] == []
    everything = await (await client.get("/api/stock", headers=merchant.auth)).json()
    assert [i["product_ref"] for i in everything["items"]] == ["woocommerce:42", "woocommerce:71"]


async def test_a_variation_whose_parent_keeps_the_stock_reports_nothing_of_its_own(
    client: TestClient, merchant: Merchant
):
    variation = woo_product(71, 30, "2026-05-01T10:00:00", type="variation", parent_id=7)
    variation["manage_stock"] = "parent"  # the 30 is the parent's count, not the variation's
    await _post_product(client, merchant, variation)
    assert _report(await _item(client, merchant, "woocommerce:71")) == (None, None, None, None)


async def test_tracked_must_be_true_or_false(client: TestClient, merchant: Merchant):
    resp = await client.get("/api/stock?tracked=yes", headers=merchant.auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_parameter"


async def test_shopify_variants_say_whether_they_are_counted(client: TestClient, merchant):
    product = {
        "id": 632910392,
        "title": "IPod Nano - 8GB",
        "updated_at": "2026-05-01T10:00:00-04:00",
        "variants": [
            {"id": 1, "title": "Pink", "inventory_quantity": 10, "inventory_management": "shopify"},
            {"id": 2, "title": "Red", "inventory_quantity": 0, "inventory_management": None},
            {"id": 3, "title": "Blue", "inventory_quantity": 5},
        ],
    }
    headers = {"X-Shopify-Topic": "products/update"}
    resp = await client.post(merchant.shopify_orders(), json=product, headers=headers)
    assert resp.status == 200, await resp.text()
    reports = [_report(await _item(client, merchant, f"shopify:{n}")) for n in (1, 2, 3)]
    at = "2026-05-01T14:00:00+00:00"
    assert reports == [(True, 10, at, 10), (False, 0, at, None), (None, 5, at, 5)]
    items = (await (await client.get("/api/products", headers=merchant.auth)).json())["items"]
    assert [p["manage_stock"] for p in items] == ["true", "false", None]


async def test_reports_of_the_same_second_end_the_same_whatever_their_order(client, pool):
    """WooCommerce's times have whole seconds: two checkouts of one product within a second
    send two counts with the same time. The body's sha256 breaks the tie, as for orders."""
    first = woo_product(44, 9, "2026-05-01T10:00:00", name="Jar")
    second = woo_product(44, 8, "2026-05-01T10:00:00", name="Jar")
    untimed = woo_product(44, 30, None, name="Jar")  # orders before any report with a time
    seen = []
    for bodies in ((first, second, untimed), (untimed, second, first), (second, first)):
        merchant = await create_merchant(pool)
        for body in bodies:
            await _post_product(client, merchant, body)
        product = await (await client.get("/api/products", headers=merchant.auth)).json()
        seen.append((_report(await _item(client, merchant, "woocommerce:44")), product["items"]))
    assert seen[0][0][1] in (8, 9)
    for report, items in seen:
        assert report == seen[0][0]
        assert [(p["stock_quantity"], p["modified_at"]) for p in items] == [
            (p["stock_quantity"], p["modified_at"]) for p in seen[0][1]
        ]
