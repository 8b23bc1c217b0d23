"""Order lifecycles per platform, over HTTP: transitions, ordering, deletions, refunds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp.test_utils import TestClient

from tests.builders import FIXTURES, shopify_body, shopify_product, woo_order, woo_product
from tests.support import Merchant, sales_of, stock_of

REFUND_FIXTURES = {
    "legacy": "shopify-refund-shopify-rest-example-legacy-restock.json",
    "no_restock": "shopify-refund-shopify-rest-example-no-restock.json",
    "shipping": "shopify-refund-shopify-rest-example-shipping-only.json",
}
ORDER_450789469 = "shopify-order-shopify-rest-example-450789469.json"
VARIANTS = {"green": "shopify:39072856", "red": "shopify:49148385", "black": "shopify:457924702"}


async def _post(client: TestClient, path: str, body: Any, **headers: str) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(path, data=data, headers=headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def _at(minute: int) -> str:
    return f"2026-05-01T10:{minute:02d}:00"


async def _sale(client: TestClient, merchant: Merchant) -> dict[str, Any]:
    [sale] = await sales_of(client, merchant)
    resp = await client.get(f"/api/sales/{sale['sale_id']}", headers=merchant.auth)
    return dict(await resp.json())


# -- WooCommerce ------------------------------------------------------------------------


async def test_woo_same_second_ties_go_to_the_later_status(client: TestClient, merchant):
    same = _at(0)
    await _post(client, merchant.woo_orders(), woo_order(1, "processing", date_modified_gmt=same))
    late = await _post(
        client, merchant.woo_orders(), woo_order(1, "pending", date_modified_gmt=same)
    )
    assert late["status"] == "stale"  # pending ranks before processing within a second
    assert (await _sale(client, merchant))["platform_status"] == "processing"
    assert await stock_of(client, merchant, "woocommerce:42") == -2


async def test_woo_stale_snapshots_change_nothing(client: TestClient, merchant: Merchant):
    await _post(client, merchant.woo_orders(), woo_order(2, "completed", date_modified_gmt=_at(5)))
    stale = woo_order(2, "cancelled", date_modified_gmt=_at(1))
    assert (await _post(client, merchant.woo_orders(), stale))["status"] == "stale"
    sale = await _sale(client, merchant)
    assert (sale["status"], sale["platform_status"]) == ("sale", "completed")
    assert await stock_of(client, merchant, "woocommerce:42") == -2


async def test_woo_deleted_and_restored_orders_move_no_stock(client: TestClient, merchant):
    body = woo_order(3, "processing", date_modified_gmt=_at(0))
    await _post(client, merchant.woo_orders(), body)
    gone = await _post(
        client, merchant.woo_orders(), {"id": 3}, **{"X-WC-Webhook-Topic": "order.deleted"}
    )
    assert gone["status"] == "deleted"
    sale = await _sale(client, merchant)
    assert (sale["deleted_on_platform"], sale["platform_status"]) == (True, "trash")
    assert sale["status"] == "sale"
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    restored = woo_order(3, "processing", date_modified_gmt=_at(9))
    back = await _post(
        client, merchant.woo_orders(), restored, **{"X-WC-Webhook-Topic": "order.restored"}
    )
    assert back["status"] == "restored"
    sale = await _sale(client, merchant)
    assert (sale["deleted_on_platform"], sale["platform_status"]) == (False, "processing")
    assert await stock_of(client, merchant, "woocommerce:42") == -2


async def test_woo_refunds_are_recorded_once_even_from_stale_snapshots(client, merchant):
    refunds = [{"id": 71, "total": "-2.50"}]
    await _post(client, merchant.woo_orders(), woo_order(4, "completed", date_modified_gmt=_at(5)))
    stale = woo_order(4, "completed", date_modified_gmt=_at(1), refunds=refunds)
    assert (await _post(client, merchant.woo_orders(), stale))["status"] == "updated"
    later = woo_order(
        4, "refunded", date_modified_gmt=_at(9), refunds=[*refunds, {"id": 72, "total": "-13.000"}]
    )
    await _post(client, merchant.woo_orders(), later)
    sale = await _sale(client, merchant)
    assert (sale["refunded"], sale["net_total"]) == ("15.500", "0.000")
    assert [r["refund_id"] for r in sale["refunds"]] == ["71", "72"]
    assert sale["status"] == "refunded"
    assert await stock_of(client, merchant, "woocommerce:42") == -2  # refunded: no restock


async def test_woo_product_deletion_marks_the_catalogue_and_keeps_stock(client, merchant):
    body = FIXTURES / "woocommerce" / "woocommerce-product-restapidocs-v3-794-simple.json"
    await _post(client, merchant.woo_products(), body.read_bytes())
    order = woo_order(5, "processing")
    order["line_items"] = [{"id": 1, "product_id": 794, "quantity": 3, "total": "3.00"}]
    await _post(client, merchant.woo_orders(), order)
    await _post(
        client, merchant.woo_products(), {"id": 794}, **{"X-WC-Webhook-Topic": "product.deleted"}
    )
    [product] = (await (await client.get("/api/products", headers=merchant.auth)).json())["items"]
    assert product["deleted_on_platform"] is True
    assert await stock_of(client, merchant, "woocommerce:794") == -3


# -- Shopify ----------------------------------------------------------------------------


def _refund(name: str) -> tuple[bytes, dict[str, Any]]:
    return shopify_body(REFUND_FIXTURES[name])


async def test_shopify_embedded_and_separate_refunds_count_once(client, merchant: Merchant):
    order, raw = shopify_body(ORDER_450789469)
    first = await _post(client, merchant.shopify_orders(), order)
    assert first["status"] == "recorded"
    # Refund 509562969 (embedded in the order) restocked the green and black lines.
    assert [await stock_of(client, merchant, VARIANTS[c]) for c in ("green", "red", "black")] == [
        0,
        -1,
        0,
    ]
    refund, _ = _refund("legacy")
    again = await _post(
        client, merchant.shopify_orders(), refund, **{"X-Shopify-Topic": "refunds/create"}
    )
    assert again["status"] == "duplicate"
    sale = await _sale(client, merchant)
    assert sale["refunded"] == "209.00"
    assert Decimal(sale["net_total"]) == Decimal(raw["total_price"]) - Decimal("209.00")


async def test_shopify_restock_types(client: TestClient, merchant: Merchant):
    order, _ = shopify_body(ORDER_450789469)
    await _post(client, merchant.shopify_orders(), order)
    for name in ("no_restock", "shipping"):
        body, _ = _refund(name)
        answer = await _post(
            client, merchant.shopify_orders(), body, **{"X-Shopify-Topic": "refunds/create"}
        )
        assert answer["status"] == "updated"
    assert await stock_of(client, merchant, VARIANTS["red"]) == -1  # no_restock keeps it out
    sale = await _sale(client, merchant)
    assert sale["refunded"] == str(Decimal("209.00") + Decimal("41.94") + Decimal("5.00"))


async def test_shopify_refund_before_its_order_waits_for_it(client, merchant: Merchant):
    refund, _ = _refund("legacy")
    early = await _post(
        client, merchant.shopify_orders(), refund, **{"X-Shopify-Topic": "refunds/create"}
    )
    assert early["status"] == "updated"
    assert await sales_of(client, merchant) == []
    assert await stock_of(client, merchant, VARIANTS["black"]) is None
    order, _ = shopify_body(ORDER_450789469)
    assert (await _post(client, merchant.shopify_orders(), order))["status"] == "recorded"
    assert [await stock_of(client, merchant, VARIANTS[c]) for c in ("green", "red", "black")] == [
        0,
        -1,
        0,
    ]
    assert (await _sale(client, merchant))["refunded"] == "209.00"


def _shopify_order(updated: str, **extra: Any) -> dict[str, Any]:
    body = {
        "id": 8001,
        "financial_status": "paid",
        "currency": "USD",
        "total_price": "30.00",
        "updated_at": updated,
        "line_items": [
            {"id": 11, "product_id": 5, "variant_id": 51, "quantity": 2, "price": "10.00"},
            {"id": 12, "product_id": 6, "variant_id": 61, "quantity": 1, "price": "10.00"},
        ],
    }
    body.update(extra)
    return body


async def test_shopify_cancelled_before_create_is_one_cancelled_sale(client, merchant):
    cancelled = _shopify_order(
        "2026-05-01T12:00:00Z", cancelled_at="2026-05-01T12:00:00Z", financial_status="voided"
    )
    created = _shopify_order("2026-05-01T10:00:00Z")
    await _post(
        client, merchant.shopify_orders(), cancelled, **{"X-Shopify-Topic": "orders/cancelled"}
    )
    late = await _post(
        client, merchant.shopify_orders(), created, **{"X-Shopify-Topic": "orders/create"}
    )
    assert late["status"] == "stale"
    sale = await _sale(client, merchant)
    assert sale["status"] == "cancelled"
    # A cancelled Shopify order keeps its deduction unless a refund restocks it.
    assert await stock_of(client, merchant, "shopify:51") == -2


async def test_shopify_stale_updates_change_nothing_and_event_ids_hide_no_body(client, merchant):
    edited = _shopify_order("2026-05-01T11:00:00Z", total_price="40.00")
    edited["line_items"][0]["quantity"] = 3
    await _post(client, merchant.shopify_orders(), edited, **{"X-Shopify-Event-Id": "e-2"})
    older = _shopify_order("2026-05-01T10:00:00Z")
    assert (await _post(client, merchant.shopify_orders(), older))["status"] == "stale"
    sale = await _sale(client, merchant)
    assert (sale["total"], sale["lines"][0]["quantity"]) == ("40.00", 3)
    assert await stock_of(client, merchant, "shopify:51") == -3
    # A retry resends the same bytes: a duplicate. Other bytes under the same event id (an
    # unsigned header) are read for what they show: here a cancellation.
    retry = await _post(client, merchant.shopify_orders(), edited, **{"X-Shopify-Event-Id": "e-2"})
    assert retry["status"] == "duplicate"
    cancelled = _shopify_order(
        "2026-05-01T13:00:00Z", cancelled_at="2026-05-01T13:00:00Z", financial_status="voided"
    )
    headers = {"X-Shopify-Event-Id": "e-2", "X-Shopify-Topic": "orders/cancelled"}
    again = await _post(client, merchant.shopify_orders(), cancelled, **headers)
    assert again["status"] == "updated"
    assert (await _sale(client, merchant))["status"] == "cancelled"


async def test_shopify_order_edits_move_only_the_difference(client, merchant: Merchant):
    await _post(client, merchant.shopify_orders(), _shopify_order("2026-05-01T10:00:00Z"))
    edited = _shopify_order("2026-05-01T11:00:00Z")
    edited["line_items"].append(
        {"id": 13, "product_id": 7, "variant_id": 71, "quantity": 4, "price": "1.00"}
    )
    assert (await _post(client, merchant.shopify_orders(), edited))["status"] == "updated"
    assert [await stock_of(client, merchant, f"shopify:{v}") for v in (51, 61, 71)] == [-2, -1, -4]


SHOPIFY_PRODUCT = shopify_product()


async def test_shopify_product_topics_go_to_the_catalogue(client, merchant: Merchant):
    answer = await _post(
        client, merchant.shopify_orders(), SHOPIFY_PRODUCT, **{"X-Shopify-Topic": "products/create"}
    )
    assert answer == {"status": "product_updated", "product_ref": "shopify:632910392"}
    resp = await client.get("/api/products", headers=merchant.auth)
    items = {p["product_ref"]: p for p in (await resp.json())["items"]}
    assert set(items) == {"shopify:808950810", "shopify:49148385"}
    assert items["shopify:49148385"]["sku"] == "IPOD2008RED"
    level = await (await client.get("/api/stock/shopify:49148385", headers=merchant.auth)).json()
    assert (level["quantity"], level["platform_reported_quantity"]) == (0, 20)
    await _post(
        client,
        merchant.shopify_orders(),
        {"id": 632910392},
        **{"X-Shopify-Topic": "products/delete"},
    )
    resp = await client.get("/api/products", headers=merchant.auth)
    assert all(p["deleted_on_platform"] for p in (await resp.json())["items"])


async def test_a_deletion_before_the_sale_still_shows_on_the_sale(client, merchant: Merchant):
    await _post(
        client, merchant.woo_orders(), {"id": 31}, **{"X-WC-Webhook-Topic": "order.deleted"}
    )
    await _post(client, merchant.woo_orders(), woo_order(31, "processing"))
    assert (await _sale(client, merchant))["deleted_on_platform"] is True


def _woo_product(pid: int, modified: str, **extra: Any) -> dict[str, Any]:
    """A variation of product 205, counted, 5 in stock."""
    return woo_product(pid, 5, modified, **{"type": "variation", "parent_id": 205, **extra})


async def test_restoring_one_variation_restores_only_it(client, merchant: Merchant):
    parent = {"id": 205, "name": "Parent", "type": "variable", "date_modified_gmt": _at(0)}
    await _post(client, merchant.woo_products(), parent)
    for pid in (295, 296):
        await _post(client, merchant.woo_products(), _woo_product(pid, _at(0)))
    for pid in (295, 205):
        await _post(
            client,
            merchant.woo_products(),
            {"id": pid},
            **{"X-WC-Webhook-Topic": "product.deleted"},
        )
    await _post(
        client,
        merchant.woo_products(),
        _woo_product(295, _at(5)),
        **{"X-WC-Webhook-Topic": "product.restored"},
    )
    items = (await (await client.get("/api/products", headers=merchant.auth)).json())["items"]
    deleted = {p["external_id"]: p["deleted_on_platform"] for p in items}
    assert deleted == {"205": True, "295": False, "296": True}


async def test_a_late_older_product_update_changes_nothing(client, merchant: Merchant):
    newer = _woo_product(400, _at(11), name="New name", price="2.00")
    older = _woo_product(400, _at(10), name="Old name", price="1.00")
    await _post(client, merchant.woo_products(), newer)
    await _post(
        client, merchant.woo_products(), {"id": 400}, **{"X-WC-Webhook-Topic": "product.deleted"}
    )
    await _post(client, merchant.woo_products(), older, **{"X-WC-Webhook-Topic": "product.updated"})
    [product] = (await (await client.get("/api/products", headers=merchant.auth)).json())["items"]
    assert (product["name"], product["price"], product["deleted_on_platform"]) == (
        "New name",
        "2.00",
        True,
    )


async def test_a_negative_refund_transaction_is_quarantined(client, merchant: Merchant):
    body = {
        "id": 11,
        "order_id": 8001,
        "refund_line_items": [],
        "transactions": [{"amount": "-5", "kind": "refund", "status": "success"}],
    }
    resp = await client.post(
        merchant.shopify_orders(), json=body, headers={"X-Shopify-Topic": "refunds/create"}
    )
    assert resp.status == 202
    assert (await resp.json())["field"] == "transactions[0].amount"


async def _products(client: TestClient, merchant: Merchant) -> dict[str, dict[str, Any]]:
    items = (await (await client.get("/api/products", headers=merchant.auth)).json())["items"]
    return {p["external_id"]: p for p in items}


async def _lookup(client: TestClient, merchant: Merchant, oid: int) -> dict[str, Any]:
    resp = await client.get(f"/api/lookup/woocommerce/orders/{oid}", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def _after_now(minutes: int) -> str:
    """A platform time after the present: a snapshot built after a notice we receive now."""
    later = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + timedelta(minutes=minutes)
    return later.isoformat()


async def test_a_product_in_the_trash_shows_it_until_a_newer_delivery(client, merchant):
    deleted = {"X-WC-Webhook-Topic": "product.deleted"}
    await _post(client, merchant.woo_products(), _woo_product(400, _at(10), status="publish"))
    gone = await _post(client, merchant.woo_products(), {"id": 400}, **deleted)
    assert gone == {"status": "deleted", "product_ref": "woocommerce:400"}
    product = (await _products(client, merchant))["400"]
    assert (product["platform_status"], product["deleted_on_platform"]) == ("trash", True)
    # A late delivery built before the notice came keeps the trash, newer than the entry or
    # not; one built after it shows what it says.
    for modified in (_at(9), _at(11)):
        body = _woo_product(400, modified, status="publish")
        await _post(client, merchant.woo_products(), body)
        assert (await _products(client, merchant))["400"]["platform_status"] == "trash"
    body = _woo_product(400, _after_now(10), status="draft")
    await _post(client, merchant.woo_products(), body)
    product = (await _products(client, merchant))["400"]
    assert (product["platform_status"], product["deleted_on_platform"]) == ("draft", True)
    back = await _post(
        client,
        merchant.woo_products(),
        _woo_product(400, _after_now(20), status="publish"),
        **{"X-WC-Webhook-Topic": "product.restored"},
    )
    assert back["status"] == "restored"
    product = (await _products(client, merchant))["400"]
    assert (product["platform_status"], product["deleted_on_platform"]) == ("publish", False)


async def test_a_deletion_before_the_first_delivery_marks_the_entry(client, merchant: Merchant):
    deleted = {"X-WC-Webhook-Topic": "product.deleted"}
    for pid in (205, 401):
        await _post(client, merchant.woo_products(), {"id": pid}, **deleted)
    await _post(client, merchant.woo_products(), _woo_product(401, _at(1)))
    await _post(client, merchant.woo_products(), _woo_product(296, _at(1)))  # parent 205
    await _post(client, merchant.woo_products(), _woo_product(297, _after_now(5), parent_id=205))
    products = await _products(client, merchant)
    assert {k: p["deleted_on_platform"] for k, p in products.items()} == {
        "296": True,
        "297": True,
        "401": True,
    }
    # In the trash, but for the one built after the notice came.
    shown = {k: p["platform_status"] for k, p in products.items()}
    assert shown == {"296": "trash", "297": None, "401": "trash"}


async def test_the_same_notice_after_a_restore_deletes_again(client, merchant: Merchant):
    """WooCommerce's deletion notices of one product or order are the same bytes."""
    for path, oid, restored in (
        (merchant.woo_products(), 402, _woo_product(402, _at(5))),
        (merchant.woo_orders(), 63, woo_order(63, date_modified_gmt=_at(5))),
    ):
        if path == merchant.woo_products():
            await _post(client, path, _woo_product(402, _at(1)))
            topics = ("product.deleted", "product.restored")
        else:
            await _post(client, path, woo_order(63, date_modified_gmt=_at(1)))
            topics = ("order.deleted", "order.restored")
        notice = f'{{"id":{oid}}}'.encode()
        answers = [await _post(client, path, notice, **{"X-WC-Webhook-Topic": topics[0]})]
        answers.append(await _post(client, path, restored, **{"X-WC-Webhook-Topic": topics[1]}))
        for _ in range(2):  # deleted again; then a retry of that notice
            answers.append(await _post(client, path, notice, **{"X-WC-Webhook-Topic": topics[0]}))
        assert [a["status"] for a in answers] == ["deleted", "restored", "deleted", "duplicate"]
    assert (await _products(client, merchant))["402"]["deleted_on_platform"] is True
    sale = await _sale(client, merchant)
    assert (sale["deleted_on_platform"], sale["platform_status"]) == (True, "trash")


