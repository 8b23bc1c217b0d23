"""The console's reading of the sale list: filters, search, and totals per currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.sales import _COLUMNS, sales_page

# $1 user; $2 platform, $3 status, $4 from (inclusive), $5 to (exclusive), $6 the search: an
# external order id exactly, or part of the customer's email.
_WHERE = """
WHERE user_id = $1
  AND ($2::text IS NULL OR platform = $2)
  AND ($3::text IS NULL OR status = $3)
  AND ($4::timestamptz IS NULL OR recorded_at >= $4)
  AND ($5::timestamptz IS NULL OR recorded_at < $5)
  AND ($6::text IS NULL OR external_id = $6
       OR strpos(lower(coalesce(customer_email, '')), lower($6)) > 0)
"""

_PAGE = (
    f"SELECT {_COLUMNS} FROM sales {_WHERE}"  # noqa: S608 (constant text)
    " AND ($7::timestamptz IS NULL OR (recorded_at, sale_id) < ($7, $8::uuid))"
    " ORDER BY recorded_at DESC, sale_id DESC LIMIT $9"
)

# A cancelled order counts for nothing: it is counted apart, out of gross, refunded and net.
_TOTALS = f"""
SELECT currency,
    count(*) FILTER (WHERE status <> 'cancelled') AS orders,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    coalesce(sum(total) FILTER (WHERE status <> 'cancelled'), 0)::text AS gross,
    coalesce(sum(refunded) FILTER (WHERE status <> 'cancelled'), 0)::text AS refunded,
    coalesce(sum(total - refunded) FILTER (WHERE status <> 'cancelled'), 0)::text AS net
FROM sales {_WHERE}
GROUP BY currency ORDER BY currency NULLS LAST
"""  # noqa: S608 (constant text)


@dataclass(frozen=True)
class SaleFilter:
    platform: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    text: str | None = None

    def args(self) -> tuple[Any, ...]:
        return (self.platform, self.status, self.since, self.until, self.text)


async def search_sales(
    conn: Any,
    user_id: UUID,
    where: SaleFilter,
    *,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, UUID] | None]:
    """Newest first; the page and the keyset position to continue after, if any."""
    rows = await conn.fetch(
        _PAGE,
        user_id,
        *where.args(),
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return sales_page(rows, limit)


async def sales_totals(conn: Any, user_id: UUID, where: SaleFilter) -> list[dict[str, Any]]:
    rows = await conn.fetch(_TOTALS, user_id, *where.args())
    return [dict(r) for r in rows]


_LIVE_CHANGED = """
SELECT external_id FROM sales
WHERE user_id = $1 AND platform = $2 AND NOT deleted_on_platform AND updated_at >= $3
ORDER BY external_id
"""


async def live_changed_since(conn: Any, user_id: UUID, platform: str, since: datetime) -> list[str]:
    """The external ids of the user's sales on ``platform`` still live on it (no deletion
    recorded) that the ledger changed at ``since`` or later."""
    return [r["external_id"] for r in await conn.fetch(_LIVE_CHANGED, user_id, platform, since)]
