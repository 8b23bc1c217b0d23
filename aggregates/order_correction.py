"""What to append so that an order reads as corrected code reads its deliveries.

Reprocessing replays an order's stored deliveries through the current adapters and rules into
a fresh aggregate; this module compares it with the live one and plans the events that bring
the live aggregate to the same state. Nothing is edited or removed: a sale the corrected code
says is not one goes back to ``pending``; a refund already recorded stays recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    from aggregates.order import Order

# An event to trigger (its class) with the fields of its own, beyond the user and receipt.
Planned = tuple[type[Aggregate.Event], dict[str, Any]]


def differences(live: Order, fresh: Order) -> list[str]:
    """Human-readable differences between the ledger's reading and the corrected one."""
    found = []
    if live.is_sale != fresh.is_sale:
        found.append(f"sale: {live.is_sale} -> {fresh.is_sale}")
    if fresh.is_sale and (live.status, live.platform_status) != (
        fresh.status,
        fresh.platform_status,
    ):
        found.append(
            f"status: {live.status}/{live.platform_status} -> "
            f"{fresh.status}/{fresh.platform_status}"
        )
    if not (live.is_sale or fresh.is_sale) and (
        live.noted_platform_status != fresh.noted_platform_status
    ):
        found.append(
            f"platform status: {live.noted_platform_status} -> {fresh.noted_platform_status}"
        )
    if fresh.is_sale and fresh.details is not None and live.details != fresh.details:
        changed = fresh.details.changed(live.details) if live.details else ["all"]
        found.append("details: " + ", ".join(sorted(changed)))
    missing = sorted(set(fresh.refunds) - set(live.refunds))
    if missing:
        found.append("refunds: " + ", ".join(missing))
    if live.deleted != fresh.deleted:
        found.append(f"deleted on platform: {live.deleted} -> {fresh.deleted}")
    stock = live.stock.moves_to(fresh.stock, "")
    if stock:
        found.append(
            "stock: "
            + ", ".join(
                f"{'-' if m.deduct else '+'}{m.quantity} {m.identity['product_ref']}" for m in stock
            )
        )
    return found


def plan(live: Order, fresh: Order) -> list[Planned]:
    """The sale, refund and deletion events that bring ``live`` to ``fresh``; the stock is
    planned by ``live.stock.moves_to(fresh.stock)``."""
    events = type(live)
    planned: list[Planned] = []
    if fresh.is_sale and not live.is_sale:
        assert fresh.details is not None
        statuses = {"status": fresh.status, "platform_status": fresh.platform_status}
        planned.append((events.SaleRecorded, {**statuses, **fresh.details.as_fields()}))
    elif live.is_sale:
        planned += _sale_changes(live, fresh)
    elif fresh.noted_platform_status not in (None, live.noted_platform_status):
        planned.append((events.StatusNoted, {"platform_status": fresh.noted_platform_status}))
    for refund_id in sorted(set(fresh.refunds) - set(live.refunds)):
        refund = fresh.refunds[refund_id]
        fields: dict[str, Any] = {"refund_id": refund_id, "amount": refund.amount}
        fields.update(lines=refund.lines, created_at=refund.created_at)
        planned.append((events.RefundRecorded, fields))
    if live.deleted != fresh.deleted:
        if fresh.deleted:
            planned.append((events.DeletedOnPlatform, {"trash_after": fresh.trash_after}))
        else:
            planned.append((events.RestoredOnPlatform, {}))
    return planned


def _sale_changes(live: Order, fresh: Order) -> list[Planned]:
    events = type(live)
    if not fresh.is_sale:
        # The corrected code says this was never a sale: it cannot be unrecorded, so it goes
        # back to pending (and gives its stock back below).
        if live.status == "pending":
            return []
        status = fresh.latest_platform_status or live.platform_status
        return [(events.SaleStatusChanged, {"status": "pending", "platform_status": status})]
    changes: list[Planned] = []
    if fresh.details is not None and live.details != fresh.details:
        changes.append((events.SaleAmended, fresh.details.as_fields()))
    if (live.status, live.platform_status) != (fresh.status, fresh.platform_status):
        statuses = {"status": fresh.status, "platform_status": fresh.platform_status}
        changes.append((events.SaleStatusChanged, statuses))
    return changes
