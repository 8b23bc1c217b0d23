"""WooCommerce product bodies, the save-time ping and delivery headers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from service.adapters import woocommerce
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.builders import FIXTURES
from tests.unit.adapters.helpers import exact, id_or_none, read_raw, utc

WOO = FIXTURES / "woocommerce"
PRODUCT_FILES = sorted(WOO.glob("woocommerce-product-*.json"))


def test_every_fixture_is_found() -> None:
    assert len(PRODUCT_FILES) >= 4


# products


@pytest.mark.parametrize("path", PRODUCT_FILES, ids=lambda p: p.stem)
def test_product_fixture_field_by_field(path: Path) -> None:
    doc = read_raw(path)
    product = woocommerce.product_from_json(parse_json(path.read_bytes()))
    assert product.platform == "woocommerce"
    assert product.external_id == str(doc["id"])
    assert product.product_ref == f"woocommerce:{doc['id']}"
    assert product.name == doc["name"]
    assert product.sku == (doc["sku"] or None)
    if doc["price"]:
        exact(product.price, Decimal(doc["price"]))
    else:
        assert product.price is None
    assert product.product_type == doc["type"]
    assert product.parent_id == id_or_none(doc["parent_id"])
    expected_manage = {True: "true", False: "false"}.get(doc["manage_stock"], doc["manage_stock"])
    assert product.manage_stock == expected_manage
    assert product.stock_quantity == doc["stock_quantity"]
    assert product.platform_status == doc["status"]
    assert product.modified_at == utc(doc["date_modified_gmt"])


def test_variation_sent_as_a_product() -> None:
    path = WOO / "woocommerce-product-wcios-variation-as-product.json"
    product = woocommerce.product_from_json(parse_json(path.read_bytes()))
    assert (product.manage_stock, product.sku, product.parent_id) == ("parent", "345345-2", "205")
    exact(product.price, Decimal("22.72"))


def test_product_stock_may_be_negative_on_backorder() -> None:
    doc = {"id": 3, "name": "Mug", "manage_stock": True, "stock_quantity": -2, "price": ""}
    product = woocommerce.product_from_json(doc)
    assert (product.manage_stock, product.stock_quantity, product.price) == ("true", -2, None)


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        ([], "not_a_product", None),
        ({"id": 3}, "not_a_product", None),
        ({"id": 3, "status": "processing", "line_items": []}, "not_a_product", None),
        ({"name": "Mug"}, "missing_field", "id"),
        ({"id": 3, "name": "Mug", "stock_quantity": "abc"}, "invalid_field", "stock_quantity"),
        ({"id": 3, "name": "Mug", "price": 1.5}, "invalid_field", "price"),
    ],
)
def test_bad_products(doc: Any, reason: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as caught:
        woocommerce.product_from_json(doc)
    assert (caught.value.reason, caught.value.field) == (reason, field)


# ping and headers


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=12", True),
        ({}, b"webhook_id=12\n", True),
        ({"X-WC-Webhook-Topic": "order.created"}, b"webhook_id=12", False),
        ({"x-wc-webhook-id": "12"}, b"webhook_id=12", False),
        ({}, b"webhook_id=abc", False),
        ({}, b"webhook_id=12&other=1", False),
        ({}, b'{"webhook_id": 12}', False),
        ({}, b"", False),
    ],
)
def test_is_ping(headers: dict[str, str], body: bytes, expected: bool) -> None:
    assert woocommerce.is_ping(headers, body) is expected
    assert woocommerce.is_ping(CIMultiDict(headers), body) is expected


def test_delivery_from_headers() -> None:
    received = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    headers = CIMultiDict(
        {
            "X-WC-Webhook-Source": "https://shop.example/",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": "updated",
            "X-WC-Webhook-Signature": "c2lnbmF0dXJl",
            "X-WC-Webhook-ID": "3",
            "X-WC-Webhook-Delivery-ID": "a1b2",
            "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)",
            "Authorization": "Basic c2VjcmV0",
            "Cookie": "wp=1",
        }
    )
    delivery = woocommerce.delivery_from_headers(
        headers, received_at=received, verification="hmac", body_sha256="ab" * 32
    )
    assert (delivery.topic, delivery.delivery_id, delivery.webhook_id) == (
        "order.updated",
        "a1b2",
        "3",
    )
    assert (delivery.event_id, delivery.source) == (None, "https://shop.example/")
    assert (delivery.received_at, delivery.verification) == (received, "hmac")
    assert "authorization" not in delivery.headers and "cookie" not in delivery.headers
    assert delivery.headers["x-wc-webhook-signature"] == "c2lnbmF0dXJl"
    assert delivery.headers["user-agent"].startswith("WooCommerce/")
    assert all(name == name.lower() for name in delivery.headers)
