"""WooCommerce bodies, real and hand-written, as domain values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from aggregates.values import Customer, OrderSnapshot
from service.adapters import woocommerce
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.helpers import exact, id_or_none, read_raw, utc

WOO = FIXTURES / "woocommerce"
ORDER_FILES = sorted(WOO.glob("woocommerce-order-*.json"))

CURL_BODY = (
    b'{"id": 9999, "status": "processing", "billing": {"first_name": "Jane", "last_name": "Doe",'
    b' "email": "jane@example.com"}, "line_items": [{"product_id": 42, "name": "Sample Product",'
    b' "quantity": 1, "total": "19.99"}], "total": "19.99", "payment_method": "stripe"}'
)


def order(path: Path) -> OrderSnapshot:
    return woocommerce.order_from_json(parse_json(path.read_bytes()))


def test_every_fixture_is_found() -> None:
    assert len(ORDER_FILES) >= 5


@pytest.mark.parametrize("path", ORDER_FILES, ids=lambda p: p.stem)
def test_order_fixture_field_by_field(path: Path) -> None:
    doc, snapshot = read_raw(path), order(path)
    assert snapshot.platform == "woocommerce"
    assert snapshot.external_id == str(doc["id"])
    assert snapshot.platform_status == doc["status"]
    assert snapshot.currency == doc["currency"]
    exact(snapshot.total, Decimal(doc["total"]))
    exact(snapshot.shipping, Decimal(doc["shipping_total"]))
    exact(snapshot.tax, Decimal(doc["total_tax"]))
    exact(snapshot.discount, Decimal(doc["discount_total"]))
    exact(snapshot.subtotal, sum((Decimal(li["subtotal"]) for li in doc["line_items"]), Decimal(0)))
    billing = doc["billing"]
    assert snapshot.customer == Customer(
        name=f"{billing['first_name']} {billing['last_name']}", email=billing["email"]
    )
    assert snapshot.payment_method == (doc["payment_method"] or None)
    assert snapshot.created_at == utc(doc["date_created_gmt"])
    assert snapshot.modified_at == utc(doc["date_modified_gmt"])
    assert len(snapshot.lines) == len(doc["line_items"])
    for line, item in zip(snapshot.lines, doc["line_items"], strict=True):
        assert line.line_id == str(item["id"])
        assert line.product_id == id_or_none(item["product_id"])
        assert line.variation_id == id_or_none(item["variation_id"])
        assert line.sku == (item["sku"] or None)
        assert line.name == item["name"]
        assert line.quantity == item["quantity"]
        exact(line.unit_price, Decimal(item["price"]))
        exact(line.total, Decimal(item["total"]))


def test_order_727_guest_with_a_variation() -> None:
    snapshot = order(WOO / "woocommerce-order-restapidocs-v3-727.json")
    assert (snapshot.status, snapshot.external_id, snapshot.currency) == ("sale", "727", "USD")
    exact(snapshot.total, Decimal("29.35"))
    exact(snapshot.tax, Decimal("1.35"))
    simple, variation = snapshot.lines
    assert (simple.product_id, simple.variation_id, simple.sku, simple.quantity) == (
        "93",
        None,
        None,
        2,
    )
    assert simple.product_ref("woocommerce") == "woocommerce:93"
    assert (variation.product_id, variation.variation_id, variation.sku) == ("22", "23", "Bar3")
    assert variation.product_ref("woocommerce") == "woocommerce:23"
    exact(variation.unit_price, Decimal("12"))


def test_three_decimal_pending_order_keeps_its_scale() -> None:
    snapshot = order(WOO / "woocommerce-order-activepieces-pending-3decimals.json")
    assert (snapshot.status, snapshot.platform_status) == ("pending", "pending")
    exact(snapshot.total, Decimal("2.000"))
    exact(snapshot.lines[0].total, Decimal("2.000"))
    assert snapshot.lines[0].quantity == 2
    assert snapshot.payment_method == "cod"


def test_signed_delivery_and_free_order() -> None:
    signed = order(WOO / "woocommerce-order-erpnext-webhook-signed.json")
    assert (signed.status, signed.currency, signed.customer.name) == ("sale", "INR", "Tony Stark")
    exact(signed.total, Decimal("649.00"))
    free = order(WOO / "woocommerce-order-pipedream-wc8-testevent.json")
    assert (free.status, free.payment_method) == ("sale", None)
    exact(free.total, Decimal("0.00"))


def test_the_merchants_curl_test() -> None:
    snapshot = woocommerce.order_from_json(parse_json(CURL_BODY))
    assert (snapshot.status, snapshot.external_id) == ("sale", "9999")
    assert snapshot.customer == Customer(name="Jane Doe", email="jane@example.com")
    (line,) = snapshot.lines
    assert (line.line_id, line.product_id, line.variation_id, line.sku) == (None, "42", None, None)
    assert (line.name, line.quantity) == ("Sample Product", 1)
    exact(line.unit_price, Decimal("19.99"))
    exact(line.total, Decimal("19.99"))
    exact(snapshot.total, Decimal("19.99"))
    exact(snapshot.subtotal, Decimal("19.99"))
    assert snapshot.shipping == snapshot.tax == snapshot.discount == 0
    assert (snapshot.currency, snapshot.payment_method, snapshot.created_at) == (
        None,
        "stripe",
        None,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("processing", "sale"),
        ("on-hold", "sale"),
        ("completed", "sale"),
        ("pending", "pending"),
        ("failed", "pending"),
        ("checkout-draft", "pending"),
        ("some-plugin-status", None),
        ("cancelled", "cancelled"),
        ("refunded", "refunded"),
    ],
)
def test_status_mapping(status: str, expected: str | None) -> None:
    snapshot = woocommerce.order_from_json(
        {"id": 1, "total": "0", "status": status, "line_items": []}
    )
    assert (snapshot.status, snapshot.platform_status) == (expected, status)


def test_unit_price_from_total_when_price_is_absent() -> None:
    items = [
        {"quantity": 3, "total": "10.00"},
        {"quantity": 0, "total": "4.50"},
        {"quantity": 2, "total": "5.00"},
    ]
    doc = {
        "id": 1,
        "total": "0",
        "status": "processing",
        "line_items": items,
        "payment_method_title": "Cash",
    }
    snapshot = woocommerce.order_from_json(doc)
    prices = [str(line.unit_price) for line in snapshot.lines]
    assert prices == ["3.33", "4.50", "2.50"]
    assert snapshot.payment_method == "Cash"


def test_php_empty_array_billing_and_local_dates() -> None:
    doc = {
        "id": 1,
        "total": "0",
        "status": "pending",
        "billing": [],
        "date_created": "2024-01-02T03:04:05",
    }
    snapshot = woocommerce.order_from_json(doc)
    assert snapshot.customer == Customer(name=None, email=None)
    assert snapshot.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# bad input


def error_of(body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        woocommerce.order_from_json(parse_json(body))
    return caught.value


def test_not_json() -> None:
    assert error_of(b"webhook_id=12").reason == "invalid_json"


@pytest.mark.parametrize("body", [b"[]", b'"order"', b"null", b'{"id": 5}', b'{"name": "x"}'])
def test_not_an_order(body: bytes) -> None:
    error = error_of(body)
    assert (error.reason, error.field) == ("not_an_order", None)


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b'{"status": "processing", "line_items": []}', "missing_field", "id"),
        (b'{"id": true, "status": "processing"}', "invalid_field", "id"),
        (b'{"id": 0, "status": "processing"}', "invalid_field", "id"),
        (b'{"id": 1, "total": "0", "line_items": {"a": 1}}', "invalid_field", "line_items"),
        (b'{"id": 1, "total": "0", "line_items": [7]}', "invalid_field", "line_items[0]"),
        (
            b'{"id": 1, "total": "0", "line_items": [{"quantity": "abc"}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total": "0", "line_items": [{"quantity": 1.5}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total": "0", "line_items": [{"quantity": true}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "total": "0", "line_items": [{"quantity": -2}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (b'{"id": 1, "total": "0", "line_items": [{}]}', "missing_field", "line_items[0].quantity"),
        (
            b'{"id": 1, "total": "0",'
            b' "line_items": [{"quantity": 1, "total": "1"}, {"quantity": 1, "total": "x"}]}',
            "invalid_field",
            "line_items[1].total",
        ),
        (b'{"id": 1, "status": "processing", "total": "12,50"}', "invalid_field", "total"),
        # Less than nothing is no sale.
        (b'{"id": 1, "status": "processing", "total": "-5.00"}', "invalid_field", "total"),
        (
            b'{"id": 1, "status": "processing", "total": "5", "line_items":'
            b' [{"product_id": 4, "quantity": 1, "total": "-5.00"}]}',
            "invalid_field",
            "line_items[0].total",
        ),
        (
            b'{"id": 1, "status": "processing", "total": "5", "line_items":'
            b' [{"product_id": 4, "quantity": -1, "total": "5.00"}]}',
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            b'{"id": 1, "status": "processing", "total": "\xef\xbc\x93"}',
            "invalid_field",
            "total",
        ),  # a full-width three
        (b'{"id": "7\\u0000", "status": "processing", "total": "1"}', "invalid_field", "id"),
        (
            b'{"id": 1, "total": "0", "status": "processing", "date_created_gmt": "soon"}',
            "invalid_field",
            "date_created_gmt",
        ),
    ],
)
def test_bad_fields_are_named(body: bytes, reason: str, field: str) -> None:
    error = error_of(body)
    assert (error.reason, error.field) == (reason, field)
    assert field in str(error)


def test_nan_is_refused_before_the_adapter() -> None:
    error = error_of(b'{"id": 1, "total": "0", "line_items": [{"quantity": 1, "price": NaN}]}')
    assert error.reason == "invalid_json"


def test_float_amounts_are_refused() -> None:
    # What a body parsed with orjson would look like: the adapter must not accept it.
    doc = {"id": 1, "total": "0", "line_items": [{"quantity": 1, "price": 9.5, "total": "9.50"}]}
    with pytest.raises(PayloadError) as caught:
        woocommerce.order_from_json(doc)
    assert caught.value.field == "line_items[0].price"


def test_sums_of_long_amounts_are_exact() -> None:
    """Python's default decimal context keeps 28 digits; amounts here may have 35."""
    doc = {
        "id": 1,
        "status": "processing",
        "total": "100000000000001.00000000000000000001",
        "line_items": [
            {"quantity": 1, "total": "100000000000000.00000000000000000001"},
            {"quantity": 1, "total": "1"},
        ],
    }
    snapshot = woocommerce.order_from_json(doc)
    assert str(snapshot.subtotal) == "100000000000001.00000000000000000001"


