"""The sale list: what each order became, with the delivery that made it a sale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.order import Order
from aggregates.values import OrderLine
from projections.base import Recorded, parse_json, receipt_source, to_json, topics

_INSERT_RECEIPT = """
INSERT INTO sale_receipts (order_id, originator_version, notification_id, user_id, source)
VALUES ($1, $2, $3, $4, $5::jsonb)
"""

_INSERT_SALE = """
INSERT INTO sales (sale_id, user_id, platform, external_id, status, platform_status,
    customer_name, customer_email, lines, subtotal, shipping, tax, discount, total, currency,
    payment_method, recorded_at, updated_at, source_version, source)
SELECT $1, $2, r.source->>'platform', r.source->>'external_id', $3, $4, $5, $6, $7::jsonb,
    $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, r.source
FROM sale_receipts r WHERE r.order_id = $1 AND r.originator_version = $16
"""

_UPDATE_STATUS = """
UPDATE sales SET status = $2, platform_status = $3, updated_at = $4 WHERE sale_id = $1
"""

_COLUMNS = """
sale_id, platform, external_id, status, platform_status, customer_name, customer_email,
lines, subtotal::text, shipping::text, tax::text, discount::text, total::text, currency,
payment_method, recorded_at
"""


def line_json(line: OrderLine, platform: str) -> dict[str, Any]:
    data = asdict(line)
    data["product_ref"] = line.product_ref(platform)
    return data


class SalesProjection:
    name = "sales"
    topics = topics(Order.OrderReceived, Order.SaleRecorded, Order.SaleStatusChanged)

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            event = recorded.event
            if isinstance(event, Order.OrderReceived):
                await conn.execute(
                    _INSERT_RECEIPT,
                    event.originator_id,
                    event.originator_version,
                    recorded.notification_id,
                    event.user_id,
                    to_json(receipt_source(recorded)),
                )
            elif isinstance(event, Order.SaleRecorded):
                await self._sale_recorded(conn, event)
            elif isinstance(event, Order.SaleStatusChanged):
                await conn.execute(
                    _UPDATE_STATUS,
                    event.originator_id,
                    event.status,
                    event.platform_status,
                    event.timestamp,
                )

    async def _sale_recorded(self, conn: Any, e: Any) -> None:
        platform = await conn.fetchval(
            "SELECT source->>'platform' FROM sale_receipts"
            " WHERE order_id = $1 AND originator_version = $2",
            e.originator_id,
            e.receipt_version,
        )
        lines = [line_json(line, platform) for line in e.lines]
        status = await conn.execute(
            _INSERT_SALE,
            e.originator_id,
            e.user_id,
            e.status,
            e.platform_status,
            e.customer.name,
            e.customer.email,
            to_json(lines),
            e.subtotal,
            e.shipping,
            e.tax,
            e.discount,
            e.total,
            e.currency,
            e.payment_method,
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
        "currency": row["currency"],
        "payment_method": row["payment_method"],
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
    page = rows[:limit]
    more = len(rows) > limit
    next_after = (page[-1]["recorded_at"], page[-1]["sale_id"]) if more else None
    return [_sale(r) for r in page], next_after


async def get_sale(conn: Any, user_id: UUID, sale_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, source FROM sales WHERE user_id = $1 AND sale_id = $2",  # noqa: S608
        user_id,
        sale_id,
    )
    if row is None:
        return None
    sale = _sale(row)
    sale["source"] = parse_json(row["source"])
    return sale
