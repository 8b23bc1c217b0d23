"""Shopify webhook bodies (REST Admin API shapes) as domain values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.values import ZERO, Customer, Delivery, OrderLine, OrderSnapshot, SaleStatus
from service.adapters.common import (
    PayloadError,
    as_list,
    as_object,
    delivery_headers,
    exact_arithmetic,
    full_name,
    header,
    ident,
    money,
    objects,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)

HEADER_PREFIX = "x-shopify-"


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
