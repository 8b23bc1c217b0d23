"""Every real payload in ../shared/fixtures, posted to its endpoint, compared field by field
with the raw JSON (read here independently of the adapters)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.builders import FIXTURES, shopify_body
from tests.support import Merchant, sales_of, stock_of

WOO_ORDERS = sorted(p.name for p in (FIXTURES / "woocommerce").glob("woocommerce-order-*.json"))
WOO_PRODUCTS = sorted(p.name for p in (FIXTURES / "woocommerce").glob("woocommerce-product-*.json"))
SHOPIFY_ORDERS = sorted(p.name for p in (FIXTURES / "shopify").glob("shopify-order-*.json"))
WOO_SALE_STATUSES = {"processing", "on-hold", "completed"}


def _id(value: Any) -> str | None:
    return None if value in (0, "", None) else str(value)


def _text(value: Any) -> str | None:
    return value if value not in ("", None) else None


def _woo_expected_lines(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "line_id": _id(item.get("id")),
            "product_id": _id(item.get("product_id")),
            "variation_id": _id(item.get("variation_id")),
            "sku": _text(item.get("sku")),
            "name": item["name"],
            "quantity": item["quantity"],
            "total": item["total"],
        }
        for item in raw["line_items"]
    ]


def _stock_expected(platform: str, lines: list[dict[str, Any]]) -> Counter[str]:
    moved: Counter[str] = Counter()
    for line in lines:
        ref_id = line["variation_id"] or line["product_id"]
        if ref_id:
            moved[f"{platform}:{ref_id}"] -= line["quantity"]
        elif line["sku"]:
            moved[f"{platform}:sku:{line['sku']}"] -= line["quantity"]
    return moved


def _refs(platform: str, lines: list[dict[str, Any]]) -> list[str | None]:
    refs: list[str | None] = []
    for line in lines:
        ref_id = line["variation_id"] or line["product_id"]
        refs.append(f"{platform}:{ref_id}" if ref_id else None)
    return refs


def _pick(line: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: line[k] for k in keys}


@pytest.mark.parametrize("name", WOO_ORDERS)
async def test_woocommerce_order_fixture(client: TestClient, merchant: Merchant, name: str):
    body = (FIXTURES / "woocommerce" / name).read_bytes()
    raw = json.loads(body, parse_float=Decimal)
    resp = await client.post(merchant.woo_orders(), data=body)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["external_id"] == str(raw["id"])
    lines = _woo_expected_lines(raw)
    if raw["status"] not in WOO_SALE_STATUSES:
        assert answer["status"] == "received"
        assert await sales_of(client, merchant) == []
        for ref in _stock_expected("woocommerce", lines):
            assert await stock_of(client, merchant, ref) is None
        return
    assert answer["status"] == "recorded"
    [sale] = await sales_of(client, merchant)
    billing = raw.get("billing") or {}
    name_parts = [billing.get("first_name", ""), billing.get("last_name", "")]
    assert sale["customer"] == {
        "name": " ".join(p for p in name_parts if p) or None,
        "email": _text(billing.get("email")),
    }
    assert (sale["status"], sale["platform_status"]) == ("sale", raw["status"])
    assert sale["total"] == raw["total"]
    assert sale["shipping"] == raw["shipping_total"]
    assert sale["tax"] == raw["total_tax"]
    assert sale["discount"] == raw["discount_total"]
    assert sale["currency"] == raw["currency"]
    assert sale["payment_method"] == (
        _text(raw["payment_method"]) or _text(raw.get("payment_method_title"))
    )
    keys = list(lines[0]) if lines else []
    assert [_pick(line, keys) for line in sale["lines"]] == lines
    for item, line in zip(raw["line_items"], sale["lines"], strict=True):
        if "price" in item:  # a JSON number, exact (499 stays "499", 9.5 "9.5")
            assert line["unit_price"] == str(item["price"])
    subtotal = sum((Decimal(i.get("subtotal", i["total"])) for i in raw["line_items"]), Decimal(0))
    assert sale["subtotal"] == str(subtotal)
    for ref, quantity in _stock_expected("woocommerce", lines).items():
        assert await stock_of(client, merchant, ref) == quantity
    refunded = sum((-Decimal(r["total"]) for r in raw.get("refunds") or []), Decimal(0))
    assert Decimal(sale["refunded"]) == refunded
    assert Decimal(sale["net_total"]) == Decimal(raw["total"]) - refunded


def _shopify_status(raw: dict[str, Any]) -> str:
    if raw.get("cancelled_at"):
        return "cancelled"
    return "refunded" if raw.get("financial_status") == "refunded" else "sale"


def _shopify_expected_lines(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "line_id": _id(item.get("id")),
            "product_id": _id(item.get("product_id")),
            "variation_id": _id(item.get("variant_id")),
            "sku": _text(item.get("sku")),
            "name": item.get("name") or item.get("title"),
            "quantity": item["quantity"],
            "unit_price": item["price"],
        }
        for item in raw["line_items"]
    ]


def _shopify_line_total(item: dict[str, Any]) -> Decimal:
    """Price times quantity less every discount allocated to the line (order-level codes
    included, which ``total_discount`` leaves out)."""
    allocations = item.get("discount_allocations") or []
    if allocations:
        discount = sum((Decimal(a["amount"]) for a in allocations), Decimal(0))
    else:
        discount = Decimal(item.get("total_discount") or 0)
    return Decimal(item["price"]) * item["quantity"] - discount


@pytest.mark.parametrize("name", SHOPIFY_ORDERS)
async def test_shopify_order_fixture(client: TestClient, merchant: Merchant, name: str):
    body, raw = shopify_body(name)
    resp = await client.post(merchant.shopify_orders(), data=body)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "recorded"
    [sale] = await sales_of(client, merchant)
    assert sale["status"] == _shopify_status(raw)
    assert sale["platform_status"] == raw["financial_status"]
    assert sale["total"] == raw["total_price"]
    assert sale["subtotal"] == raw["subtotal_price"]
    assert sale["tax"] == raw["total_tax"]
    assert sale["discount"] == raw["total_discounts"]
    assert sale["shipping"] == raw["total_shipping_price_set"]["shop_money"]["amount"]
    assert sale["currency"] == raw["currency"]
    customer = raw.get("customer")
    expected_email = (customer or {}).get("email") or raw.get("email") or None
    assert sale["customer"]["email"] == expected_email
    if customer and customer.get("first_name"):
        full = f"{customer['first_name']} {customer.get('last_name') or ''}".strip()
        assert sale["customer"]["name"] == full
    lines = _shopify_expected_lines(raw)
    assert [_pick(line, list(lines[0])) for line in sale["lines"]] == lines
    for item, line in zip(raw["line_items"], sale["lines"], strict=True):
        assert line["total"] == str(_shopify_line_total(item))
    # Shopify reserves stock at order creation: every line with a product moves, custom
    # lines (no product, variant or sku) do not, and a cancellation keeps the deduction.
    expected = _stock_expected("shopify", lines)
    # ...and refunds that restock bring their quantity back.
    refs = {
        str(i["id"]): r for i, r in zip(raw["line_items"], _refs("shopify", lines), strict=True)
    }
    for refund in raw.get("refunds") or []:
        for refund_line in refund.get("refund_line_items") or []:
            ref = refs.get(str(refund_line["line_item_id"]))
            if ref and refund_line.get("restock_type") in ("return", "cancel", "legacy_restock"):
                expected[ref] += refund_line["quantity"]
    refunded = sum(
        (
            Decimal(t["amount"])
            for r in raw.get("refunds") or []
            for t in r.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status") == "success"
        ),
        Decimal(0),
    )
    assert Decimal(sale["refunded"]) == refunded
    # A cancelled order earns nothing, whatever was refunded of it.
    worth = 0 if raw.get("cancelled_at") else Decimal(raw["total_price"]) - refunded
    assert Decimal(sale["net_total"]) == worth
    for ref, quantity in expected.items():
        assert await stock_of(client, merchant, ref) == quantity
    resp = await client.get("/api/stock?limit=100", headers=merchant.auth)
    assert {i["product_ref"] for i in (await resp.json())["items"]} == set(expected)


async def test_custom_lines_move_no_stock(client: TestClient, merchant: Merchant):
    body, raw = shopify_body("shopify-order-shopify-rest-example-eur-custom-items.json")
    assert all(i["product_id"] is None and not i["sku"] for i in raw["line_items"])
    resp = await client.post(merchant.shopify_orders(), data=body)
    assert (await resp.json())["status"] == "recorded"
    resp = await client.get("/api/stock", headers=merchant.auth)
    assert (await resp.json())["items"] == []
    [sale] = await sales_of(client, merchant)
    assert (sale["currency"], sale["total"]) == ("EUR", raw["total_price"])


def _price(value: Any) -> str | None:
    return None if value in ("", None) else str(value)


@pytest.mark.parametrize("name", WOO_PRODUCTS)
async def test_woocommerce_product_fixture(client: TestClient, merchant: Merchant, name: str):
    body = (FIXTURES / "woocommerce" / name).read_bytes()
    raw = json.loads(body, parse_float=Decimal)
    resp = await client.post(merchant.woo_products(), data=body)
    assert resp.status == 200, await resp.text()
    ref = f"woocommerce:{raw['id']}"
    assert await resp.json() == {"status": "product_updated", "product_ref": ref}
    resp = await client.get("/api/products", headers=merchant.auth)
    [product] = (await resp.json())["items"]
    manage = raw.get("manage_stock")
    assert product["product_ref"] == ref
    assert product["name"] == raw["name"]
    assert product["sku"] == _text(raw.get("sku"))
    assert product["price"] == _price(raw.get("price"))
    assert product["product_type"] == raw.get("type")
    assert product["parent_id"] == _id(raw.get("parent_id"))
    assert product["manage_stock"] == (str(manage).lower() if isinstance(manage, bool) else manage)
    assert product["stock_quantity"] == raw.get("stock_quantity")
    # The catalogue appears beside the ledger's own stock, which no product delivery moves.
    resp = await client.get(f"/api/stock/{ref}", headers=merchant.auth)
    level = await resp.json()
    assert level["quantity"] == 0
    assert level["platform_reported_quantity"] == raw.get("stock_quantity")
    again = await client.post(merchant.woo_products(), data=body)
    assert (await again.json())["status"] == "duplicate"
