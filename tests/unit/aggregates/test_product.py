"""The product aggregate, pure: deliveries, duplicates, and corrections after a re-read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from aggregates.product import Product, ProductMismatchError
from aggregates.values import Delivery, ProductSnapshot
from tests.builders import delivery

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def _delivery(sha: str) -> Delivery:
    return delivery(sha, T0, topic="product.updated")


def _snapshot(stock: int | None, name: str = "Mug") -> ProductSnapshot:
    return ProductSnapshot(
        "woocommerce", "42", name, "SKU-42", Decimal("9.50"), "simple", None, "yes", stock,
        "publish", T0,
    )  # fmt: skip


def _replay(events: list) -> Product:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def _product_with(*snapshots: ProductSnapshot) -> tuple[Product, list]:
    product = Product.open(uuid4(), "woocommerce", "42")
    for n, snapshot in enumerate(snapshots):
        assert product.update(_delivery(f"sha{n}"), snapshot) == "product_updated"
    return product, product.collect_events()


def test_a_delivery_is_recorded_once_and_remembered_as_read():
    _, events = _product_with(_snapshot(5))
    assert [type(e).__name__ for e in events] == ["Opened", "ProductUpdated"]
    again = _replay(events)
    assert again.readings == {2: _snapshot(5)}
    assert again.update(_delivery("sha0"), _snapshot(6)) == "duplicate"


def test_correct_restates_the_first_changed_delivery_and_every_later_one():
    _, events = _product_with(_snapshot(5), _snapshot(4, "Mug, blue"), _snapshot(3))
    product = _replay(events)
    reread = [
        (2, _delivery("sha0"), _snapshot(5)),
        (3, _delivery("sha1"), _snapshot(7, "Mug, blue")),
        (4, _delivery("sha2"), _snapshot(3)),
    ]
    found = product.correct(reread, "re-read", "v2")
    assert found == ["delivery 3: stock_quantity: 4 -> 7"]
    corrections = product.collect_events()
    assert [(c.receipt_version, c.stock_quantity) for c in corrections] == [(3, 7), (4, 3)]
    assert [c.differences for c in corrections] == [("stock_quantity: 4 -> 7",), ()]
    assert all((c.reason, c.code_version, c.body_sha256[:3]) == ("re-read", "v2", "sha")
               for c in corrections)  # fmt: skip

    corrected = _replay(events + corrections)
    assert corrected.readings[3] == _snapshot(7, "Mug, blue")
    assert corrected.correct(reread, "re-read", "v2") == []  # a second run: nothing
    assert corrected.collect_events() == []


def test_correct_refuses_a_reading_of_another_product():
    product = _replay(_product_with(_snapshot(5))[1])
    other = dataclasses.replace(_snapshot(5), external_id="43")
    with pytest.raises(ProductMismatchError):
        product.correct([(2, _delivery("sha0"), other)], "re-read", "v2")
