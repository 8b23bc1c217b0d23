"""The platforms' order rules, as pure functions the order aggregate consults.

Kept apart from the aggregate so each rule is stated once, with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aggregates.values import OrderLine

# Timestamps have whole seconds and a checkout often moves pending -> processing within one,
# so WooCommerce snapshots with equal times are ordered by how far along the status is.
WOO_STATUS_RANK = {
    "checkout-draft": 0,
    "pending": 1,
    "failed": 2,
    "on-hold": 3,
    "processing": 4,
    "completed": 6,
    "refunded": 7,
    "cancelled": 8,
}
# A status we do not know (a plugin's "shipped") sits after processing, before completed.
UNKNOWN_RANK = 5
_NO_TIME = datetime.min.replace(tzinfo=UTC)

# Restock types that bring a refunded quantity back on the shelf (Shopify).
RESTOCKING = frozenset({"return", "cancel", "legacy_restock"})


def holds_stock(platform: str, status: str | None) -> bool:
    """Whether a sale in ``status`` keeps its goods out of the warehouse.

    WooCommerce reduces stock once an order is processing, on-hold or completed, keeps it
    reduced on ``refunded`` (a refund does not restock by itself) and restores it when the
    order goes to cancelled, pending or failed; so a cancelled order seen first never held
    any. Shopify reserves inventory at order creation, so every Shopify order holds its stock
    through a cancellation; only refunds bring it back.
    """
    if platform == "shopify":
        return True
    return status in ("sale", "refunded")


def snapshot_key(
    platform: str, modified_at: datetime | None, platform_status: str, body_sha256: str
) -> tuple[datetime, int, str]:
    """The order in which snapshots of one order were built by the platform.

    WooCommerce: (``date_modified_gmt``, status rank, body sha256); Shopify: (``updated_at``,
    body sha256). The sha256 only makes ties deterministic. A snapshot without a time (the
    documented curl test) orders before any snapshot with one.
    """
    rank = 0
    if platform == "woocommerce":
        rank = WOO_STATUS_RANK.get(platform_status.lower(), UNKNOWN_RANK)
    return (modified_at or _NO_TIME, rank, body_sha256)


def line_key(line_id: str | None, line_index: int) -> str:
    """Which line a stock movement belongs to: the platform's line id, else its position."""
    return line_id if line_id else f"#{line_index}"


def movement(line: OrderLine, index: int, platform: str) -> dict[str, Any] | None:
    """The identity of a line's stock movements, or None for a line that moves no stock."""
    ref = line.product_ref(platform)
    if ref is None:
        return None
    return {
        "line_index": index,
        "line_id": line.line_id,
        "product_id": line.product_id,
        "variation_id": line.variation_id,
        "sku": line.sku,
        "product_ref": ref,
        "name": line.name,
    }
