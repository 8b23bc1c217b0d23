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


# What a WooCommerce deletion notice shows as the platform status: the order or product went
# to the trash, from which a restore brings it back.
TRASH = "trash"
# What an order shows as its platform status once the platform answered that it does not
# exist (a lookup by id found it deleted for good: WooCommerce sends nothing for that).
DELETED = "deleted"


def keeps_own_books(lines: tuple[OrderLine, ...]) -> bool:
    """Whether a snapshot carries the store's own stock bookkeeping for its lines.

    WooCommerce (3.5 and later) records on each line of a stock-managed product how much of it
    the store holds out of stock (``_reduced_stock``): set when the order reduces stock,
    lowered when a refund restocks, removed when a cancellation gives the stock back. When any
    line carries it, what the store did is known and the ledger follows it: each line holds out
    its ``reduced_stock``, and a line without one (a product the store does not count) none.
    Without it (older stores, hand-written bodies, Shopify) the status rules decide.
    """
    return any(line.reduced_stock is not None for line in lines)


def deletion_is_trash(platform: str) -> bool:
    """Whether the platform's deletion notice means the trash rather than gone for good.

    WooCommerce sends ``order.deleted`` / ``product.deleted`` when the merchant moves the order
    or product to the trash, the admin's only delete button (an order deleted for good sends
    nothing at all); Shopify's ``orders/delete`` and ``products/delete`` are for good.
    """
    return platform == "woocommerce"


def holds_stock(platform: str, status: str | None) -> bool:
    """Whether a sale in ``status`` keeps its goods out of the warehouse.

    The status rules, for snapshots without the store's own bookkeeping (``keeps_own_books``).
    WooCommerce reduces stock once an order is processing, on-hold or completed, keeps it
    reduced on ``refunded`` (the status alone does not say whether a refund restocked) and
    restores it when the order goes to cancelled, pending or failed; so a cancelled order seen
    first never held any. Shopify reserves inventory at order creation, so every Shopify order
    holds its stock through a cancellation; only refunds bring it back.
    """
    if platform == "shopify":
        return True
    return status in ("sale", "refunded")


def snapshot_key(
    platform: str,
    modified_at: datetime | None,
    platform_status: str,
    body_sha256: str,
    arrival: int,
) -> tuple[datetime, int, str]:
    """The order in which snapshots of one order were built by the platform.

    WooCommerce: (``date_modified_gmt``, status rank, body sha256); Shopify: (``updated_at``,
    body sha256). The sha256 only makes ties deterministic. A snapshot without a time (the
    documented curl test, a hand-written body) orders before any snapshot with one, and
    after every earlier-arrived one without: ``arrival`` (its receipt's version) says which
    was sent later, since nothing in such a body does. So a test body sent again with other
    content is read as the newer one, as whoever sent it meant.
    """
    if modified_at is None:
        return (_NO_TIME, 0, f"{arrival:020d}")
    rank = 0
    if platform == "woocommerce":
        rank = WOO_STATUS_RANK.get(platform_status.lower(), UNKNOWN_RANK)
    return (modified_at, rank, body_sha256)


def stored_key(value: Any, receipts: dict[int, str]) -> tuple[datetime, int, str] | None:
    """A snapshot key as a correction stored it, in today's form: a key of a snapshot without
    a time stored before such snapshots were ordered by arrival names its body's sha256,
    which ``receipts`` (receipt version -> sha256) turns back into its arrival."""
    if not value:
        return None
    when, rank, last = value
    if when == _NO_TIME and len(last) == 64:
        arrival = next((v for v, sha in receipts.items() if sha == last), 0)
        return (when, 0, f"{arrival:020d}")
    return (when, rank, last)


def line_keys(lines: tuple[OrderLine, ...], platform: str) -> list[str | None]:
    """Which line each stock movement belongs to, stable across snapshots of one order.

    The platform's line id when there is one; else the line's product reference (so removing
    an earlier id-less line does not shift the others); a repeated key gets ``#n``. A line
    that moves no stock (a custom line) has none.
    """
    seen: dict[str, int] = {}
    keys: list[str | None] = []
    for line in lines:
        ref = line.product_ref(platform)
        if ref is None:
            keys.append(None)
            continue
        base = line.line_id or ref
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}#{count}")
    return keys


def movement(line: OrderLine, index: int, key: str, platform: str) -> dict[str, Any]:
    """The identity of a line's stock movements."""
    ref = line.product_ref(platform)
    assert ref is not None, "only lines with a product reference move stock"
    return {
        "line_key": key,
        "line_index": index,
        "line_id": line.line_id,
        "product_id": line.product_id,
        "variation_id": line.variation_id,
        "sku": line.sku,
        "product_ref": ref,
        "name": line.name,
    }
