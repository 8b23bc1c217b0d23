"""Shopify product bodies (``products/create``/``products/update``) as catalogue snapshots."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from service.adapters import shopify
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from tests.unit.adapters.helpers import exact

# The shape of Shopify's REST Product resource (a products/update body is the inner object),
# trimmed to a realistic subset: two colour variants, one of them oversold.
PRODUCT_BODY = b"""{
  "id": 632910392,
  "title": "IPod Nano - 8GB",
  "body_html": "<p>It's the small iPod with one very big idea: Video.</p>",
  "vendor": "Apple",
  "product_type": "Cult Products",
  "created_at": "2025-01-10T16:23:25-05:00",
  "handle": "ipod-nano",
  "updated_at": "2025-04-02T11:38:15-05:00",
  "published_at": "2007-12-31T19:00:00-05:00",
  "template_suffix": null,
  "published_scope": "global",
  "tags": "Emotive, Flash Memory, MP3, Music",
  "status": "active",
  "admin_graphql_api_id": "gid://shopify/Product/632910392",
  "variants": [
    {
      "id": 808950810,
      "product_id": 632910392,
      "title": "Pink",
      "price": "199.00",
      "sku": "IPOD2008PINK",
      "position": 1,
      "inventory_policy": "continue",
      "compare_at_price": null,
      "option1": "Pink",
      "option2": null,
      "option3": null,
      "created_at": "2025-01-10T16:23:25-05:00",
      "updated_at": "2025-04-02T11:38:15-05:00",
      "taxable": true,
      "barcode": "1234_pink",
      "grams": 567,
      "weight": 1.25,
      "weight_unit": "lb",
      "inventory_item_id": 808950810,
      "inventory_quantity": 10,
      "old_inventory_quantity": 10,
      "requires_shipping": true,
      "admin_graphql_api_id": "gid://shopify/ProductVariant/808950810"
    },
    {
      "id": 49148385,
      "product_id": 632910392,
      "title": "Red",
      "price": "199.000",
      "sku": "IPOD2008RED",
      "position": 2,
      "inventory_policy": "continue",
      "option1": "Red",
      "inventory_item_id": 49148385,
      "inventory_quantity": -2,
      "old_inventory_quantity": -2,
      "admin_graphql_api_id": "gid://shopify/ProductVariant/49148385"
    }
  ],
  "options": [
    {"id": 594680422, "product_id": 632910392, "name": "Color", "position": 1,
     "values": ["Pink", "Red"]}
  ],
  "images": [],
  "image": null
}"""


def sample() -> dict[str, Any]:
    return copy.deepcopy(parse_json(PRODUCT_BODY))


def test_product_field_by_field() -> None:
    raw = json.loads(PRODUCT_BODY)
    snapshot = shopify.product_from_json(sample())
    assert (snapshot.platform, snapshot.external_id) == ("shopify", str(raw["id"]))
    assert (snapshot.name, snapshot.product_type) == (raw["title"], raw["product_type"])
    assert snapshot.platform_status == raw["status"]
    assert snapshot.modified_at == datetime.fromisoformat(raw["updated_at"])
    # Sold and stocked by variant: nothing of that on the product itself.
    assert (snapshot.sku, snapshot.price, snapshot.stock_quantity) == (None, None, None)
    assert (snapshot.parent_id, snapshot.manage_stock) == (None, None)
    assert snapshot.product_ref == "shopify:632910392"
    assert len(snapshot.variants) == len(raw["variants"])
    for variant, item in zip(snapshot.variants, raw["variants"], strict=True):
        assert variant.variant_id == str(item["id"])
        assert variant.name == f"{raw['title']} - {item['title']}"
        assert variant.sku == item["sku"]
        exact(variant.price, Decimal(item["price"]))
        assert variant.stock_quantity == item["inventory_quantity"]


def test_variant_names_follow_order_line_names() -> None:
    pink, red = shopify.product_from_json(sample()).variants
    assert (pink.name, red.name) == ("IPod Nano - 8GB - Pink", "IPod Nano - 8GB - Red")
    # Oversold (inventory_policy "continue"): the platform's figure, kept as information.
    assert red.stock_quantity == -2
    exact(red.price, Decimal("199.000"))


def test_default_title_variant_is_the_product() -> None:
    doc = sample()
    doc["variants"] = [
        {"id": 1070325040, "title": "Default Title", "price": "0.00", "sku": "", "grams": 0}
    ]
    [variant] = shopify.product_from_json(doc).variants
    assert (variant.variant_id, variant.name, variant.sku) == (
        "1070325040",
        "IPod Nano - 8GB",
        None,
    )
    # Newer API versions may leave inventory_quantity out: unknown, not zero.
    assert variant.stock_quantity is None
    exact(variant.price, Decimal("0.00"))


def test_a_product_without_variants_or_status() -> None:
    snapshot = shopify.product_from_json({"id": 5, "title": "Gift card"})
    assert (snapshot.name, snapshot.variants, snapshot.platform_status) == ("Gift card", (), None)


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"id": None}, "missing_field", "id"),
        ({"updated_at": "yesterday"}, "invalid_field", "updated_at"),
        ({"variants": [{"title": "Blue"}]}, "missing_field", "variants[0].id"),
        ({"variants": [{"id": 9, "price": 19.99}]}, "invalid_field", "variants[0].price"),
        (
            {"variants": [{"id": 9, "inventory_quantity": "many"}]},
            "invalid_field",
            "variants[0].inventory_quantity",
        ),
        ({"variants": {"id": 9}}, "invalid_field", "variants"),
        ({"line_items": []}, "not_a_product", None),
    ],
)
def test_bad_products_are_named(change: dict[str, Any], reason: str, field: str | None) -> None:
    doc = {**sample(), **change}
    with pytest.raises(PayloadError) as caught:
        shopify.product_from_json(doc)
    assert (caught.value.reason, caught.value.field) == (reason, field)


@pytest.mark.parametrize("doc", [[], {"id": 5}, {"id": 5, "financial_status": "paid"}])
def test_not_a_product(doc: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        shopify.product_from_json(doc)
    assert caught.value.reason == "not_a_product"


@pytest.mark.parametrize(
    ("fields", "manage_stock"),
    [
        ({"inventory_management": "shopify"}, "true"),
        ({"inventory_management": "amazon_marketplace_web"}, "true"),  # a fulfilment service
        ({"inventory_management": None}, "false"),
        ({}, None),  # API 2024-07 and later: the field is gone, nothing said
        ({"inventory_item": {"id": 1, "tracked": True}}, "true"),
        ({"inventory_item": {"tracked": False}, "inventory_management": "shopify"}, "false"),
        ({"tracked": True}, "true"),
        ({"inventory_item": {"id": 1}}, None),
    ],
)
def test_whether_shopify_counts_a_variant(fields: dict[str, Any], manage_stock: str | None):
    doc = sample()
    doc["variants"] = [{"id": 9, "title": "Blue", **fields}]
    [variant] = shopify.product_from_json(doc).variants
    assert variant.manage_stock == manage_stock


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tracked": "yes"}, "variants[0].tracked"),
        ({"inventory_item": {"tracked": 1}}, "variants[0].inventory_item.tracked"),
        ({"inventory_management": 7.5}, "variants[0].inventory_management"),
    ],
)
def test_an_unreadable_tracking_flag_is_named(fields: dict[str, Any], field: str) -> None:
    doc = {**sample(), "variants": [{"id": 9, **fields}]}
    with pytest.raises(PayloadError) as caught:
        shopify.product_from_json(doc)
    assert (caught.value.reason, caught.value.field) == ("invalid_field", field)
