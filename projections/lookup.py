"""External order id -> our sale, with the receipt event that made it a sale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from aggregates.order import Order
from projections import lookup_bulk
from projections.base import (
    Decode,
    Recorded,
    StoredRow,
    parse_json,
    receipt_source,
    topics,
)
from projections.encoding import to_json

# An order id names its user, platform and external id (uuid5), so it is the key. The
# platform status is what the order's events decide, whatever order receipts came in: a
# sale's from its status events, another order's from StatusNoted. A receipt sets it only on
# an order that has neither (recorded before StatusNoted existed).
_RECEIVED = """
INSERT INTO order_lookup (order_id, user_id, platform, external_id, platform_status,
    first_received_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (order_id) DO UPDATE SET platform_status = CASE
    WHEN order_lookup.status IS NULL AND NOT order_lookup.noted THEN EXCLUDED.platform_status
    ELSE order_lookup.platform_status END
"""

_NOTED = """
UPDATE order_lookup SET platform_status = $2, noted = true WHERE order_id = $1 AND status IS NULL
"""

_RECEIPT = """
INSERT INTO lookup_receipts (order_id, originator_version, source) VALUES ($1, $2, $3::jsonb)
"""

_SALE = """
UPDATE order_lookup SET status = $2, source_version = $3, platform_status = $4
WHERE order_id = $1 AND EXISTS (
    SELECT FROM lookup_receipts r WHERE r.order_id = $1 AND r.originator_version = $3)
"""


class LookupProjection:
    name = "lookup"
    # 2: no copies of the receipts' JSON in order_lookup; 3: a sale's platform status from its
    # events; 4: another order's from StatusNoted (the ``noted`` column)
    version = 4
    topics = topics(
        Order.OrderReceived, Order.SaleRecorded, Order.SaleStatusChanged, Order.StatusNoted
    )
    # Built once after a rebuild's first pass (service/projecting/bulk_replay.py): an order id is
    # made from its user, platform and external id, so the log keeps them unique.
    bulk_deferred = ("order_lookup_external_key",)

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            e = recorded.event
            if isinstance(e, Order.OrderReceived):
                source = to_json(receipt_source(recorded))
                await conn.execute(
                    _RECEIVED,
                    e.originator_id,
                    e.user_id,
                    e.platform,
                    e.external_id,
                    e.platform_status,
                    e.received_at,
                )
                await conn.execute(_RECEIPT, e.originator_id, e.originator_version, source)
            elif isinstance(e, Order.SaleRecorded):
                status = await conn.execute(
                    _SALE, e.originator_id, e.status, e.receipt_version, e.platform_status
                )
                if status != "UPDATE 1":
                    raise LookupError(f"sale {e.originator_id}: its receipt is not projected")
            elif isinstance(e, Order.StatusNoted):
                await conn.execute(_NOTED, e.originator_id, e.platform_status)
            elif isinstance(e, Order.SaleStatusChanged):
                await conn.execute(
                    "UPDATE order_lookup SET status = $2, platform_status = $3 WHERE order_id = $1",
                    e.originator_id,
                    e.status,
                    e.platform_status,
                )

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        """COPY and set-based merges per chunk (see projections/lookup_bulk.py)."""
        await lookup_bulk.bulk_load(conn, rows, decode)


async def find_order(
    conn: Any, user_id: UUID, platform: str, external_id: str
) -> dict[str, Any] | None:
    """The sale an external order became (``sale_id`` None while it is not a sale)."""
    try:
        row = await conn.fetchrow(_FIND, user_id, platform, external_id)
    except asyncpg.UndefinedColumnError:
        # A deploy of version 2 rebuilds the projection beside the live version 1 tables,
        # which keep answering until the swap.
        row = await conn.fetchrow(_FIND_V1, user_id, platform, external_id)
    if row is None:
        return None
    return {
        "sale_id": str(row["order_id"]) if row["status"] is not None else None,
        "status": row["status"],
        "platform_status": row["platform_status"],
        "source": parse_json(row["source"]),
    }


_FIND = """
SELECT o.order_id, o.status, o.platform_status, r.source FROM order_lookup o
LEFT JOIN lookup_receipts r ON r.order_id = o.order_id AND r.originator_version = o.source_version
WHERE o.user_id = $1 AND o.platform = $2 AND o.external_id = $3
"""

_FIND_V1 = """
SELECT order_id, status, last_receipt->>'platform_status' AS platform_status, source
FROM order_lookup WHERE user_id = $1 AND platform = $2 AND external_id = $3
"""
