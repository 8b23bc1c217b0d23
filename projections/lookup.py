"""External order id -> our sale, with the receipt event that made it a sale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from aggregates.order import Order
from projections import lookup_bulk
from projections.base import (
    Decode,
    Recorded,
    StoredRow,
    parse_json,
    receipt_source,
    to_json,
    topics,
)

_RECEIVED = """
INSERT INTO order_lookup (user_id, platform, external_id, order_id, last_receipt,
    first_received_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (user_id, platform, external_id) DO UPDATE SET last_receipt = EXCLUDED.last_receipt
"""

_RECEIPT = """
INSERT INTO lookup_receipts (order_id, originator_version, source) VALUES ($1, $2, $3::jsonb)
"""

_SALE = """
UPDATE order_lookup SET status = $2, source = r.source
FROM lookup_receipts r
WHERE order_lookup.order_id = $1 AND r.order_id = $1 AND r.originator_version = $3
"""


class LookupProjection:
    name = "lookup"
    topics = topics(Order.OrderReceived, Order.SaleRecorded, Order.SaleStatusChanged)

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            e = recorded.event
            if isinstance(e, Order.OrderReceived):
                source = to_json(receipt_source(recorded))
                await conn.execute(
                    _RECEIVED,
                    e.user_id,
                    e.platform,
                    e.external_id,
                    e.originator_id,
                    source,
                    e.received_at,
                )
                await conn.execute(_RECEIPT, e.originator_id, e.originator_version, source)
            elif isinstance(e, Order.SaleRecorded):
                status = await conn.execute(_SALE, e.originator_id, e.status, e.receipt_version)
                if status != "UPDATE 1":
                    raise LookupError(f"sale {e.originator_id}: its receipt is not projected")
            elif isinstance(e, Order.SaleStatusChanged):
                await conn.execute(
                    "UPDATE order_lookup SET status = $2 WHERE order_id = $1",
                    e.originator_id,
                    e.status,
                )

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        """Rebuilds only: COPY and set-based merges per chunk (see projections/lookup_bulk.py)."""
        await lookup_bulk.bulk_load(conn, rows, decode)


async def find_order(
    conn: Any, user_id: UUID, platform: str, external_id: str
) -> dict[str, Any] | None:
    """The sale an external order became (``sale_id`` None while it is not a sale)."""
    row = await conn.fetchrow(
        "SELECT order_id, status, source, last_receipt->>'platform_status' AS platform_status"
        " FROM order_lookup WHERE user_id = $1 AND platform = $2 AND external_id = $3",
        user_id,
        platform,
        external_id,
    )
    if row is None:
        return None
    return {
        "sale_id": str(row["order_id"]) if row["status"] is not None else None,
        "status": row["status"],
        "platform_status": row["platform_status"],
        "source": parse_json(row["source"]),
    }
