"""Shopify webhook bodies (REST Admin API shapes) as domain values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.values import (
    ZERO,
    Customer,
    DeletedSnapshot,
    Delivery,
    OrderLine,
    OrderSnapshot,
    SaleStatus,
)
from service.adapters.common import (
    PayloadError,
    as_list,
    as_object,
    exact_arithmetic,
    full_name,
    ident,
    money,
    objects,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)
from service.adapters.headers import delivery_headers, header
from service.adapters.shopify_products import is_product_body
from service.adapters.shopify_products import product_from_json as product_from_json
from service.adapters.shopify_refunds import is_refund_body, order_refunds
from service.adapters.shopify_refunds import refund_from_json as refund_from_json
from service.adapters.topics import deleted_id, is_deletion_notice, unsupported_topic

# What the platform registry (service/adapters/registry.py) reads: this module is a Platform.
NAME = "shopify"
HEADER_PREFIX = "x-shopify-"
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TRIGGERED_AT_HEADER: str | None = "x-shopify-triggered-at"
# Shopify has no trash: nothing is restored.
RESTORE_TOPICS: frozenset[str] = frozenset()
# What each topic announces. ``orders/edited`` is routed to the order parser as asked, but its
# real body is ``{"order_edit": {...}}`` (what changed, not the order), which that parser refuses
# as not_an_order; the edited order itself arrives as ``orders/updated``.
_TOPICS = {
    "orders/create": "order",
    "orders/paid": "order",
    "orders/updated": "order",
    "orders/cancelled": "order",
    "orders/fulfilled": "order",
    "orders/partially_fulfilled": "order",
    "orders/edited": "order",
    "orders/delete": "order_deleted",
    "refunds/create": "refund",
    "products/create": "product",
    "products/update": "product",
    "products/delete": "product_deleted",
}
# The family a deletion topic belongs to, for a snapshot body sent under it.
_SNAPSHOT_OF = {"order_deleted": "order", "product_deleted": "product"}


def order_from_json(doc: Any) -> OrderSnapshot:
    """An order body (``orders/create``, ``orders/updated``, ...) as an ``OrderSnapshot``.

    Shopify creates an order only at checkout, so every order is a sale unless it is cancelled
    or fully refunded. Amounts are the shop-currency fields.
    """
    with exact_arithmetic():
        return _order(doc)


def _order(doc: Any) -> OrderSnapshot:
    if not isinstance(doc, dict) or ("line_items" not in doc and "financial_status" not in doc):
        raise PayloadError("not_an_order", None, "the body is not a Shopify order")
    external_id = required_ident(doc.get("id"), "id")
    financial_status = text(doc.get("financial_status"), "financial_status")
    return OrderSnapshot(
        platform="shopify",
        external_id=external_id,
        status=_status(doc, financial_status),
        platform_status=financial_status or "unknown",
        customer=_customer(doc),
        lines=_lines(doc),
        subtotal=money(doc.get("subtotal_price"), "subtotal_price", optional=True),
        shipping=_shipping(doc),
        tax=money(doc.get("total_tax"), "total_tax", optional=True),
        discount=money(doc.get("total_discounts"), "total_discounts", optional=True),
        total=money(doc.get("total_price"), "total_price"),
        currency=text(doc.get("currency"), "currency"),
        payment_method=_payment_method(doc),
        created_at=timestamp(doc.get("created_at"), "created_at"),
        modified_at=timestamp(doc.get("updated_at"), "updated_at"),
        refunds=order_refunds(doc, external_id),
    )


def _status(doc: Mapping[str, Any], financial_status: str | None) -> SaleStatus:
    # Cancellation wins: a cancelled order is usually also refunded, and it is the cancel that
    # decides what happens to stock.
    if text(doc.get("cancelled_at"), "cancelled_at"):
        return "cancelled"
    if financial_status == "refunded":
        return "refunded"
    return "sale"


def _lines(doc: Mapping[str, Any]) -> tuple[OrderLine, ...]:
    return tuple(_line(item, path) for path, item in objects(doc.get("line_items"), "line_items"))


def _line(item: Mapping[str, Any], path: str) -> OrderLine:
    """One line item. Shopify REST line items carry no line total, so it is computed here as
    ``price * quantity`` minus the line's discount (see ``_line_discount``).

    ``quantity`` is the quantity ordered; ``current_quantity`` (after edits and refunds) is
    ignored on purpose: refunds reach the ledger as their own events.
    """
    count = quantity(item.get("quantity"), f"{path}.quantity")
    price = money(item.get("price"), f"{path}.price")
    name = text(item.get("name"), f"{path}.name") or text(item.get("title"), f"{path}.title")
    return OrderLine(
        line_id=ident(item.get("id"), f"{path}.id"),
        product_id=ident(item.get("product_id"), f"{path}.product_id"),
        variation_id=ident(item.get("variant_id"), f"{path}.variant_id"),
        sku=sku(item.get("sku"), f"{path}.sku"),
        name=name or "",
        quantity=count,
        unit_price=price,
        total=price * count - _line_discount(item, path),
    )


def _line_discount(item: Mapping[str, Any], path: str) -> Decimal:
    # ``discount_allocations`` holds every discount applied to the line, including its share of
    # order-level codes; the older ``total_discount`` holds only line-level ones (a real
    # orders/cancelled body has total_discount 10.00 beside allocations 10.00 + 103.50). With
    # the allocations the line totals add up to ``subtotal_price``, so they win when present.
    allocations = list(objects(item.get("discount_allocations"), f"{path}.discount_allocations"))
    if not allocations:
        return money(item.get("total_discount"), f"{path}.total_discount", optional=True)
    total = ZERO
    for allocation_path, allocation in allocations:
        total += money(allocation.get("amount"), f"{allocation_path}.amount")
    return total


def _customer(doc: Mapping[str, Any]) -> Customer:
    # Guest orders have no ``customer`` (or a null one); fall back to the billing address and
    # the order's own email.
    customer = as_object(doc.get("customer"), "customer")
    billing = as_object(doc.get("billing_address"), "billing_address")
    name = (
        full_name(customer, "customer")
        or text(billing.get("name"), "billing_address.name")
        or full_name(billing, "billing_address")
    )
    email = (
        text(customer.get("email"), "customer.email")
        or text(doc.get("email"), "email")
        or text(doc.get("contact_email"), "contact_email")
    )
    return Customer(name=name.strip() if name else None, email=email)


def _shipping(doc: Mapping[str, Any]) -> Decimal:
    price_set = as_object(doc.get("total_shipping_price_set"), "total_shipping_price_set")
    shop_money = as_object(price_set.get("shop_money"), "total_shipping_price_set.shop_money")
    if shop_money.get("amount") is not None:
        return money(shop_money["amount"], "total_shipping_price_set.shop_money.amount")
    total = ZERO
    for path, line in objects(doc.get("shipping_lines"), "shipping_lines"):
        total += money(line.get("price"), f"{path}.price", optional=True)
    return total


def _payment_method(doc: Mapping[str, Any]) -> str | None:
    names = as_list(doc.get("payment_gateway_names"), "payment_gateway_names")
    found = [
        name
        for index, raw in enumerate(names)
        if (name := text(raw, f"payment_gateway_names[{index}]")) is not None
    ]
    return ", ".join(found) or text(doc.get("gateway"), "gateway")


def deleted_from_json(doc: Any) -> DeletedSnapshot:
    """An ``orders/delete`` or ``products/delete`` body, which is only ``{"id": N}``."""
    return DeletedSnapshot(platform="shopify", external_id=deleted_id(doc))


def classify(topic: str | None, doc: Any, endpoint: str = "order") -> str:
    """What a delivery is: ``"order"``, ``"order_deleted"``, ``"refund"``, ``"product"`` or
    ``"product_deleted"``.

    An unknown topic is refused whatever the body. Otherwise the body decides, since the topic
    header is not signed: a refund, order or product body is that, whatever topic it came
    under. The topic only settles what the body cannot: a bare ``{"id": N}`` is a deletion
    under ``orders/delete`` or ``products/delete`` and nothing otherwise (without a topic it
    could be either, so it is refused), and a body of no recognisable shape goes to the
    topic's parser, which names what is wrong with it.
    """
    topic = (topic or "").strip().lower() or None
    announced = None if topic is None else _TOPICS.get(topic)
    if topic is not None and announced is None:
        raise unsupported_topic(topic, "on the Shopify endpoint")
    if is_deletion_notice(doc):
        if announced is not None and announced in _SNAPSHOT_OF:
            return announced
        detail = f"a bare id under {topic}" if topic else "a bare id without a topic"
        raise PayloadError("not_an_order", None, f"{detail} shows nothing to record")
    shape = _shape(doc)
    if shape is not None:
        return shape
    if announced is None:
        raise PayloadError("not_an_order", None, "the body is no Shopify order, refund or product")
    return _SNAPSHOT_OF.get(announced, announced)


def _shape(doc: Any) -> str | None:
    # Refunds first: they name an order (``order_id``) but are not one. Orders before
    # products: an order has line items, which a product never has.
    if is_refund_body(doc):
        return "refund"
    if isinstance(doc, dict) and ("line_items" in doc or "financial_status" in doc):
        return "order"
    if is_product_body(doc):
        return "product"
    return None


def delivery_from_headers(
    headers: Mapping[str, str], *, received_at: datetime, verification: str, body_sha256: str
) -> Delivery:
    """What the ``X-Shopify-*`` headers say about a delivery.

    ``X-Shopify-Event-Id`` is the same on every retry of one event, so it is the delivery id
    when present; ``X-Shopify-Webhook-Id`` stands in for older deliveries without it.
    """
    event_id = header(headers, "x-shopify-event-id")
    webhook_id = header(headers, "x-shopify-webhook-id")
    return Delivery(
        topic=header(headers, "x-shopify-topic"),
        delivery_id=event_id or webhook_id,
        webhook_id=webhook_id,
        event_id=event_id,
        source=header(headers, "x-shopify-shop-domain"),
        headers=delivery_headers(headers, HEADER_PREFIX),
        received_at=received_at,
        verification=verification,
        body_sha256=body_sha256,
    )


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """Shopify sends no ping: a subscription is tested with a real topic."""
    return False
