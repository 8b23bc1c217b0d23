"""Shopify refunds (REST ``Refund`` shape), embedded in orders or delivered by ``refunds/create``.

What a refund is worth
----------------------
The amount is what actually went back to the customer: the sum of its ``transactions`` of kind
``refund`` whose status is ``success``. A pending or failed transaction gave nothing back (yet),
and a restock-only refund has no transaction and is worth zero.

Only when a refund has no ``transactions`` at all (null or absent: trimmed bodies, hand-written
tests) is the amount rebuilt from its parts, the way Shopify computes it:

* each refund line's ``subtotal`` plus ``total_tax`` (shop money when the ``*_set`` is sent);
* minus each ``order_adjustments`` amount (plus its ``tax_amount``). Shopify signs adjustments
  from the order's side: a ``shipping_refund`` is negative (``-5.00`` gives 5.00 back), and a
  ``refund_discrepancy`` is negative when more was refunded than the lines account for (a real
  ``refunds/create`` with no lines carries ``-1.00`` beside a 1.00 transaction) and positive
  when less was. Taking the absolute value would add a positive discrepancy instead of
  subtracting it;
* plus ``refund_shipping_lines`` ``subtotal_amount_set``, but only when no ``shipping_refund``
  adjustment is present: current API versions send both for the same money (the shipping-only
  fixture has a 5.00 shipping line *and* a -5.00 adjustment, refunded once, 5.00), while older
  bodies (the 2023 ``orders/cancelled`` capture) have only the adjustment.

On the real captures the rebuilt amount equals the transactions (1806.38, 5.00); Shopify's REST
reference examples are not internally consistent (refund 509562969 refunds 399.29 of lines with
a 209.00 transaction), another reason to trust the transactions when they are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aggregates.values import ZERO, Refund, RefundLine, RefundSnapshot
from service.adapters.common import (
    PayloadError,
    as_object,
    exact_arithmetic,
    ident,
    money,
    objects,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)

# ``no_restock`` is the only restock type that leaves the goods off the shelf.
RESTOCK_TYPES = frozenset({"return", "cancel", "legacy_restock"})


def refund_from_json(doc: Any) -> RefundSnapshot:
    """A ``refunds/create`` body (the refund object itself, naming its ``order_id``)."""
    if not is_refund_body(doc):
        raise PayloadError("not_a_refund", None, "the body is not a Shopify refund")
    with exact_arithmetic():
        return RefundSnapshot(
            platform="shopify",
            order_external_id=required_ident(doc.get("order_id"), "order_id"),
            refund=refund(doc, ""),
        )


def is_refund_body(doc: Any) -> bool:
    """A refund names its order and carries refund lines or transactions."""
    return (
        isinstance(doc, dict)
        and "order_id" in doc
        and ("refund_line_items" in doc or "transactions" in doc)
    )


def order_refunds(doc: Mapping[str, Any], order_id: str) -> tuple[Refund, ...]:
    """The refunds embedded in an order snapshot; each must belong to that order."""
    found = []
    for path, item in objects(doc.get("refunds"), "refunds"):
        owner = ident(item.get("order_id"), f"{path}.order_id")
        if owner is not None and owner != order_id:
            raise PayloadError(
                "invalid_field", f"{path}.order_id", f"refund of order {owner} inside {order_id}"
            )
        found.append(refund(item, f"{path}."))
    return tuple(found)


def refund(doc: Mapping[str, Any], prefix: str) -> Refund:
    """One refund object; ``prefix`` is its path (``"refunds[0]."``) for error fields."""
    items = list(objects(doc.get("refund_line_items"), f"{prefix}refund_line_items"))
    return Refund(
        refund_id=required_ident(doc.get("id"), f"{prefix}id"),
        amount=_amount(doc, prefix, items),
        lines=tuple(_line(item, path) for path, item in items),
        created_at=timestamp(doc.get("created_at"), f"{prefix}created_at"),
    )


def _line(item: Mapping[str, Any], path: str) -> RefundLine:
    # The embedded ``line_item`` is the refund's own copy of the order line, so a refund that
    # arrives before its order still knows which variant it restocks.
    line_item = as_object(item.get("line_item"), f"{path}.line_item")
    restock_type = text(item.get("restock_type"), f"{path}.restock_type")
    return RefundLine(
        line_id=ident(item.get("line_item_id"), f"{path}.line_item_id"),
        product_id=ident(line_item.get("product_id"), f"{path}.line_item.product_id"),
        variation_id=ident(line_item.get("variant_id"), f"{path}.line_item.variant_id"),
        sku=sku(line_item.get("sku"), f"{path}.line_item.sku"),
        quantity=quantity(item.get("quantity"), f"{path}.quantity"),
        restock=restock_type in RESTOCK_TYPES,
        restock_type=restock_type,
    )


def _amount(doc: Mapping[str, Any], prefix: str, items: list[tuple[str, Any]]) -> Decimal:
    if doc.get("transactions") is not None:
        return _transactions(doc, prefix)
    total = ZERO
    for path, item in items:
        total += _shop_amount(item, "subtotal", f"{path}.subtotal", optional=True)
        total += _shop_amount(item, "total_tax", f"{path}.total_tax", optional=True)
    adjustments = list(objects(doc.get("order_adjustments"), f"{prefix}order_adjustments"))
    for path, adjustment in adjustments:
        # Shopify writes adjustments negated (money leaving the shop), as WooCommerce refunds.
        total -= _shop_amount(adjustment, "amount", f"{path}.amount", signed=True)
        total -= _shop_amount(
            adjustment, "tax_amount", f"{path}.tax_amount", optional=True, signed=True
        )
    if not any(adjustment.get("kind") == "shipping_refund" for _, adjustment in adjustments):
        shipping = objects(doc.get("refund_shipping_lines"), f"{prefix}refund_shipping_lines")
        for path, line in shipping:
            total += _shop_amount(line, "subtotal_amount", f"{path}.subtotal_amount")
    if total < 0:
        raise PayloadError(
            "invalid_field", f"{prefix}order_adjustments", "the refund adds up to less than zero"
        )
    return total


def _transactions(doc: Mapping[str, Any], prefix: str) -> Decimal:
    total = ZERO
    for path, item in objects(doc.get("transactions"), f"{prefix}transactions"):
        kind = text(item.get("kind"), f"{path}.kind")
        status = text(item.get("status"), f"{path}.status")
        if kind == "refund" and status == "success":
            total += money(item.get("amount"), f"{path}.amount")
    return total


def _shop_amount(
    item: Mapping[str, Any], name: str, path: str, *, optional: bool = False, signed: bool = False
) -> Decimal:
    """``{name}_set.shop_money.amount`` (a string in shop currency) when sent, else ``name``
    (older bodies send a bare JSON number there, ``195.66``, exact once parsed as Decimal)."""
    money_set = as_object(item.get(f"{name}_set"), f"{path}_set")
    shop_money = as_object(money_set.get("shop_money"), f"{path}_set.shop_money")
    if shop_money.get("amount") is not None:
        return money(shop_money["amount"], f"{path}_set.shop_money.amount", signed=signed)
    return money(item.get(name), path, optional=optional, signed=signed)