LIVE = FIXTURES / "woocommerce-live"


def test_the_stores_own_stock_bookkeeping_is_read_from_the_line_meta() -> None:
    # Order 22 of the live day, refunded in full with "restock refunded items".
    doc = read_raw(LIVE / "056-order.updated.body")
    snapshot = woocommerce.order_from_json(
        parse_json((LIVE / "056-order.updated.body").read_bytes())
    )
    books = [(line.product_id, line.reduced_stock, line.restocked) for line in snapshot.lines]
    assert books == [("14", 0, 2), ("18", None, None), ("11", 0, 1)]
    for line, item in zip(snapshot.lines, doc["line_items"], strict=True):
        meta = {m["key"]: int(m["value"]) for m in item["meta_data"]}
        assert (line.reduced_stock, line.restocked) == (
            meta.get("_reduced_stock"),
            meta.get("_restock_refunded_items"),
        )


@pytest.mark.parametrize("path", ORDER_FILES, ids=lambda p: p.stem)
def test_older_bodies_carry_no_bookkeeping(path: Path) -> None:
    assert all(line.reduced_stock is None for line in order(path).lines)


def _line_meta(meta: object) -> dict[str, object]:
    item = {"id": 1, "product_id": 42, "quantity": 2, "total": "10.00", "meta_data": meta}
    return {"id": 5, "status": "processing", "total": "10.00", "line_items": [item]}


