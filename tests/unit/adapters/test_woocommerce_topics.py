"""WooCommerce refunds inside orders, deletion notices, and which parser a delivery goes to."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.adapters import woocommerce
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.helpers import exact, read_raw

WOO = FIXTURES / "woocommerce"
ORDER_FILES = sorted(WOO.glob("woocommerce-order-*.json"))
PRODUCT_FILES = sorted(WOO.glob("woocommerce-product-*.json"))
REFUNDED = WOO / "woocommerce-order-restapidocs-v3-723-completed-refunds.json"
ORDER = parse_json(REFUNDED.read_bytes())
PRODUCT = parse_json((WOO / "woocommerce-product-restapidocs-v3-794-simple.json").read_bytes())
ORDER_TOPICS = ["order.created", "order.updated", "order.deleted", "order.restored"]
PRODUCT_TOPICS = ["product.created", "product.updated", "product.deleted", "product.restored"]


# refunds


@pytest.mark.parametrize("path", ORDER_FILES, ids=lambda p: p.stem)
def test_refunds_field_by_field(path: Path) -> None:
    raw = read_raw(path)
    refunds = woocommerce.order_from_json(parse_json(path.read_bytes())).refunds
    assert len(refunds) == len(raw["refunds"])
    for refund, item in zip(refunds, raw["refunds"], strict=True):
        assert refund.refund_id == str(item["id"])
        exact(refund.amount, -Decimal(item["total"]))
        assert (refund.lines, refund.created_at) == ((), None)


def test_order_723_refunds() -> None:
    refunds = woocommerce.order_from_json(ORDER).refunds
    assert [refund.refund_id for refund in refunds] == ["726", "724"]
    exact(refunds[0].amount, Decimal("10.00"))
    exact(refunds[1].amount, Decimal("9.00"))


def with_refunds(refunds: Any) -> dict[str, Any]:
    return {"id": 1, "status": "completed", "total": "5.00", "refunds": refunds}


def test_refund_totals_keep_their_scale() -> None:
    order = woocommerce.order_from_json(with_refunds([{"id": 8, "total": "-2.500"}]))
    exact(order.refunds[0].amount, Decimal("2.500"))


@pytest.mark.parametrize(
    ("refunds", "reason", "field"),
    [
        ([{"total": "-1.00"}], "missing_field", "refunds[0].id"),
        (
            [{"id": 7, "total": "-1.00"}, {"id": 0, "total": "-1.00"}],
            "invalid_field",
            "refunds[1].id",
        ),
        ([{"id": 7}], "missing_field", "refunds[0].total"),
        ([{"id": 7, "total": -1.5}], "invalid_field", "refunds[0].total"),
        ([7], "invalid_field", "refunds[0]"),
        ({"id": 7}, "invalid_field", "refunds"),
    ],
)
def test_bad_refunds_are_named(refunds: Any, reason: str, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        woocommerce.order_from_json(with_refunds(refunds))
    assert (caught.value.reason, caught.value.field) == (reason, field)


# deletion notices


def test_deleted_from_json() -> None:
    deleted = woocommerce.deleted_from_json(parse_json(b'{"id": 727}'))
    assert (deleted.platform, deleted.external_id) == ("woocommerce", "727")


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        ({"id": 0}, "invalid_field", "id"),
        ({"id": None}, "missing_field", "id"),
        ({}, "not_a_deletion", None),
        ([], "not_a_deletion", None),
        ({"id": 727, "status": "trash"}, "not_a_deletion", None),
        (ORDER, "not_a_deletion", None),
    ],
)
def test_bad_deletion_notices(doc: Any, reason: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as caught:
        woocommerce.deleted_from_json(doc)
    assert (caught.value.reason, caught.value.field) == (reason, field)


# classify


@pytest.mark.parametrize("topic", [*ORDER_TOPICS, None])
def test_an_order_body_is_an_order_under_any_order_topic(topic: str | None) -> None:
    # order.deleted on a full order shows the order: a snapshot, never a deletion.
    assert woocommerce.classify(topic, ORDER, "order") == "order"


@pytest.mark.parametrize("topic", [*PRODUCT_TOPICS, None])
def test_a_product_body_is_a_product_under_any_product_topic(topic: str | None) -> None:
    assert woocommerce.classify(topic, PRODUCT, "product") == "product"


@pytest.mark.parametrize("path", ORDER_FILES + PRODUCT_FILES, ids=lambda p: p.stem)
def test_every_fixture_without_a_topic(path: Path) -> None:
    endpoint = "order" if "-order-" in path.name else "product"
    assert woocommerce.classify(None, parse_json(path.read_bytes()), endpoint) == endpoint


@pytest.mark.parametrize(
    ("topic", "endpoint", "expected"),
    [
        ("order.deleted", "order", "order_deleted"),
        ("product.deleted", "product", "product_deleted"),
        (" Order.Deleted ", "order", "order_deleted"),
    ],
)
def test_a_bare_id_is_a_deletion(topic: str | None, endpoint: str, expected: str) -> None:
    assert woocommerce.classify(topic, {"id": 727}, endpoint) == expected


@pytest.mark.parametrize(
    ("topic", "endpoint", "reason"),
    [
        # WooCommerce always names its topic: a bare id without one deletes nothing.
        (None, "order", "not_an_order"),
        ("", "order", "not_an_order"),
        (None, "product", "not_a_product"),
        ("order.created", "order", "not_an_order"),
        ("order.updated", "order", "not_an_order"),
        ("order.restored", "order", "not_an_order"),
        ("product.created", "product", "not_a_product"),
        ("product.updated", "product", "not_a_product"),
        ("product.restored", "product", "not_a_product"),
    ],
)
def test_a_bare_id_under_another_topic_is_refused(
    topic: str | None, endpoint: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        woocommerce.classify(topic, {"id": 727}, endpoint)
    assert (caught.value.reason, caught.value.field) == (reason, None)


@pytest.mark.parametrize(
    ("topic", "endpoint", "doc"),
    [
        ("product.updated", "order", ORDER),
        ("product.deleted", "order", {"id": 727}),
        ("order.created", "product", PRODUCT),
        ("order.deleted", "product", {"id": 794}),
        ("coupon.created", "order", ORDER),
        ("action.woocommerce_order_status_changed", "order", ORDER),
        ("order.created" + "x" * 500, "order", ORDER),
    ],
)
def test_topics_of_another_family_are_unsupported(topic: str, endpoint: str, doc: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        woocommerce.classify(topic, doc, endpoint)
    assert caught.value.reason == "unsupported_topic"
    assert len(caught.value.detail) < 140


def test_a_body_of_the_other_kind_goes_to_the_endpoint_parser() -> None:
    # The topic does not reroute a body: the endpoint's parser refuses what is not its own.
    assert woocommerce.classify("order.updated", PRODUCT, "order") == "order"
    with pytest.raises(PayloadError) as caught:
        woocommerce.order_from_json(PRODUCT)
    # A product has a status too, so it is read as far as the order total it lacks.
    assert (caught.value.reason, caught.value.field) == ("missing_field", "total")
    assert woocommerce.classify(None, [], "order") == "order"
