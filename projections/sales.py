"""The sale list: what each order became, its refunds, and the delivery that made it a sale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.order import Order
from aggregates.values import OrderLine
from projections import sales_bulk
from projections.base import (
    Decode,
    Recorded,
    StoredRow,
    parse_json,
    receipt_source,
    topics,
)
from projections.encoding import to_json

_INSERT_RECEIPT = """
INSERT INTO sale_receipts (order_id, originator_version, notification_id, user_id, source)
VALUES ($1, $2, $3, $4, $5::jsonb)
"""

# Refunds may have arrived before the order became a sale; the sale starts with their sum.
_INSERT_SALE = """
INSERT INTO sales (sale_id, user_id, platform, external_id, status, platform_status,
    customer_name, customer_email, lines, subtotal, shipping, tax, discount, total, currency,
    payment_method, recorded_at, updated_at, source_version, refunded,
    deleted_on_platform)
SELECT $1, $2, r.source->>'platform', r.source->>'external_id', $3, $4, $5, $6, $7::jsonb,
    $8, $9, $10, $11, $12, $13, $14, $15, $15, $16,
    (SELECT coalesce(sum(amount), 0) FROM sale_refunds WHERE order_id = $1),
    coalesce((SELECT deleted FROM order_deletions WHERE order_id = $1), false)
FROM sale_receipts r WHERE r.order_id = $1 AND r.originator_version = $16
"""

_AMEND = """
UPDATE sales SET customer_name = $2, customer_email = $3, lines = $4::jsonb, subtotal = $5,
    shipping = $6, tax = $7, discount = $8, total = $9, currency = $10, payment_method = $11,
    updated_at = $12
WHERE sale_id = $1
"""

_UPDATE_STATUS = """
UPDATE sales SET status = $2, platform_status = $3, updated_at = $4 WHERE sale_id = $1
"""

_INSERT_REFUND = """
INSERT INTO sale_refunds (order_id, refund_id, user_id, amount, created_at, notification_id)
VALUES ($1, $2, $3, $4, $5, $6)
"""

_ADD_REFUND = "UPDATE sales SET refunded = refunded + $2, updated_at = $3 WHERE sale_id = $1"

_DELETED = "UPDATE sales SET deleted_on_platform = $2, updated_at = $3 WHERE sale_id = $1"

_REMEMBER_DELETED = """
INSERT INTO order_deletions (order_id, deleted) VALUES ($1, $2)
ON CONFLICT (order_id) DO UPDATE SET deleted = EXCLUDED.deleted
"""

# What a sale is worth: its total less its refunds; a cancelled order earns nothing (its
# total stays what the platform said). ``total - total`` keeps the total's scale: "0.00".
_COLUMNS = """
sale_id, platform, external_id, status, platform_status, customer_name, customer_email,
lines, subtotal::text, shipping::text, tax::text, discount::text, total::text,
refunded::text,
(CASE WHEN status = 'cancelled' THEN total - total ELSE total - refunded END)::text
    AS net_total,
