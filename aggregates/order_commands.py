"""What a delivery does to an order: the commands of the order aggregate.

Each records what the platform said (an ``OrderReceived``), then appends what it means
(aggregates/order_decisions.py), deciding here and never on replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from aggregates.lifecycle import DELETED, TRASH, deletion_is_trash, snapshot_key
from aggregates.order_correction import differences, plan
from aggregates.order_decisions import move_stock, record_refunds, settle_sale, settle_stock
from aggregates.values import (
    PULLED_KEYS,
    PULLED_METHOD,
    PULLED_STATUS,
    PULLED_URL,
    Delivery,
    OrderSnapshot,
    Refund,
    SaleDetails,
)

if TYPE_CHECKING:
    from aggregates.order import Order

Outcome = Literal["recorded", "updated", "duplicate", "stale", "received", "deleted", "restored"]
# "lookup": the platform's answer to a lookup by id that found the order gone for good.
ReceiptKind = Literal["snapshot", "refund", "deletion", "lookup"]


class OrderMismatchError(ValueError):
    """The delivery belongs to another order than this aggregate."""


def receive(
    order: Order, delivery: Delivery, snapshot: OrderSnapshot, *, restored: bool = False
) -> Outcome:
    """Record one snapshot of this order and append what it changes for the ledger.

    ``restored``: the delivery says the order came back from the platform's trash.
    """
    if (snapshot.platform, snapshot.external_id) != (order.platform, order.external_id):
        raise OrderMismatchError(f"{snapshot.platform}:{snapshot.external_id}")
    if repeated(order, delivery):
        return "duplicate"
    key = snapshot_key(
        *(order.platform, snapshot.modified_at, snapshot.platform_status),
        *(delivery.body_sha256, order.version + 1),  # its arrival: the next version
    )
    newer = order.latest_key is None or key > order.latest_key
    receipt = record_receipt(order, delivery, "snapshot", snapshot.platform_status, snapshot, key)
    was_sale, before, lines = order.is_sale, order.version, order.lines
    new_refunds = record_refunds(order, receipt, snapshot.refunds)
    back = restored and order.deleted
    if back:
        order.trigger_event(
            order.RestoredOnPlatform, user_id=order.user_id, receipt_version=receipt
        )
    settle_sale(order, receipt, SaleDetails.of(snapshot) if newer else None)
    reason = "status " + (order.platform_status or "unknown")
    settle_stock(order, receipt, reason, lines, new_refunds)
    if back:
        return "restored"
    if order.is_sale and not was_sale:
        return "recorded"
    if not newer and order.version == before:
        return "stale"  # older than the snapshot shown, and nothing new in it
    return "updated" if order.is_sale else "received"


def receive_refund(order: Order, delivery: Delivery, refund: Refund) -> Outcome:
    """Record a refund delivered on its own; it may arrive before its order."""
    if repeated(order, delivery):
        return "duplicate"
    receipt = record_receipt(order, delivery, "refund", order.platform_status)
    before = order.version
    new_refunds = record_refunds(order, receipt, (refund,))
    settle_stock(order, receipt, "refund", order.lines, new_refunds)
    return "updated" if order.version > before else "duplicate"


def receive_deletion(order: Order, delivery: Delivery) -> Outcome:
    """The platform deleted the order: marked, never erased; no stock moves. A WooCommerce
    deletion is the trash, shown as the platform status (see ``DeletedOnPlatform``).

    Every deletion notice of an order is the same bytes (``{"id": N}``), so the body does
    not tell a retry from a new deletion after a restore: one that finds the order
    deleted is a repeat, one that finds it restored deletes it again."""
    if order.deleted and repeated(order, delivery):
        return "duplicate"
    trash = deletion_is_trash(order.platform)
    receipt = record_receipt(order, delivery, "deletion", TRASH if trash else order.platform_status)
    if order.deleted:
        return "duplicate"
    order.trigger_event(
        order.DeletedOnPlatform,
        user_id=order.user_id,
        receipt_version=receipt,
        trash_after=delivery.received_at if trash else None,
    )
    settle_sale(order, receipt, None)
    return "deleted"


def find_deletion(order: Order, lookup: Delivery) -> Outcome:
    """The platform answered a lookup by id (``lookup``: the pulled receipt of its answer,
    see aggregates.values.PULLED_KEYS) that the order does not exist: marked deleted for
    good, with the request and the answer as evidence; the sale keeps its stock (WooCommerce
    does not restock on deletion)."""
    if order.gone_after is not None:
        return "duplicate"
    receipt = record_receipt(order, lookup, "lookup", DELETED)
    order.trigger_event(
        order.PlatformDeletionFound,
        user_id=order.user_id,
        receipt_version=receipt,
        method=lookup.headers[PULLED_METHOD],
        url=lookup.headers[PULLED_URL],
        status=int(lookup.headers[PULLED_STATUS]),
        headers={k: v for k, v in lookup.headers.items() if k not in PULLED_KEYS},
        body_sha256=lookup.body_sha256,
        found_at=lookup.received_at,
    )
    settle_sale(order, receipt, None)
    return "deleted"


def correct(order: Order, fresh: Order, reason: str, code_version: str) -> list[str]:
    """Append what brings this order to ``fresh``, the same deliveries read by corrected
    code; returns the differences found (none: nothing appended)."""
    found = differences(order, fresh)
    if not found:
        return []
    planned = plan(order, fresh)
    moves = order.stock.moves_to(fresh.stock, f"reprocess ({code_version}): {reason}")
    order.trigger_event(
        order.InterpretationCorrected,
        user_id=order.user_id,
        reason=reason,
        code_version=code_version,
        differences=tuple(found),
        latest_key=fresh.latest_key,
        latest_platform_status=fresh.latest_platform_status,
        known_key=fresh.known_key,
        known_status=fresh.known_status,
        ever_sale=fresh.ever_sale,
        refund_restored=fresh.stock.refunds_restored(),
        trash_after=fresh.trash_after,
    )
    marker = order.version
    for event, fields in planned:
        # A corrected sale names the delivery that makes it a sale, as any sale does.
        receipt = receipt_of(order, fresh) if event is order.SaleRecorded else marker
        order.trigger_event(event, user_id=order.user_id, receipt_version=receipt, **fields)
    for move in moves:
        move_stock(order, marker, move)
    return found


def repeated(order: Order, delivery: Delivery) -> bool:
    """Whether this delivery repeats one already recorded: the same bytes again, which
    are already traceable (their receipt has this sha256).

    Only the signed body says what a delivery is: a platform's retry resends the same
    bytes, and an unsigned header (Shopify's event id) never makes other bytes a repeat.
    """
    return delivery.body_sha256 in order.receipts.values()


def record_receipt(
    order: Order,
    delivery: Delivery,
    kind: ReceiptKind,
    platform_status: str | None,
    snapshot: OrderSnapshot | None = None,
    key: tuple[datetime, int, str] | None = None,
) -> int:
    order.trigger_event(
        order.OrderReceived,
        **delivery.as_fields(),
        user_id=order.user_id,
        platform=order.platform,
        external_id=order.external_id,
        kind=kind,
        platform_status=platform_status,
        status=snapshot.status if snapshot else None,
        modified_at=snapshot.modified_at if snapshot else None,
        snapshot_key=key,
    )
    return order.version


def receipt_of(order: Order, fresh: Order) -> int:
    """This order's receipt of the delivery that made ``fresh`` a sale."""
    assert fresh.sale_receipt is not None
    sha = fresh.receipts[fresh.sale_receipt]
    return next(v for v, body in order.receipts.items() if body == sha)
