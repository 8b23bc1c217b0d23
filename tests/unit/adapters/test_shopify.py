"""Shopify order bodies, real and reference examples, as domain values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from aggregates.values import Customer, OrderSnapshot
from service.adapters import shopify
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.helpers import exact, read_raw

SHOPIFY = FIXTURES / "shopify"
ORDER_FILES = sorted(SHOPIFY.glob("shopify-order-*.json"))
REFUND_FILES = sorted(SHOPIFY.glob("shopify-refund-*.json"))


def unwrap(doc: Any) -> Any:
    """REST reference examples come as {"order": {...}}; a webhook body is the inner object."""
    return doc["order"] if isinstance(doc, dict) and isinstance(doc.get("order"), dict) else doc


def raw(path: Path) -> Any:
    return unwrap(read_raw(path))


def order(path: Path) -> OrderSnapshot:
    return shopify.order_from_json(unwrap(parse_json(path.read_bytes())))


def expected_customer(doc: dict[str, Any]) -> Customer:
    customer = doc.get("customer") or {}
    billing = doc.get("billing_address") or {}
    name = " ".join(filter(None, (customer.get("first_name"), customer.get("last_name"))))
    email = customer.get("email") or doc.get("email") or doc.get("contact_email")
    return Customer(name=name or billing.get("name") or None, email=email or None)


def expected_line_discount(item: dict[str, Any]) -> Decimal:
    allocations = item.get("discount_allocations") or []
    if allocations:
        return sum((Decimal(a["amount"]) for a in allocations), Decimal(0))
    return Decimal(item["total_discount"])


def test_every_fixture_is_found() -> None:
    assert len(ORDER_FILES) >= 5
    assert len(REFUND_FILES) >= 3


@pytest.mark.parametrize("path", ORDER_FILES, ids=lambda p: p.stem)
def test_order_fixture_field_by_field(path: Path) -> None:
    doc, snapshot = raw(path), order(path)
    assert snapshot.platform == "shopify"
    assert snapshot.external_id == str(doc["id"])
    assert snapshot.platform_status == doc["financial_status"]
    assert snapshot.currency == doc["currency"]
    exact(snapshot.subtotal, Decimal(doc["subtotal_price"]))
    exact(snapshot.total, Decimal(doc["total_price"]))
    exact(snapshot.tax, Decimal(doc["total_tax"]))
    exact(snapshot.discount, Decimal(doc["total_discounts"]))
    exact(snapshot.shipping, Decimal(doc["total_shipping_price_set"]["shop_money"]["amount"]))
    assert snapshot.customer == expected_customer(doc)
    assert snapshot.payment_method == (
        ", ".join(filter(None, doc["payment_gateway_names"])) or None
    )
    assert snapshot.created_at == datetime.fromisoformat(doc["created_at"])
    assert snapshot.modified_at == datetime.fromisoformat(doc["updated_at"])
    assert len(snapshot.lines) == len(doc["line_items"])
    for line, item in zip(snapshot.lines, doc["line_items"], strict=True):
        assert line.line_id == str(item["id"])
        assert line.product_id == (str(item["product_id"]) if item["product_id"] else None)
        assert line.variation_id == (str(item["variant_id"]) if item["variant_id"] else None)
        assert line.sku == (item["sku"] or None)
        assert line.name == item["name"]
        assert line.quantity == item["quantity"]
        exact(line.unit_price, Decimal(item["price"]))
        price_times_quantity = Decimal(item["price"]) * item["quantity"]
        exact(line.total, price_times_quantity - expected_line_discount(item))


def test_reference_order_450789469() -> None:
    snapshot = order(SHOPIFY / "shopify-order-shopify-rest-example-450789469.json")
    # Partially refunded is still a sale: refunds reach the ledger as their own events.
    assert (snapshot.status, snapshot.platform_status) == ("sale", "partially_refunded")
    exact(snapshot.total, Decimal("598.94"))
    assert [line.line_id for line in snapshot.lines] == ["466157049", "518995019", "703073504"]
    assert [line.sku for line in snapshot.lines] == [
        "IPOD2008GREEN",
        "IPOD2008RED",
        "IPOD2008BLACK",
    ]
    assert [line.product_ref("shopify") for line in snapshot.lines] == [
        "shopify:39072856",
        "shopify:49148385",
        "shopify:457924702",
    ]
    # The green line was refunded (current_quantity 0), but the order still sold one.
    assert snapshot.lines[0].quantity == 1
    assert snapshot.customer == Customer(name="Bob Norman", email="bob.norman@mail.example.com")
    assert snapshot.payment_method == "bogus"


def test_cancelled_orders() -> None:
    reference = order(SHOPIFY / "shopify-order-shopify-rest-example-cancelled.json")
    real = order(SHOPIFY / "shopify-order-activepieces-orders-cancelled.json")
    assert (reference.status, reference.platform_status) == ("cancelled", "refunded")
    assert (real.status, real.platform_status) == ("cancelled", "refunded")
    assert [line.quantity for line in real.lines] == [1, 2]


def test_line_totals_include_order_level_discounts() -> None:
    # In the real capture the line totals, net of every discount allocation, add up to
    # subtotal_price; total_discount alone (10.00) would leave 313.47 unaccounted for.
    snapshot = order(SHOPIFY / "shopify-order-activepieces-orders-cancelled.json")
    exact(snapshot.lines[0].total, Decimal("586.45"))
    exact(snapshot.lines[1].total, Decimal("1189.93"))
    assert sum(line.total for line in snapshot.lines) == snapshot.subtotal == Decimal("1776.38")


def test_guest_and_custom_line_orders() -> None:
    guest = order(SHOPIFY / "shopify-order-activepieces-orders-create-guest.json")
    assert guest.customer == Customer(name=None, email=None)
    assert (guest.status, guest.lines[0].sku) == ("sale", "sku-hosted-1")
    exact(guest.total, Decimal("2629.95"))
    custom = order(SHOPIFY / "shopify-order-shopify-rest-example-eur-custom-items.json")
    (line,) = custom.lines
    assert (custom.currency, custom.payment_method) == ("EUR", None)
    assert (line.product_id, line.variation_id, line.sku, line.quantity) == (None, None, None, 3)
    assert line.product_ref("shopify") is None
    exact(line.total, Decimal("224.97"))


def minimal(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "total_price": "0", "financial_status": "paid", "line_items": [], **fields}


def test_guest_customer_falls_back_to_billing_then_order_email() -> None:
    doc = minimal(billing_address={"name": "Ana Ruiz"}, email="", contact_email="ana@example.com")
    assert shopify.order_from_json(doc).customer == Customer("Ana Ruiz", "ana@example.com")
    doc = minimal(customer={"first_name": "Ana", "email": None}, email="order@example.com")
    assert shopify.order_from_json(doc).customer == Customer("Ana", "order@example.com")


def test_shipping_falls_back_to_shipping_lines() -> None:
    doc = minimal(shipping_lines=[{"price": "4.50"}, {"price": "1.25"}])
    exact(shopify.order_from_json(doc).shipping, Decimal("5.75"))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"payment_gateway_names": ["shopify_payments", "gift_card"]},
            "shopify_payments, gift_card",
        ),
        ({"payment_gateway_names": [""], "gateway": "manual"}, "manual"),
        ({"payment_gateway_names": []}, None),
        ({}, None),
    ],
)
def test_payment_method(fields: dict[str, Any], expected: str | None) -> None:
    assert shopify.order_from_json(minimal(**fields)).payment_method == expected


def test_status_without_financial_status() -> None:
    snapshot = shopify.order_from_json({"id": 5, "line_items": [], "total_price": "0.00"})
    assert (snapshot.status, snapshot.platform_status) == ("sale", "unknown")
    refunded = shopify.order_from_json(minimal(financial_status="refunded"))
    assert refunded.status == "refunded"


# bad input


@pytest.mark.parametrize("path", REFUND_FILES, ids=lambda p: p.stem)
def test_a_refund_is_not_an_order(path: Path) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.order_from_json(raw(path))
    assert caught.value.reason == "not_an_order"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{not json", "invalid_json", None),
        (b'{"id": 1, "total_price": "0", "total_price": NaN}', "invalid_json", None),
        (b"[]", "not_an_order", None),
        (b'{"order": {"id": 1, "total_price": "0", "line_items": []}}', "not_an_order", None),
        (b'{"line_items": []}', "missing_field", "id"),
        (
            b'{"id": 1, "total_price": "0", "line_items": [{"price": "1.00", "quantity": "abc"}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total_price": "0", "line_items": [{"price": "1.00", "quantity": 1.5}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total_price": "0", "line_items": [{"price": "1.00", "quantity": false}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total_price": "0", "line_items": [{"quantity": 1}]}',
            "missing_field",
            "line_items[0].price",
        ),
        (
            b'{"id": 1, "total_price": "0", "line_items": [{"quantity": 1, "price": "1", '
            b'"discount_allocations": [{"amount": "x"}]}]}',
            "invalid_field",
            "line_items[0].discount_allocations[0].amount",
        ),
        (
            b'{"id": 1, "total_price": "0", "financial_status": "paid", "created_at": "later"}',
            "invalid_field",
            "created_at",
        ),
    ],
)
def test_bad_bodies_are_named(body: bytes, reason: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.order_from_json(parse_json(body))
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_float_price_is_refused() -> None:
    doc = minimal(line_items=[{"id": 2, "quantity": 1, "price": 19.99}])
    with pytest.raises(PayloadError) as caught:
        shopify.order_from_json(doc)
    assert caught.value.field == "line_items[0].price"


# headers


def delivery_of(headers: dict[str, str]) -> Any:
    return shopify.delivery_from_headers(
        CIMultiDict(headers),
        received_at=datetime(2024, 5, 1),
        verification="hmac",
        body_sha256="00" * 32,
    )


def test_delivery_from_headers() -> None:
    delivery = delivery_of(
        {
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Hmac-Sha256": "aGVsbG8=",
            "X-Shopify-Shop-Domain": "shop.myshopify.com",
            "X-Shopify-API-Version": "2024-04",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
            "X-Shopify-Triggered-At": "2024-05-01T12:00:00Z",
            "Authorization": "Bearer secret",
            "Cookie": "a=b",
            "Content-Type": "application/json",
        }
    )
    assert (delivery.topic, delivery.source) == ("orders/paid", "shop.myshopify.com")
    assert delivery.event_id == delivery.delivery_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert delivery.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert set(delivery.headers) == {
        "x-shopify-topic",
        "x-shopify-hmac-sha256",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-triggered-at",
        "content-type",
    }


def test_delivery_id_falls_back_to_the_webhook_id() -> None:
    delivery = delivery_of({"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "w1"})
    assert (delivery.event_id, delivery.delivery_id, delivery.webhook_id) == (None, "w1", "w1")


def test_line_totals_of_long_prices_are_exact() -> None:
    doc = minimal(line_items=[{"id": 1, "price": "123456789012345.12345678901234", "quantity": 3}])
    [line] = shopify.order_from_json(doc).lines
    assert str(line.total) == "370370367037035.37037036703702"