currency, payment_method, deleted_on_platform, recorded_at
"""


def line_json(line: OrderLine, platform: str) -> dict[str, Any]:
    data = asdict(line)
    data["product_ref"] = line.product_ref(platform)
    return data


def _sale_values(e: Any, platform: str) -> list[Any]:
    """The amendable fields of SaleRecorded / SaleAmended, in column order."""
    return [
        e.customer.name,
        e.customer.email,
        to_json([line_json(line, platform) for line in e.lines]),
        e.subtotal,
        e.shipping,
        e.tax,
        e.discount,
        e.total,
        e.currency,
        e.payment_method,
    ]


class SalesProjection:
    name = "sales"
    version = 2  # 2: a sale names its source receipt instead of copying its JSON
    topics = topics(
        Order.OrderReceived,
        Order.SaleRecorded,
        Order.SaleAmended,
        Order.SaleStatusChanged,
        Order.RefundRecorded,
        Order.DeletedOnPlatform,
        Order.RestoredOnPlatform,
        Order.PlatformDeletionFound,
    )
    # Built once after a rebuild's first pass (service/projecting/bulk_replay.py): the log
    # makes them hold (a sale's id is its order's, named by user, platform and external id; its
    # source is a receipt the loader found; a position is unique in the log).
    bulk_deferred = (
        "sales_source_fkey",
        "sales_external_key",
        "sales_user_recorded_idx",
        "sale_receipts_position_key",
    )

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            await self._apply_one(conn, recorded)

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        """The same tables from raw rows, a batch at a time (see sales_bulk)."""
        await sales_bulk.bulk_load(conn, rows, decode)

    async def _apply_one(self, conn: Any, recorded: Recorded) -> None:
        e = recorded.event
        if isinstance(e, Order.OrderReceived):
            source = to_json(receipt_source(recorded))
            await conn.execute(
                _INSERT_RECEIPT,
                e.originator_id,
                e.originator_version,
                recorded.notification_id,
                e.user_id,
                source,
            )
        elif isinstance(e, Order.SaleRecorded):
            await self._sale_recorded(conn, e)
        elif isinstance(e, Order.SaleAmended):
            platform = await self._platform(conn, e.originator_id)
            values = _sale_values(e, platform)
            await conn.execute(_AMEND, e.originator_id, *values, e.timestamp)
        elif isinstance(e, Order.SaleStatusChanged):
            await conn.execute(
                _UPDATE_STATUS, e.originator_id, e.status, e.platform_status, e.timestamp
            )
        elif isinstance(e, Order.RefundRecorded):
            await conn.execute(
                _INSERT_REFUND,
                e.originator_id,
                e.refund_id,
                e.user_id,
                e.amount,
                e.created_at,
                recorded.notification_id,
            )
            await conn.execute(_ADD_REFUND, e.originator_id, e.amount, e.timestamp)
        elif isinstance(
            e, Order.DeletedOnPlatform | Order.RestoredOnPlatform | Order.PlatformDeletionFound
        ):
            deleted = not isinstance(e, Order.RestoredOnPlatform)
            await conn.execute(_REMEMBER_DELETED, e.originator_id, deleted)
            await conn.execute(_DELETED, e.originator_id, deleted, e.timestamp)

    async def _platform(self, conn: Any, order_id: UUID) -> str:
        platform: str = await conn.fetchval(
            "SELECT source->>'platform' FROM sale_receipts WHERE order_id = $1 LIMIT 1", order_id
        )
        return platform

    async def _sale_recorded(self, conn: Any, e: Any) -> None:
        platform = await self._platform(conn, e.originator_id)
        values = _sale_values(e, platform)
        status = await conn.execute(
            _INSERT_SALE,
            e.originator_id,
            e.user_id,
            e.status,
            e.platform_status,
            *values,
            e.timestamp,
            e.receipt_version,
        )
        if status != "INSERT 0 1":
            raise LookupError(f"sale {e.originator_id}: its receipt is not projected")


def _sale(row: Any) -> dict[str, Any]:
    return {
        "sale_id": str(row["sale_id"]),
        "platform": row["platform"],
        "external_id": row["external_id"],
        "status": row["status"],
        "platform_status": row["platform_status"],
        "customer": {"name": row["customer_name"], "email": row["customer_email"]},
        "lines": parse_json(row["lines"]),
        "subtotal": row["subtotal"],
        "shipping": row["shipping"],
        "tax": row["tax"],
        "discount": row["discount"],
        "total": row["total"],
        "refunded": row["refunded"],
        "net_total": row["net_total"],
        "currency": row["currency"],
        "payment_method": row["payment_method"],
        "deleted_on_platform": row["deleted_on_platform"],
        "recorded_at": row["recorded_at"].isoformat(),
    }


async def list_sales(
    conn: Any,
    user_id: UUID,
    *,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
    platform: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, UUID] | None]:
    """Newest first; returns the page and the keyset position to continue after, if any."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM sales WHERE user_id = $1"  # noqa: S608 (constant columns)
        " AND ($2::text IS NULL OR platform = $2)"
        " AND ($3::timestamptz IS NULL OR recorded_at >= $3)"
        " AND ($4::timestamptz IS NULL OR recorded_at <= $4)"
        " AND ($5::timestamptz IS NULL OR (recorded_at, sale_id) < ($5, $6::uuid))"
        " ORDER BY recorded_at DESC, sale_id DESC LIMIT $7",
        user_id,
        platform,
        since,
        until,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return sales_page(rows, limit)


def sales_page(
    rows: list[Any], limit: int
) -> tuple[list[dict[str, Any]], tuple[datetime, UUID] | None]:
    """A page of sales from ``limit + 1`` rows, newest first, and the keyset position to
    continue after (None on the last page)."""
    page = rows[:limit]
    more = len(rows) > limit
    next_after = (page[-1]["recorded_at"], page[-1]["sale_id"]) if more else None
    return [_sale(r) for r in page], next_after


async def get_sale(conn: Any, user_id: UUID, sale_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, (SELECT r.source FROM sale_receipts r"  # noqa: S608 (constant)
        "  WHERE r.order_id = sales.sale_id AND r.originator_version = sales.source_version)"
        " AS source FROM sales WHERE user_id = $1 AND sale_id = $2",
        user_id,
        sale_id,
    )
    if row is None:
        return None
    sale = _sale(row)
    sale["source"] = parse_json(row["source"])
    refunds = await conn.fetch(
        "SELECT refund_id, amount::text AS amount, created_at FROM sale_refunds"
        " WHERE order_id = $1 ORDER BY notification_id",
        sale_id,
    )
    sale["refunds"] = [
        {
            "refund_id": r["refund_id"],
            "amount": r["amount"],
            "created_at": r["created_at"].isoformat() if r["created_at"] else None,
        }
        for r in refunds
    ]
    return sale
