"""What a product delivery says each sellable item is: one entry per stock key.

A WooCommerce product (or variation, which WooCommerce sends as a product) is one entry; a
Shopify product is one entry per variant, since order lines, and so stock, name the variant.
Shared by the products and stock projections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.product import Product


@dataclass(frozen=True)
class Entry:
    product_ref: str
    external_id: str
    name: str | None
    sku: str | None
    price: Decimal | None
    parent_id: str | None
    stock_quantity: int | None


def entries(e: Any) -> list[Entry]:
    """The catalogue entries of a ``Product.ProductUpdated`` event."""
    if not e.variants:
        return [
            Entry(
                e.product_ref,
                e.external_id,
                e.name,
                e.sku,
                e.price,
                e.parent_id,
                e.stock_quantity,
            )
        ]
    return [
        Entry(
            f"{e.platform}:{v.variant_id}",
            v.variant_id,
            v.name or e.name,
            v.sku,
            v.price,
            e.external_id,
            v.stock_quantity,
        )
        for v in e.variants
    ]


def reported_at(e: Any) -> datetime:
    """When the platform's report in a product delivery event was recorded: a correction
    restates an earlier delivery, whose report it is, not a new one."""
    if isinstance(e, Product.InterpretationCorrected):
        recorded: datetime = e.delivery_recorded_at
        return recorded
    stamp: datetime = e.timestamp
    return stamp