async def test_a_shopify_product_deleted_for_good_shows_no_trash(client, merchant: Merchant):
    headers = {"X-Shopify-Topic": "products/create"}
    await _post(client, merchant.shopify_orders(), SHOPIFY_PRODUCT, **headers)
    gone = await _post(
        client,
        merchant.shopify_orders(),
        {"id": 632910392},
        **{"X-Shopify-Topic": "products/delete"},
    )
    assert gone["status"] == "deleted"
    assert {p["platform_status"] for p in (await _products(client, merchant)).values()} == {
        "active"
    }


async def test_the_lookup_shows_the_sales_platform_status_not_a_late_receipts(client, merchant):
    await _post(client, merchant.woo_orders(), woo_order(60, "completed", date_modified_gmt=_at(5)))
    await _post(
        client, merchant.woo_orders(), {"id": 60}, **{"X-WC-Webhook-Topic": "order.deleted"}
    )
    assert (await _lookup(client, merchant, 60))["platform_status"] == "trash"
    stale = woo_order(60, "processing", date_modified_gmt=_at(1))
    assert (await _post(client, merchant.woo_orders(), stale))["status"] == "stale"
    found = await _lookup(client, merchant, 60)
    assert (found["status"], found["platform_status"]) == ("sale", "trash")
    assert (await _sale(client, merchant))["platform_status"] == "trash"


