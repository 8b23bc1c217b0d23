"""Shopify refunds, delivered alone (``refunds/create``) or embedded in orders."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aggregates.values import Refund
from service.adapters import shopify
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.helpers import exact, id_or_none, read_raw

SHOPIFY = FIXTURES / "shopify"
ORDER_FILES = sorted(SHOPIFY.glob("shopify-order-*.json"))
REFUND_FILES = sorted(SHOPIFY.glob("shopify-refund-*.json"))
LEGACY = SHOPIFY / "shopify-refund-shopify-rest-example-legacy-restock.json"
NO_RESTOCK = SHOPIFY / "shopify-refund-shopify-rest-example-no-restock.json"
SHIPPING_ONLY = SHOPIFY / "shopify-refund-shopify-rest-example-shipping-only.json"
ORDER_450789469 = SHOPIFY / "shopify-order-shopify-rest-example-450789469.json"
CANCELLED_REST = SHOPIFY / "shopify-order-shopify-rest-example-cancelled.json"
CANCELLED_REAL = SHOPIFY / "shopify-order-activepieces-orders-cancelled.json"


def inner(doc: Any, key: str) -> Any:
    """REST examples are wrapped ({"refund": {...}}); a webhook body is the inner object."""
    return doc[key] if isinstance(doc, dict) and isinstance(doc.get(key), dict) else doc


def body(path: Path, key: str = "refund") -> Any:
    return inner(parse_json(path.read_bytes()), key)


def expected_amount(raw: dict[str, Any]) -> Decimal:
    return sum(
        (
            Decimal(t["amount"])
            for t in raw["transactions"]
            if t["kind"] == "refund" and t["status"] == "success"
        ),
        Decimal(0),
    )


def assert_same_refund(refund: Refund, raw: dict[str, Any]) -> None:
    assert refund.refund_id == str(raw["id"])
    exact(refund.amount, expected_amount(raw))
    assert refund.created_at == datetime.fromisoformat(raw["created_at"])
    assert len(refund.lines) == len(raw["refund_line_items"])
    for line, item in zip(refund.lines, raw["refund_line_items"], strict=True):
        line_item = item.get("line_item") or {}
        assert line.line_id == str(item["line_item_id"])
        assert line.product_id == id_or_none(line_item.get("product_id"))
        assert line.variation_id == id_or_none(line_item.get("variant_id"))
        assert line.sku == (line_item.get("sku") or None)
        assert line.quantity == item["quantity"]
        assert line.restock_type == item["restock_type"]
        assert line.restock == (item["restock_type"] in ("return", "cancel", "legacy_restock"))


@pytest.mark.parametrize("path", REFUND_FILES, ids=lambda p: p.stem)
def test_refund_fixture_field_by_field(path: Path) -> None:
    raw = inner(read_raw(path), "refund")
    snapshot = shopify.refund_from_json(body(path))
    assert (snapshot.platform, snapshot.order_external_id) == ("shopify", str(raw["order_id"]))
    assert_same_refund(snapshot.refund, raw)


@pytest.mark.parametrize("path", ORDER_FILES, ids=lambda p: p.stem)
def test_embedded_refunds_field_by_field(path: Path) -> None:
    raw = inner(read_raw(path), "order")
    refunds = shopify.order_from_json(body(path, "order")).refunds
    assert len(refunds) == len(raw["refunds"])
    for refund, raw_refund in zip(refunds, raw["refunds"], strict=True):
        assert_same_refund(refund, raw_refund)


def test_legacy_restock_brings_both_lines_back() -> None:
    refund = shopify.refund_from_json(body(LEGACY)).refund
    assert refund.refund_id == "509562969"
    exact(refund.amount, Decimal("209.00"))
    assert [(line.line_id, line.variation_id, line.sku) for line in refund.lines] == [
        ("703073504", "457924702", "IPOD2008BLACK"),
        ("466157049", "39072856", "IPOD2008GREEN"),
    ]
    assert [(line.quantity, line.restock) for line in refund.lines] == [(1, True), (1, True)]


def test_no_restock_gives_money_only() -> None:
    snapshot = shopify.refund_from_json(body(NO_RESTOCK))
    assert snapshot.order_external_id == "450789469"
    exact(snapshot.refund.amount, Decimal("41.94"))
    [line] = snapshot.refund.lines
    assert (line.line_id, line.sku, line.quantity) == ("518995019", "IPOD2008RED", 1)
    assert (line.restock, line.restock_type) == (False, "no_restock")


def test_shipping_only_refund_has_no_lines() -> None:
    raw = inner(read_raw(SHIPPING_ONLY), "refund")
    refund = shopify.refund_from_json(body(SHIPPING_ONLY)).refund
    shipping = raw["refund_shipping_lines"][0]["subtotal_amount_set"]["shop_money"]["amount"]
    assert refund.lines == ()
    exact(refund.amount, Decimal(shipping))
    exact(refund.amount, Decimal("5.00"))


def test_refunds_embedded_in_orders() -> None:
    [first] = shopify.order_from_json(body(ORDER_450789469, "order")).refunds
    assert (first.refund_id, [line.restock for line in first.lines]) == ("509562969", [True] * 2)
    # The same refund delivered alone is the same fact, apart from its creation time.
    alone = shopify.refund_from_json(body(LEGACY)).refund
    assert (first.refund_id, first.amount, first.lines) == (
        alone.refund_id,
        alone.amount,
        alone.lines,
    )
    [cancel] = shopify.order_from_json(body(CANCELLED_REST, "order")).refunds
    assert cancel.refund_id == "929361465"
    assert [line.restock_type for line in cancel.lines] == ["no_restock"] * 3
    [real] = shopify.order_from_json(body(CANCELLED_REAL, "order")).refunds
    exact(real.amount, Decimal("1806.38"))
    assert [(line.quantity, line.restock, line.sku) for line in real.lines] == [
        (1, False, None),
        (2, False, None),
    ]


# without transactions: the amount is rebuilt from the parts


def without_transactions(doc: dict[str, Any]) -> dict[str, Any]:
    trimmed = copy.deepcopy(doc)
    del trimmed["transactions"]
    return trimmed


def test_fallback_counts_shipping_once() -> None:
    # refund_shipping_lines 5.00 and a shipping_refund adjustment -5.00 are the same money.
    refund = shopify.refund_from_json(without_transactions(body(SHIPPING_ONLY))).refund
    exact(refund.amount, Decimal("5.00"))


def test_fallback_matches_the_real_capture() -> None:
    [raw] = body(CANCELLED_REAL, "order")["refunds"]
    doc = {**without_transactions(raw), "order_id": raw["order_id"]}
    # lines 586.45 + 1189.93, shipping only as an adjustment of -30.00 (no shipping lines key)
    exact(shopify.refund_from_json(doc).refund.amount, Decimal("1806.38"))


def test_fallback_on_a_reference_example_is_what_its_lines_say() -> None:
    # Shopify's example refunds 399.29 of lines with a 209.00 transaction: the transactions win.
    refund = shopify.refund_from_json(without_transactions(body(LEGACY))).refund
    exact(refund.amount, Decimal("399.29"))


def minimal_refund(**fields: Any) -> dict[str, Any]:
    return {"id": 7, "order_id": 1, "refund_line_items": [], **fields}


@pytest.mark.parametrize(
    ("adjustments", "shipping", "expected"),
    [
        # a real refunds/create: no lines, a -1.00 discrepancy, a 1.00 transaction
        ([{"kind": "refund_discrepancy", "amount": "-1.00", "tax_amount": "0.00"}], [], "1.00"),
        ([{"kind": "refund_discrepancy", "amount": "2.50"}], [], "7.50"),
        ([], [{"subtotal_amount_set": {"shop_money": {"amount": "4.00"}}}], "14.00"),
        ([{"kind": "shipping_refund", "amount": "-4.00", "tax_amount": "-0.40"}], [], "14.40"),
    ],
)
def test_fallback_adjustments(
    adjustments: list[dict[str, Any]], shipping: list[dict[str, Any]], expected: str
) -> None:
    lines = [] if expected == "1.00" else [{"quantity": 1, "subtotal": "9.00", "total_tax": "1.00"}]
    doc = minimal_refund(
        refund_line_items=lines, order_adjustments=adjustments, refund_shipping_lines=shipping
    )
    exact(shopify.refund_from_json(doc).refund.amount, Decimal(expected))


def test_only_successful_refund_transactions_count() -> None:
    transactions = [
        {"kind": "refund", "status": "success", "amount": "3.00"},
        {"kind": "refund", "status": "pending", "amount": "50.00"},
        {"kind": "refund", "status": "failure", "amount": "60.00"},
        {"kind": "sale", "status": "success", "amount": "70.00"},
        {"kind": "refund", "status": "success", "amount": "0.50"},
    ]
    refund = shopify.refund_from_json(minimal_refund(transactions=transactions)).refund
    exact(refund.amount, Decimal("3.50"))
    restock_only = shopify.refund_from_json(minimal_refund(transactions=[])).refund
    assert (restock_only.amount, restock_only.created_at) == (Decimal(0), None)


@pytest.mark.parametrize("restock_type", ["return", "cancel", "legacy_restock"])
def test_restocking_types(restock_type: str) -> None:
    items = [{"line_item_id": 3, "quantity": 2, "restock_type": restock_type}]
    [line] = shopify.refund_from_json(minimal_refund(refund_line_items=items)).refund.lines
    assert (line.line_id, line.quantity, line.restock, line.restock_type) == (
        "3",
        2,
        True,
        restock_type,
    )
    # Without the embedded line item the refund knows the line, not the product.
    assert (line.product_id, line.variation_id, line.sku) == (None, None, None)


# bad input


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        ({"id": 1, "order_id": 2}, "not_a_refund", None),
        ([], "not_a_refund", None),
        (minimal_refund(id=None), "missing_field", "id"),
        (minimal_refund(order_id=0), "invalid_field", "order_id"),
        (
            minimal_refund(refund_line_items=[{"line_item_id": 3, "quantity": -1}]),
            "invalid_field",
            "refund_line_items[0].quantity",
        ),
        (
            minimal_refund(transactions=[{"kind": "refund", "status": "success", "amount": 1.5}]),
            "invalid_field",
            "transactions[0].amount",
        ),
        (
            minimal_refund(order_adjustments=[{"kind": "refund_discrepancy", "amount": "3.00"}]),
            "invalid_field",
            "order_adjustments",
        ),
    ],
)
def test_bad_refunds_are_named(doc: Any, reason: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.refund_from_json(doc)
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_an_order_is_not_a_refund() -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.refund_from_json(body(ORDER_450789469, "order"))
    assert caught.value.reason == "not_a_refund"


def order_with(refunds: list[Any]) -> dict[str, Any]:
    return {"id": 1, "total_price": "0", "line_items": [], "refunds": refunds}


@pytest.mark.parametrize(
    ("refunds", "reason", "field"),
    [
        ([{"transactions": []}], "missing_field", "refunds[0].id"),
        ([{"id": 5, "order_id": 2, "transactions": []}], "invalid_field", "refunds[0].order_id"),
        (["x"], "invalid_field", "refunds[0]"),
        (
            [{"id": 5, "refund_line_items": [{"quantity": 1, "line_item": {"sku": 5.5}}]}],
            "invalid_field",
            "refunds[0].refund_line_items[0].line_item.sku",
        ),
    ],
)
def test_bad_embedded_refunds_are_named(refunds: list[Any], reason: str, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.order_from_json(order_with(refunds))
    assert (caught.value.reason, caught.value.field) == (reason, field)
