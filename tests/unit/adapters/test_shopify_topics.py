"""Which Shopify parser a delivery goes to, whatever its unsigned topic says; deletions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.adapters import shopify
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.test_shopify_products import PRODUCT_BODY

SHOPIFY = FIXTURES / "shopify"
ORDER_FILES = sorted(SHOPIFY.glob("shopify-order-*.json"))
REFUND_FILES = sorted(SHOPIFY.glob("shopify-refund-*.json"))


def inner(path: Path) -> Any:
    doc = parse_json(path.read_bytes())
    for key in ("order", "refund", "inventory_level"):
        if isinstance(doc.get(key), dict):
            return doc[key]
    return doc


ORDER = inner(SHOPIFY / "shopify-order-shopify-rest-example-450789469.json")
REFUND = inner(SHOPIFY / "shopify-refund-shopify-rest-example-legacy-restock.json")
PRODUCT = parse_json(PRODUCT_BODY)
INVENTORY = inner(SHOPIFY / "shopify-inventory-level-shopifypythonapi.json")
ORDER_TOPICS = [
    "orders/create",
    "orders/paid",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/edited",
]
ALL_TOPICS = [
    *ORDER_TOPICS,
    "orders/delete",
    "refunds/create",
    "products/create",
    "products/update",
    "products/delete",
]


@pytest.mark.parametrize("topic", [*ORDER_TOPICS, "orders/delete", None])
def test_an_order_body_is_an_order(topic: str | None) -> None:
    # orders/delete or orders/cancelled on a full order body shows the order, nothing more.
    assert shopify.classify(topic, ORDER) == "order"


@pytest.mark.parametrize("topic", ["refunds/create", None])
def test_a_refund_body_is_a_refund(topic: str | None) -> None:
    assert shopify.classify(topic, REFUND) == "refund"


@pytest.mark.parametrize("topic", ["products/create", "products/update", "products/delete", None])
def test_a_product_body_is_a_product(topic: str | None) -> None:
    assert shopify.classify(topic, PRODUCT) == "product"


@pytest.mark.parametrize("path", ORDER_FILES + REFUND_FILES, ids=lambda p: p.stem)
def test_every_fixture_without_a_topic(path: Path) -> None:
    expected = "order" if "-order-" in path.name else "refund"
    assert shopify.classify(None, inner(path)) == expected


@pytest.mark.parametrize(
    ("topic", "doc", "expected"),
    [
        # The signed body decides; the header cannot turn one kind of fact into another.
        ("refunds/create", ORDER, "order"),
        ("products/update", ORDER, "order"),
        ("orders/paid", REFUND, "refund"),
        ("products/delete", REFUND, "refund"),
        ("orders/create", PRODUCT, "product"),
        ("orders/delete", PRODUCT, "product"),
        ("refunds/create", PRODUCT, "product"),
    ],
)
def test_bodies_that_disagree_with_their_topic(topic: str, doc: Any, expected: str) -> None:
    assert shopify.classify(topic, doc) == expected


@pytest.mark.parametrize(
    ("topic", "expected"),
    [("orders/delete", "order_deleted"), ("products/delete", "product_deleted")],
)
def test_a_bare_id_under_a_delete_topic(topic: str, expected: str) -> None:
    assert shopify.classify(topic, {"id": 450789469}) == expected
    assert shopify.classify(topic.upper(), {"id": 450789469}) == expected


@pytest.mark.parametrize("topic", [t for t in ALL_TOPICS if not t.endswith("/delete")] + [None, ""])
def test_a_bare_id_is_otherwise_refused(topic: str | None) -> None:
    # Without a topic a bare id could be an order or a product: refused, not guessed.
    with pytest.raises(PayloadError) as caught:
        shopify.classify(topic, {"id": 450789469})
    assert (caught.value.reason, caught.value.field) == ("not_an_order", None)


@pytest.mark.parametrize(
    ("topic", "doc"),
    [
        ("inventory_levels/update", INVENTORY),
        ("customers/create", {"id": 1, "email": "a@example.com"}),
        ("orders/deleted", {"id": 1}),
        ("app/uninstalled", {"id": 1}),
        ("order.created", ORDER),
        ("x" * 300, ORDER),
    ],
)
def test_unknown_topics_are_unsupported(topic: str, doc: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.classify(topic, doc)
    assert caught.value.reason == "unsupported_topic"
    assert '"' + topic.strip()[:20] in caught.value.detail  # as JSON writes it
    assert len(caught.value.detail) < 140


@pytest.mark.parametrize(
    ("topic", "doc", "expected"),
    [
        # Unrecognisable shapes go to the topic's parser, which names what is wrong.
        ("orders/create", {"id": 1, "total_price": "1.00"}, "order"),
        ("orders/delete", {"id": 1, "name": "#1001"}, "order"),
        ("refunds/create", {"id": 1, "note": "x"}, "refund"),
        ("products/delete", {"id": 1, "handle": "x"}, "product"),
    ],
)
def test_shapeless_bodies_follow_the_topic(topic: str, doc: Any, expected: str) -> None:
    assert shopify.classify(topic, doc) == expected


@pytest.mark.parametrize("doc", [INVENTORY, [], "x", {"id": 1, "total_price": "1.00"}])
def test_shapeless_bodies_without_a_topic_are_refused(doc: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.classify(None, doc)
    assert caught.value.reason == "not_an_order"


def test_the_real_orders_edited_body_is_not_an_order() -> None:
    # orders/edited sends what changed ({"order_edit": {...}}); the order follows as updated.
    doc = {"order_edit": {"id": 1, "order_id": 450789469, "line_items": {"additions": []}}}
    assert shopify.classify("orders/edited", doc) == "order"
    with pytest.raises(PayloadError) as caught:
        shopify.order_from_json(doc)
    assert caught.value.reason == "not_an_order"


# deletion notices


def test_deleted_from_json() -> None:
    deleted = shopify.deleted_from_json(parse_json(b'{"id": 450789469}'))
    assert (deleted.platform, deleted.external_id) == ("shopify", "450789469")


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        ({"id": ""}, "invalid_field", "id"),
        ({"id": True}, "invalid_field", "id"),
        ({"id": 1, "name": "#1001"}, "not_a_deletion", None),
        (ORDER, "not_a_deletion", None),
        (None, "not_a_deletion", None),
    ],
)
def test_bad_deletion_notices(doc: Any, reason: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.deleted_from_json(doc)
    assert (caught.value.reason, caught.value.field) == (reason, field)
