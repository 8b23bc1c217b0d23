"""The stock adjustment aggregate, pure: once per key, conflicts and rules."""

from __future__ import annotations

from uuid import uuid4

import pytest

from aggregates.stock_adjustment import (
    AdjustmentConflictError,
    InvalidAdjustmentError,
    StockAdjustment,
    check_product_ref,
)


def _replay(events: list) -> StockAdjustment:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def test_one_key_is_one_adjustment():
    user = uuid4()
    adjustment = StockAdjustment.open(user, "k")
    assert adjustment.id == StockAdjustment.create_id(user, "k")
    assert adjustment.id != StockAdjustment.create_id(uuid4(), "k")
    assert adjustment.adjust("woocommerce:42", 5, "counted", "cli:ana") == "adjusted"
    events = adjustment.collect_events()
    assert [type(e).__name__ for e in events] == ["Opened", "StockAdjusted"]
    adjusted = events[-1]
    assert (adjusted.product_ref, adjusted.by, adjusted.reason) == ("woocommerce:42", 5, "counted")
    assert (adjusted.actor, adjusted.key, adjusted.user_id) == ("cli:ana", "k", user)

    again = _replay(events)
    assert again.adjust("woocommerce:42", 5, "counted", "api:ana") == "duplicate"
    assert again.collect_events() == []
    with pytest.raises(AdjustmentConflictError):
        again.adjust("woocommerce:42", 6, "counted", "cli:ana")
    with pytest.raises(AdjustmentConflictError):
        again.adjust("shopify:42", 5, "counted", "cli:ana")


@pytest.mark.parametrize(
    ("ref", "by", "reason"),
    [
        ("woocommerce:42", 0, "r"),
        ("woocommerce:42", True, "r"),
        ("woocommerce:42", 2**40, "r"),
        ("woocommerce:42", 1, ""),
        ("woocommerce:42", 1, " \n"),
        ("woocommerce:42", 1, "a\x00b"),
        ("woocommerce:42", 1, "\udcff"),
        ("woocommerce:42", 1, "x" * 501),
        ("etsy:42", 1, "r"),
        ("woocommerce:", 1, "r"),
    ],
)
def test_rules(ref, by, reason):
    adjustment = StockAdjustment.open(uuid4(), "k")
    with pytest.raises(InvalidAdjustmentError):
        adjustment.adjust(ref, by, reason, "cli:ana")


@pytest.mark.parametrize("key", ["", "k" * 201, "\udcff"])
def test_keys_are_bounded_text(key):
    with pytest.raises(InvalidAdjustmentError):
        StockAdjustment.open(uuid4(), key)


@pytest.mark.parametrize(
    "ref",
    [
        "woocommerce:42",
        "woocommerce:A B",
        "woocommerce:sku:A\tB",
        "woocommerce:sku:50%25OFF",
        "shopify:sku: spaced ",
        "woocommerce:%42",
    ],
)
def test_every_reference_a_delivery_can_make_is_taken(ref: str) -> None:
    assert check_product_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "woocommerce:",
        "woocommerce:sku:",
        "woocommerce:sku:  ",
        "woocommerce: 42",
        "x:1",
        "woocommerce:4\x002",
    ],
)
def test_references_no_delivery_makes_are_refused(ref: str) -> None:
    with pytest.raises(InvalidAdjustmentError):
        check_product_ref(ref)