@pytest.mark.parametrize(
    ("meta", "books"),
    [
        ([{"id": 1, "key": "_reduced_stock", "value": "2"}], (2, None)),
        (
            [{"key": "_reduced_stock", "value": 2}, {"key": "_reduced_stock", "value": "9"}],
            (2, None),
        ),
        (
            [
                {"key": "_restock_refunded_items", "value": "1"},
                {"key": "_reduced_stock", "value": "1"},
            ],
            (1, 1),
        ),
        ([{"key": "pa_size", "value": ["S", "M"]}, {"key": "_qty", "value": "x"}], (None, None)),
        ([], (None, None)),
        ({}, (None, None)),  # PHP's empty array, as an object
        (None, (None, None)),
    ],
)
def test_line_meta_gives_the_bookkeeping(meta: object, books: tuple[int | None, int | None]):
    [line] = woocommerce.order_from_json(_line_meta(meta)).lines
    assert (line.reduced_stock, line.restocked) == books


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ([{"key": "_reduced_stock", "value": "two"}], "line_items[0].meta_data[0].value"),
        ([{"key": "_reduced_stock", "value": "-1"}], "line_items[0].meta_data[0].value"),
        (
            [{"key": "x"}, {"key": "_restock_refunded_items", "value": 1.5}],
            "line_items[0].meta_data[1].value",
        ),
        (["_reduced_stock"], "line_items[0].meta_data[0]"),
        ("_reduced_stock=2", "line_items[0].meta_data"),
    ],
)
def test_unreadable_bookkeeping_is_named(meta: object, field: str) -> None:
    body = json.dumps(_line_meta(meta)).encode()
    with pytest.raises(PayloadError) as caught:
        woocommerce.order_from_json(parse_json(body))
    assert (caught.value.reason, caught.value.field) == ("invalid_field", field)
