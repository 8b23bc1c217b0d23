"""What one delivery changes in an order: its sale, its refunds, its stock.

The order's commands (aggregates/order.py) record what the platform said, then call these to
append what it means; each triggers the order's events and decides nothing on replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aggregates.lifecycle import DELETED, TRASH, holds_stock, keeps_own_books
from aggregates.order_stock import Move, name_refund_restocks
from aggregates.values import OrderLine, Refund, SaleDetails

if TYPE_CHECKING:
    from aggregates.order import Order


def shown_platform_status(order: Order) -> str | None:
    """The newest snapshot's platform status, or the trash while no snapshot modified
    after the deletion notice came has been seen (``deleted``, the same way, after the
    platform answered that the order does not exist)."""
    if order.gone_after is not None and (
        order.latest_key is None or order.latest_key[0] <= order.gone_after
    ):
        return DELETED
    if order.trash_after is not None and (
        order.latest_key is None or order.latest_key[0] <= order.trash_after
    ):
        return TRASH
    return order.latest_platform_status


def settle_sale(order: Order, receipt: int, fresh: SaleDetails | None) -> None:
    """Bring the sale to what the snapshots say, whatever order they came in.

    The order is a sale once any snapshot shows it as one; its status is that of the newest
    snapshot whose status we know (an unknown one changes only the platform status shown);
    its details (lines, amounts, customer) are the newest snapshot's, ``fresh`` when this
    delivery is the newest.
    """
    details = fresh if fresh is not None else order.details
    status, platform_status = order.known_status, shown_platform_status(order)
    mark = {"user_id": order.user_id, "receipt_version": receipt}
    if not order.is_sale and order.ever_sale and status and platform_status and details:
        statuses = {"status": status, "platform_status": platform_status}
        order.trigger_event(order.SaleRecorded, **mark, **statuses, **details.as_fields())
        return
    if details is not None and details != order.details:
        event = order.SaleAmended if order.is_sale else order.DetailsNoted
        order.trigger_event(event, **mark, **details.as_fields())
    if not order.is_sale:
        if platform_status is not None and platform_status != order.noted_platform_status:
            order.trigger_event(order.StatusNoted, **mark, platform_status=platform_status)
        return
    if platform_status is None:
        return
    status = status or order.status
    if (status, platform_status) != (order.status, order.platform_status):
        order.trigger_event(
            order.SaleStatusChanged, **mark, status=status, platform_status=platform_status
        )


def record_refunds(order: Order, receipt: int, refunds: tuple[Refund, ...]) -> list[str]:
    """Record the refunds not recorded yet; returns their ids."""
    new = []
    for refund in refunds:
        if refund.refund_id in order.refunds:
            continue
        new.append(refund.refund_id)
        order.trigger_event(
            order.RefundRecorded,
            user_id=order.user_id,
            receipt_version=receipt,
            refund_id=refund.refund_id,
            amount=refund.amount,
            lines=refund.lines,
            created_at=refund.created_at,
        )
    return new


def settle_stock(
    order: Order, receipt: int, reason: str, before: tuple[OrderLine, ...], new_refunds: list[str]
) -> None:
    """Bring every line's stock to its target; ``before``: the lines as they were before
    this delivery, so a restock the store's bookkeeping shows names its refund."""
    books = keeps_own_books(order.lines)
    holds = order.is_sale and (books or holds_stock(order.platform, order.status))
    moves = order.stock.settle(order.platform, order.lines, holds, reason)
    if books:
        moves = name_refund_restocks(moves, order.platform, before, order.lines, new_refunds)
    for move in moves:
        move_stock(order, receipt, move)
    if not holds or books:
        # The store's bookkeeping already counts what its refunds put back.
        return
    for move in order.stock.refund_restocks(order.platform, order.lines, order.refunds):
        move_stock(order, receipt, move)


def move_stock(order: Order, receipt: int, move: Move) -> None:
    mark = {"user_id": order.user_id, "receipt_version": receipt, "quantity": move.quantity}
    if move.deduct:
        order.trigger_event(order.StockDeducted, **mark, **move.identity)
    else:
        why = {"reason": move.reason, "refund_id": move.refund_id}
        order.trigger_event(order.StockRestored, **mark, **why, **move.identity)
