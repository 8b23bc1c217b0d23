"""WooCommerce webhook bodies (REST API v3 shapes) as domain values."""

from __future__ import annotations

import re
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
    ProductSnapshot,
    Refund,
    RefundSnapshot,
    SaleStatus,
)
from service.adapters.common import (
    PayloadError,
    as_object,
    divide,
    exact_arithmetic,
    full_name,
    ident,
    money,
    objects,
    optional_money,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)
from service.adapters.headers import delivery_headers, header
from service.adapters.topics import deleted_id, is_deletion_notice, unsupported_topic

# What the platform registry (service/adapters/registry.py) reads: this module is a Platform.
NAME = "woocommerce"
HEADER_PREFIX = "x-wc-"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TRIGGERED_AT_HEADER: str | None = None  # WooCommerce sends none
# Topics whose snapshot brings a deleted order or product back from the trash.
RESTORE_TOPICS = frozenset({"order.restored", "product.restored"})

# WooCommerce deducts stock when an order reaches processing, on-hold or completed, so those are
# the sales; pending, failed and checkout-draft are not (yet). A status we do not know (trash,
# a plugin's "shipped") maps to None: it changes nothing but the platform status we show.
_SALE_STATUS: dict[str, SaleStatus] = {
    "pending": "pending",
    "failed": "pending",
    "checkout-draft": "pending",
    "processing": "sale",
    "on-hold": "sale",
    "completed": "sale",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
# Line meta in which WooCommerce keeps its own stock bookkeeping (see _stock_meta).
_REDUCED_STOCK = "_reduced_stock"
_RESTOCKED = "_restock_refunded_items"
_PING_BODY = re.compile(rb"webhook_id=\d{1,20}")
# The topics each endpoint takes (``/woocommerce`` for orders, ``/producto`` for products).
_TOPICS = {
    "order": ("order.created", "order.updated", "order.deleted", "order.restored"),
    "product": ("product.created", "product.updated", "product.deleted", "product.restored"),
}


def order_from_json(doc: Any) -> OrderSnapshot:
    """An order delivery (``order.created``/``order.updated``/...) as an ``OrderSnapshot``."""
    with exact_arithmetic():
        return _order(doc)


def _order(doc: Any) -> OrderSnapshot:
    if not isinstance(doc, dict) or ("line_items" not in doc and "status" not in doc):
        # A deleted order's body is just {"id": N}: it names an order but shows none.
        raise PayloadError("not_an_order", None, "the body is not a WooCommerce order")
    external_id = required_ident(doc.get("id"), "id")
    platform_status = text(doc.get("status"), "status") or "unknown"
    items = list(objects(doc.get("line_items"), "line_items"))
    lines = tuple(_line(item, path) for path, item in items)
    return OrderSnapshot(
        platform="woocommerce",
        external_id=external_id,
        status=_SALE_STATUS.get(platform_status.lower()),
        platform_status=platform_status,
        customer=_customer(doc),
        lines=lines,
        subtotal=_subtotal(items, lines),
        shipping=money(doc.get("shipping_total"), "shipping_total", optional=True),
        tax=money(doc.get("total_tax"), "total_tax", optional=True),
        discount=money(doc.get("discount_total"), "discount_total", optional=True),
        total=money(doc.get("total"), "total"),
        currency=text(doc.get("currency"), "currency"),
        payment_method=text(doc.get("payment_method"), "payment_method")
        or text(doc.get("payment_method_title"), "payment_method_title"),
        created_at=_time(doc, "date_created"),
        modified_at=_time(doc, "date_modified"),
        refunds=_refunds(doc),
    )


def _refunds(doc: Mapping[str, Any]) -> tuple[Refund, ...]:
    """The order's refund summary, ``[{"id": 726, "total": "-10.00"}]``: id and amount only.

    WooCommerce writes the total negated (money leaving the store); the ledger keeps refunds as
    positive amounts, so it is taken absolute, with the scale it was sent with.
    """
    return tuple(
        Refund(
            refund_id=required_ident(item.get("id"), f"{path}.id"),
            amount=abs(money(item.get("total"), f"{path}.total", signed=True)),
            lines=(),
            created_at=None,
        )
        for path, item in objects(doc.get("refunds"), "refunds")
    )


def _line(item: Mapping[str, Any], path: str) -> OrderLine:
    count = quantity(item.get("quantity"), f"{path}.quantity")
    total = money(item.get("total"), f"{path}.total")
    books = _stock_meta(item.get("meta_data"), f"{path}.meta_data")
    return OrderLine(
        line_id=ident(item.get("id"), f"{path}.id"),
        product_id=ident(item.get("product_id"), f"{path}.product_id"),
        variation_id=ident(item.get("variation_id"), f"{path}.variation_id"),
        sku=sku(item.get("sku"), f"{path}.sku"),
        name=text(item.get("name"), f"{path}.name") or "",
        quantity=count,
        unit_price=_unit_price(item, path, count, total),
        total=total,
        reduced_stock=books.get(_REDUCED_STOCK),
        restocked=books.get(_RESTOCKED),
    )


def _stock_meta(value: Any, field: str) -> dict[str, int]:
    """The line's stock bookkeeping from its ``meta_data`` (``[{"key", "value"}, ...]``).

    WooCommerce sets ``_reduced_stock`` when it takes the line out of stock, lowers it when a
    refund restocks and deletes it when it gives the stock back (a cancellation); it writes
    ``_restock_refunded_items`` as refunds put items back, and neither on a product whose
    stock it does not manage. Other keys (a plugin's) are not ours to read. The first entry
    of a key counts, as ``WC_Data::get_meta`` reads it.
    """
    found: dict[str, int] = {}
    for path, entry in objects([] if value == {} else value, field):
        key = entry.get("key")
        if key in (_REDUCED_STOCK, _RESTOCKED) and key not in found:
            found[key] = quantity(entry.get("value"), f"{path}.value")
    return found


def _unit_price(item: Mapping[str, Any], path: str, count: int, total: Decimal) -> Decimal:
    # ``price`` is a JSON number (499, 9.5), exact here because parse_json reads Decimals. Hand
    # written bodies (the merchant's curl test) omit it, so derive it from the line total.
    price = optional_money(item.get("price"), f"{path}.price")
    return price if price is not None else divide(total, count)


def _subtotal(items: list[tuple[str, Mapping[str, Any]]], lines: tuple[OrderLine, ...]) -> Decimal:
    # The order has no subtotal field; line ``subtotal`` is before coupons, ``total`` after.
    total = ZERO
    for (path, item), line in zip(items, lines, strict=True):
        subtotal = optional_money(item.get("subtotal"), f"{path}.subtotal")
        total += line.total if subtotal is None else subtotal
    return total


def _customer(doc: Mapping[str, Any]) -> Customer:
    billing = as_object(doc.get("billing"), "billing")
    return Customer(
        name=full_name(billing, "billing"),
        email=text(billing.get("email"), "billing.email"),
    )


def _time(doc: Mapping[str, Any], name: str) -> datetime | None:
    # The *_gmt twin is UTC; the plain field is the store's local time, used only when the GMT
    # one is missing (hand-written bodies), and then read as UTC for want of the store's zone.
    gmt = f"{name}_gmt"
    return timestamp(doc.get(gmt), gmt) or timestamp(doc.get(name), name)


def product_from_json(doc: Any) -> ProductSnapshot:
    """A product (or variation) delivery as a ``ProductSnapshot``; stock figures are info only."""
    if (
        not isinstance(doc, dict)
        or "line_items" in doc
        or ("name" not in doc and "type" not in doc)
    ):
        raise PayloadError("not_a_product", None, "the body is not a WooCommerce product")
    stock = doc.get("stock_quantity")
    return ProductSnapshot(
        platform="woocommerce",
        external_id=required_ident(doc.get("id"), "id"),
        name=text(doc.get("name"), "name"),
        sku=sku(doc.get("sku"), "sku"),
        price=optional_money(doc.get("price"), "price"),
        product_type=text(doc.get("type"), "type"),
        parent_id=ident(doc.get("parent_id"), "parent_id"),
        manage_stock=_manage_stock(doc.get("manage_stock")),
        # Negative stock is real in WooCommerce when backorders are allowed.
        stock_quantity=None if stock is None else quantity(stock, "stock_quantity", signed=True),
        platform_status=text(doc.get("status"), "status"),
        modified_at=_time(doc, "date_modified"),
    )


def deleted_from_json(doc: Any) -> DeletedSnapshot:
    """An ``order.deleted``/``product.deleted`` body, which is only ``{"id": N}``."""
    return DeletedSnapshot(platform="woocommerce", external_id=deleted_id(doc))


def classify(topic: str | None, doc: Any, endpoint: str) -> str:
    """What a delivery to ``endpoint`` (``"order"`` or ``"product"``) is: ``"order"``,
    ``"order_deleted"``, ``"product"`` or ``"product_deleted"``.

    The topic header is not signed, so the body decides and the topic only disambiguates: a
    bare ``{"id": N}`` is a deletion notice under the ``*.deleted`` topic only (WooCommerce
    always names it; without a topic it shows nothing to record), and nothing under any
    other; every other body is a snapshot for the endpoint's parser, whatever the topic says
    (``order.deleted`` on a full order shows the order, so it is one). A topic of another
    family, or one we do not know, is refused before the body is looked at.
    """
    assert endpoint in _TOPICS, endpoint
    topic = (topic or "").strip().lower() or None
    if topic is not None and topic not in _TOPICS[endpoint]:
        raise unsupported_topic(topic, f"on the WooCommerce {endpoint} endpoint")
    if not is_deletion_notice(doc):
        return endpoint
    if topic == f"{endpoint}.deleted":
        return f"{endpoint}_deleted"
    under = f"under {topic}" if topic else "without a topic"
    if endpoint == "order":
        raise PayloadError("not_an_order", None, f"a bare id {under} shows no order")
    raise PayloadError("not_a_product", None, f"a bare id {under} shows no product")


def _manage_stock(value: Any) -> str | None:
    # A bool on products, the string "parent" on a variation whose parent keeps the stock.
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value, "manage_stock")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """Whether this is the ping WooCommerce sends when a webhook is saved.

    The ping is a form body ``webhook_id=N`` with no ``X-WC-*`` headers and no signature; a
    real delivery always carries ``X-WC-Webhook-Topic``, so any ``X-WC-*`` header rules it out.
    """
    if any(name.lower().startswith(HEADER_PREFIX) for name in headers):
        return False
    return _PING_BODY.fullmatch(body.strip()) is not None


def delivery_from_headers(
    headers: Mapping[str, str], *, received_at: datetime, verification: str, body_sha256: str
) -> Delivery:
    """What the ``X-WC-*`` headers say about a delivery. WooCommerce sends no event id, and
    its delivery id changes on every send, so it identifies the send, not the event."""
    return Delivery(
        topic=header(headers, "x-wc-webhook-topic"),
        delivery_id=header(headers, "x-wc-webhook-delivery-id"),
        webhook_id=header(headers, "x-wc-webhook-id"),
        event_id=None,
        source=header(headers, "x-wc-webhook-source"),
        headers=delivery_headers(headers, HEADER_PREFIX),
        received_at=received_at,
        verification=verification,
        body_sha256=body_sha256,
    )


def refund_from_json(doc: Any) -> RefundSnapshot:
    """WooCommerce sends no refund on its own: its refunds come inside the order."""
    raise PayloadError("not_a_refund", None, "WooCommerce sends refunds inside the order")
