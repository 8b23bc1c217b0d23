"""Immutable domain values that the platform adapters produce and the aggregates consume."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Platform = Literal["woocommerce", "shopify"]
PLATFORMS: tuple[Platform, ...] = ("woocommerce", "shopify")

# What an order means to the ledger, whatever the platform calls it.
#   pending:   received but not (yet) a sale; no stock moves.
#   sale:      a sale; stock is deducted once.
#   cancelled: a cancelled sale.
#   refunded:  a refunded sale.
SaleStatus = Literal["pending", "sale", "cancelled", "refunded"]

ZERO = Decimal("0")


def product_ref(
    platform: str, product_id: str | None, variation_id: str | None, sku: str | None
) -> str | None:
    """The stock key of a line or product: ``"{platform}:{id}"``.

    The id is the variation/variant id when there is one, else the product id. A line that
    names only a SKU is keyed ``"{platform}:sku:{sku}"`` so that it still moves stock; a
    line with none of the three (a custom line) has no reference and moves no stock.
    """
    if variation_id:
        return f"{platform}:{variation_id}"
    if product_id:
        return f"{platform}:{product_id}"
    if sku:
        return f"{platform}:sku:{sku}"
    return None


@dataclass(frozen=True)
class Customer:
    name: str | None
    email: str | None


@dataclass(frozen=True)
class OrderLine:
    """One line of an order, with the platform's raw ids kept apart.

    Ids are strings (platform ids are numbers in JSON but opaque to us); ``None`` means the
    platform did not send one (WooCommerce's ``variation_id: 0`` is ``None``).
    """

    line_id: str | None
    product_id: str | None
    variation_id: str | None
    sku: str | None
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    # The store's own stock bookkeeping for this line, when it keeps one (WooCommerce's
    # ``_reduced_stock`` and ``_restock_refunded_items`` line meta): how many it holds out of
    # stock now, and how many refunds have put back. None: the line does not say.
    reduced_stock: int | None = None
    restocked: int | None = None

    def product_ref(self, platform: str) -> str | None:
        return product_ref(platform, self.product_id, self.variation_id, self.sku)


@dataclass(frozen=True)
class RefundLine:
    """One refunded line: which order line, how many, and whether they go back on the shelf.

    ``restock`` is the platform's word (Shopify ``restock_type`` ``return``, ``cancel`` or
    ``legacy_restock``); the product ids are the refund's own copy of the line's, so a refund
    that arrives before its order still knows what it restocks.
    """

    line_id: str | None
    product_id: str | None
    variation_id: str | None
    sku: str | None
    quantity: int
    restock: bool
    restock_type: str | None


@dataclass(frozen=True)
class Refund:
    """A refund, a fact the platform never undoes; ``amount`` is positive money given back."""

    refund_id: str
    amount: Decimal
    lines: tuple[RefundLine, ...]
    created_at: datetime | None


@dataclass(frozen=True)
class OrderSnapshot:
    """An order as one delivery shows it, already translated from the platform's JSON."""

    platform: Platform
    external_id: str
    # None: a status the ledger does not know (a plugin's); only the platform status changes.
    status: SaleStatus | None
    platform_status: str
    customer: Customer
    lines: tuple[OrderLine, ...]
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    discount: Decimal
    total: Decimal
    currency: str | None
    payment_method: str | None
    created_at: datetime | None
    modified_at: datetime | None
    # Refunds the snapshot shows (WooCommerce: id and total only; Shopify: with lines).
    refunds: tuple[Refund, ...] = ()


@dataclass(frozen=True)
class SaleDetails:
    """What a sale is, apart from its status: who bought what, for how much. Events that set
    it (SaleRecorded, SaleAmended, DetailsNoted) carry these fields, each under its name."""

    customer: Customer
    lines: tuple[OrderLine, ...]
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    discount: Decimal
    total: Decimal
    currency: str | None
    payment_method: str | None

    @classmethod
    def of(cls, source: Any) -> SaleDetails:
        """The details of a snapshot, or of an event that carries them."""
        found = {f.name: getattr(source, f.name) for f in fields(cls)}
        return cls(**{**found, "lines": tuple(found["lines"])})

    def as_fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def changed(self, other: SaleDetails) -> list[str]:
        """The names of the fields ``other`` has otherwise."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


@dataclass(frozen=True)
class RefundSnapshot:
    """A refund delivered on its own (Shopify ``refunds/create``), naming its order."""

    platform: Platform
    order_external_id: str
    refund: Refund


@dataclass(frozen=True)
class DeletedSnapshot:
    """A deletion notice: the platform sends only the id (``{"id": N}``)."""

    platform: Platform
    external_id: str


@dataclass(frozen=True)
class ProductVariant:
    """A sellable variant inside a product delivery (Shopify); stock is keyed by its id."""

    variant_id: str
    name: str | None
    sku: str | None
    price: Decimal | None
    stock_quantity: int | None
    # Whether the platform counts this variant's stock, as ``ProductSnapshot.manage_stock``
    # says it: ``"true"``, ``"false"``, or None when the delivery does not say.
    manage_stock: str | None = None


@dataclass(frozen=True)
class ProductSnapshot:
    """A product (or a variation sent as a product) as one delivery shows it.

    ``manage_stock`` and ``stock_quantity`` are the platform's own stock figures: information
    for reconciliation, never a stock movement.
    """

    platform: Platform
    external_id: str
    name: str | None
    sku: str | None
    price: Decimal | None
    product_type: str | None
    parent_id: str | None
    manage_stock: str | None
    stock_quantity: int | None
    platform_status: str | None
    modified_at: datetime | None
    variants: tuple[ProductVariant, ...] = ()

    @property
    def product_ref(self) -> str:
        return f"{self.platform}:{self.external_id}"


@dataclass(frozen=True)
class Delivery:
    """What we know about one HTTP delivery, apart from its body.

    ``headers`` keeps the platform's own headers (``X-WC-*``, ``X-Shopify-*``), the user agent
    and the content type, lower-cased; never authorisation or cookies.
    """

    topic: str | None
    delivery_id: str | None
    webhook_id: str | None
    event_id: str | None
    source: str | None
    headers: dict[str, str]
    received_at: datetime
    verification: str
    body_sha256: str

    @classmethod
    def of(cls, event: Any) -> Delivery:
        """The delivery an event recorded (one carrying the delivery's fields)."""
        return cls(**{f.name: getattr(event, f.name) for f in fields(cls)})

    def as_fields(self) -> dict[str, Any]:
        """The fields, as an event records them."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**found, "headers": dict(self.headers)}


# A receipt of an object pulled from the platform's API (service/backfill/) names the answer
# it came from under these keys of its ``headers``, beside the answer's own headers (a
# webhook's kept headers are only the platform's own, so none can carry them).
PULLED_METHOD = "x-ledger-pulled-method"
PULLED_URL = "x-ledger-pulled-url"  # the logical URL: no credentials
PULLED_STATUS = "x-ledger-pulled-status"
ANSWER_SHA256 = "x-ledger-answer-sha256"  # the whole answer's (in raw_deliveries too)
ITEM_OFFSET = "x-ledger-item-offset"  # where the receipt's body starts in the answer
PULLED_KEYS = (PULLED_METHOD, PULLED_URL, PULLED_STATUS, ANSWER_SHA256, ITEM_OFFSET)
