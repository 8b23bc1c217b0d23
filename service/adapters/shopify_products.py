"""Shopify products (REST ``Product`` shape) from ``products/create`` and ``products/update``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aggregates.values import ProductSnapshot, ProductVariant
from service.adapters.common import (
    PayloadError,
    objects,
    optional_money,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)

# The title Shopify gives the only variant of a product without options.
DEFAULT_VARIANT_TITLE = "Default Title"


def product_from_json(doc: Any) -> ProductSnapshot:
    """A product body as a ``ProductSnapshot`` whose ``variants`` are what is sold and stocked.

    On Shopify every sale names a variant, so SKU, price and stock, and whether Shopify counts
    that stock, live on the variants and are ``None`` on the product itself; there is no
    parent product.
    """
    if not is_product_body(doc):
        raise PayloadError("not_a_product", None, "the body is not a Shopify product")
    title = text(doc.get("title"), "title")
    return ProductSnapshot(
        platform="shopify",
        external_id=required_ident(doc.get("id"), "id"),
        name=title,
        sku=None,
        price=None,
        product_type=text(doc.get("product_type"), "product_type"),
        parent_id=None,
        manage_stock=None,
        stock_quantity=None,
        platform_status=text(doc.get("status"), "status"),
        modified_at=timestamp(doc.get("updated_at"), "updated_at"),
        variants=tuple(
            _variant(item, path, title) for path, item in objects(doc.get("variants"), "variants")
        ),
    )


def is_product_body(doc: Any) -> bool:
    """A product has variants, or at least a title, and never line items (orders do)."""
    return (
        isinstance(doc, dict) and "line_items" not in doc and ("variants" in doc or "title" in doc)
    )


def _variant(item: Mapping[str, Any], path: str, product_title: str | None) -> ProductVariant:
    stock = item.get("inventory_quantity")
    return ProductVariant(
        variant_id=required_ident(item.get("id"), f"{path}.id"),
        name=variant_name(product_title, text(item.get("title"), f"{path}.title")),
        sku=sku(item.get("sku"), f"{path}.sku"),
        price=optional_money(item.get("price"), f"{path}.price"),
        # Negative when the variant sells on (inventory_policy "continue"); information only.
        stock_quantity=None
        if stock is None
        else quantity(stock, f"{path}.inventory_quantity", signed=True),
        manage_stock=_tracked(item, path),
    )


def _tracked(item: Mapping[str, Any], path: str) -> str | None:
    """Whether Shopify counts the variant's stock, as ``"true"`` / ``"false"``; None when the
    body does not say.

    The variant's inventory item says so itself where the body carries it
    (``inventory_item.tracked``, or ``tracked`` on the variant). Older bodies say it with
    ``inventory_management``: ``"shopify"``, or the handle of the fulfilment service that
    counts it, when counted; null when not. Bodies from API 2024-07 on drop that field: a
    variant without any of them has not said.
    """
    inner = item.get("inventory_item")
    for value, field in (
        (inner.get("tracked") if isinstance(inner, dict) else None, "inventory_item.tracked"),
        (item.get("tracked"), "tracked"),
    ):
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is not None:
            raise PayloadError("invalid_field", f"{path}.{field}", "expected true or false")
    if "inventory_management" not in item:
        return None
    management = text(item.get("inventory_management"), f"{path}.inventory_management")
    return "false" if management is None else "true"


def variant_name(product_title: str | None, variant_title: str | None) -> str | None:
    """``"Product - Variant"``, the way Shopify names an order line of that variant
    (``"IPod Nano - 8gb - black"``), so the catalogue and the sales show the same name; the
    only variant of a product without options (``"Default Title"``) is the product itself."""
    if variant_title is None or variant_title == DEFAULT_VARIANT_TITLE:
        return product_title
    if product_title is None:
        return variant_title
    return f"{product_title} - {variant_title}"
