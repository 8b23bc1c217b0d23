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
    manage_stock: str | None

    @property
    def tracked(self) -> bool | None:
        """Whether the platform counts this entry's stock; None until a delivery says.

        WooCommerce's ``manage_stock`` is ``true``, ``false`` or, on a variation whose
        parent keeps the stock, ``"parent"``: then the store counts the parent's stock, not
        this entry's, and the count reported here is the parent's, so neither says whether
        this entry's own count can be compared (None)."""
        return {"true": True, "false": False}.get(self.manage_stock or "")

    @property
    def reported_quantity(self) -> int | None:
        """The platform's count of this entry's own stock (a parent's is not)."""
        return None if self.manage_stock == "parent" else self.stock_quantity


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
                e.manage_stock,
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
            v.manage_stock,
        )
        for v in e.variants
    ]


def report_recorded_at(e: Any) -> datetime:
    """When the platform's report in a product delivery event was recorded: a correction
    restates an earlier delivery, whose report it is, not a new one."""
    if isinstance(e, Product.InterpretationCorrected):
        recorded: datetime = e.delivery_recorded_at
        return recorded
    stamp: datetime = e.timestamp
    return stamp