async def test_a_deleted_order_that_is_no_sale_shows_the_trash_in_the_lookup(client, merchant):
    await _post(client, merchant.woo_orders(), woo_order(61, "failed", date_modified_gmt=_at(5)))
    await _post(
        client, merchant.woo_orders(), {"id": 61}, **{"X-WC-Webhook-Topic": "order.deleted"}
    )

    async def detail() -> str:
        resp = await client.get("/api/lookup/woocommerce/orders/61", headers=merchant.auth)
        assert resp.status == 404
        return str((await resp.json())["detail"])

    assert "platform status is trash" in await detail()
    # A late older snapshot changes nothing anywhere, the lookup included.
    stale = woo_order(61, "pending", date_modified_gmt=_at(1))
    assert (await _post(client, merchant.woo_orders(), stale))["status"] == "stale"
    assert "platform status is trash" in await detail()
    back = woo_order(61, "pending", date_modified_gmt=_at(9))
    await _post(client, merchant.woo_orders(), back, **{"X-WC-Webhook-Topic": "order.restored"})
    assert "platform status is pending" in await detail()
    await _post(client, merchant.woo_orders(), stale)  # again: stale, and a duplicate now
    assert "platform status is pending" in await detail()


async def test_a_cancelled_sale_keeps_its_total_and_is_worth_nothing(client, merchant):
    refunds = [{"id": 91, "total": "-5.50"}]
    body = woo_order(62, "cancelled", date_modified_gmt=_at(1), refunds=refunds)
    await _post(client, merchant.woo_orders(), body)
    sale = await _sale(client, merchant)
    assert (sale["total"], sale["refunded"], sale["net_total"]) == ("15.50", "5.50", "0.00")
    reopened = woo_order(62, "processing", date_modified_gmt=_at(2), refunds=refunds)
    await _post(client, merchant.woo_orders(), reopened)
    assert (await _sale(client, merchant))["net_total"] == "10.00"
