"""What to append so that an order reads as corrected code reads its deliveries.

Reprocessing replays an order's stored deliveries through the current adapters and rules into
a fresh aggregate; this module compares it with the live one and plans the events that bring
the live aggregate to the same state. Nothing is edited or removed: a sale the corrected code
says is not one goes back to ``pending``; a refund already recorded stays recorded.
"""

from __future__ import annotations

from typing import Any

from aggregates.order_stock import Move

Planned = tuple[str, dict[str, Any]]


def _identity(order: Any, key: str) -> dict[str, Any]:
    return dict(order.moved[key])


def differences(live: Any, fresh: Any) -> list[str]:
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
    if fresh.is_sale and live.details != fresh.details:
        changed = sorted(k for k in fresh.details if live.details.get(k) != fresh.details[k])
        found.append("details: " + ", ".join(changed))
    missing = sorted(set(fresh.refunds) - set(live.refunds))
    if missing:
        found.append("refunds: " + ", ".join(missing))
    if live.deleted != fresh.deleted:
        found.append(f"deleted on platform: {live.deleted} -> {fresh.deleted}")
    stock = stock_moves(live, fresh, "")
    if stock:
        found.append(
            "stock: "
            + ", ".join(
                f"{'-' if m.deduct else '+'}{m.quantity} {m.identity['product_ref']}" for m in stock
            )
        )
    return found


def plan(live: Any, fresh: Any) -> list[Planned]:
    """The sale, refund and deletion events (by name, with their fields) that bring ``live``
    to ``fresh``; ``stock_moves`` plans the stock."""
    planned: list[Planned] = []
    if fresh.is_sale and not live.is_sale:
        planned.append(
            (
                "SaleRecorded",
                {"status": fresh.status, "platform_status": fresh.platform_status, **fresh.details},
            )
        )
    elif live.is_sale:
        planned += _sale_changes(live, fresh)
    elif fresh.noted_platform_status not in (None, live.noted_platform_status):
        planned.append(("StatusNoted", {"platform_status": fresh.noted_platform_status}))
    for refund_id in sorted(set(fresh.refunds) - set(live.refunds)):
        refund = fresh.refunds[refund_id]
        planned.append(
            (
                "RefundRecorded",
                {
                    "refund_id": refund_id,
                    "amount": refund.amount,
                    "lines": refund.lines,
                    "created_at": refund.created_at,
                },
            )
        )
    if live.deleted != fresh.deleted:
        if fresh.deleted:
            planned.append(("DeletedOnPlatform", {"trash_after": fresh.trash_after}))
        else:
            planned.append(("RestoredOnPlatform", {}))
    return planned


def _sale_changes(live: Any, fresh: Any) -> list[Planned]:
    if not fresh.is_sale:
        # The corrected code says this was never a sale: it cannot be unrecorded, so it goes
        # back to pending (and gives its stock back below).
        if live.status == "pending":
            return []
        status = fresh.latest_platform_status or live.platform_status
        return [("SaleStatusChanged", {"status": "pending", "platform_status": status})]
    changes: list[Planned] = []
    if live.details != fresh.details:
        changes.append(("SaleAmended", dict(fresh.details)))
    if (live.status, live.platform_status) != (fresh.status, fresh.platform_status):
        changes.append(
            (
                "SaleStatusChanged",
                {"status": fresh.status, "platform_status": fresh.platform_status},
            )
        )
    return changes


def stock_moves(live: Any, fresh: Any, reason: str) -> list[Move]:
    """Per line: give back what the live order holds and the fresh one does not, and take
    what the fresh one holds and the live one does not (a changed product counts as both)."""
    moves = []
    for key in sorted(set(live.out) | set(fresh.out)):
        have, want = live.out.get(key, 0), fresh.out.get(key, 0)
        same_product = (
            key in live.moved
            and key in fresh.moved
            and live.moved[key]["product_ref"] == fresh.moved[key]["product_ref"]
        )
        if have and want and not same_product:
            moves.append(Move(False, _identity(live, key), have, reason))
            have = 0
        if want > have:
            moves.append(Move(True, _identity(fresh, key), want - have, reason))
        elif have > want:
            moves.append(Move(False, _identity(live, key), have - want, reason))
    return moves
