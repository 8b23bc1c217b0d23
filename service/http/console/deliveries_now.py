"""The last delivery per endpoint, for the Integrations tab, from what the ledger keeps today.

Until the delivery log lands (service/audit/deliveries.py, ``last_deliveries(conn,
user_id)``), the newest of: the newest sale per platform (an order delivery that was
recorded) and the newest inbox entry per platform and endpoint (quarantined, or a ping).
Switch the import in integrations.py to the log's function when it is there: the tab reads
``received_at``, ``outcome`` and ``reason`` of each row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from projections.sales_search import newest_sale
from service.intake import inbox

# Enough of the inbox to find each endpoint's newest entry in all but odd cases.
_INBOX_LOOK = 100


async def last_deliveries(
    conn: asyncpg.Connection, user_id: UUID
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for platform in ("woocommerce", "shopify"):
        sale = await newest_sale(conn, user_id, platform)
        if sale is not None:
            found[(platform, "order")] = {
                "received_at": sale["recorded_at"],
                "outcome": "recorded",
                "reason": None,
                "sale_id": str(sale["sale_id"]),
            }
    entries, _ = await inbox.list_entries(conn, user_id, limit=_INBOX_LOOK)
    for entry in entries:
        endpoint = "order" if entry["endpoint"] == "ping" else entry["endpoint"]
        key = (entry["platform"], endpoint)
        when = datetime.fromisoformat(entry["received_at"])
        if key in found and found[key]["received_at"] >= when:
            continue
        found[key] = {
            "received_at": when,
            "outcome": "ping" if entry["kind"] == "ping" else "quarantined",
            "reason": entry["reason"],
            "sale_id": None,
        }
    return found
