"""What the stock projection's tables answer: levels, histories, discrepancies."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.base import fetch_versioned

# The platform's count is shown with the platform's own time of it (when the body has none,
# the time the ledger recorded it), and ``drift``: how far it is from the ledger's level, for
# a product the platform counts (not for one it does not).
_COLUMNS = """
product_ref, platform, external_id, sku, name, quantity, tracked, platform_reported_quantity,
CASE WHEN platform_reported_quantity IS NOT NULL
    THEN coalesce(report_modified_at, report_recorded_at) END AS platform_reported_at,
CASE WHEN tracked IS NOT FALSE THEN platform_reported_quantity - quantity END AS drift
"""
# Version 1's columns in that shape, for the reads while a deploy rebuilds version 2 (see
# fetch_versioned): it knew no tracking, and its report time was when it was recorded.
_COLUMNS_V1 = """
product_ref, platform, external_id, sku, name, quantity, NULL::boolean AS tracked,
platform_reported_quantity,
CASE WHEN platform_reported_quantity IS NOT NULL THEN platform_reported_at END
    AS platform_reported_at,
platform_reported_quantity - quantity AS drift
"""
_LIST = """
SELECT {columns} FROM stock_levels WHERE user_id = $1 AND ($2::text IS NULL OR product_ref > $2)
    AND ($4::bool IS NULL OR {tracked} = $4)
    AND ($5::text IS NULL OR strpos(lower(product_ref || ' ' || coalesce(name, '') || ' '
        || coalesce(sku, '')), lower($5)) > 0)
    ORDER BY product_ref LIMIT $3
"""
_GET = "SELECT {columns} FROM stock_levels WHERE user_id = $1 AND product_ref = $2"


def _level(row: Any) -> dict[str, Any]:
    item = dict(row)
    at = item["platform_reported_at"]
    item["platform_reported_at"] = None if at is None else at.isoformat()
    return item


async def list_stock(
    conn: Any,
    user_id: UUID,
    *,
    limit: int,
    after: str | None = None,
    tracked: bool | None = None,
    text: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of stock items by product reference; ``tracked`` keeps only the products the
    platform counts (True) or says it does not (False); ``text``, those whose reference,
    name or SKU contains it (any case; taken literally, no wildcards)."""
    rows = await fetch_versioned(
        conn,
        _LIST.format(columns=_COLUMNS, tracked="tracked"),
        _LIST.format(columns=_COLUMNS_V1, tracked="NULL::boolean"),
        user_id,
        after,
        limit + 1,
        tracked,
        text,
    )
    page = rows[:limit]
    next_after = page[-1]["product_ref"] if len(rows) > limit else None
    return [_level(r) for r in page], next_after


async def get_stock(conn: Any, user_id: UUID, product_ref: str) -> dict[str, Any] | None:
    rows = await fetch_versioned(
        conn,
        _GET.format(columns=_COLUMNS),
        _GET.format(columns=_COLUMNS_V1),
        user_id,
        product_ref,
    )
    return _level(rows[0]) if rows else None


async def movements_total(conn: Any, user_id: UUID, product_ref: str) -> int:
    """The sum of a product's movements: by the ledger's law, equal to its level."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(delta), 0) FROM stock_movements"
        " WHERE user_id = $1 AND product_ref = $2",
        user_id,
        product_ref,
    )
    return int(value)


_HISTORY = """
SELECT notification_id, kind, delta, reason, topic, originator_id, originator_version,
    receipt_version, line_index, refund_id, actor, occurred_at, balance
FROM (
    SELECT *, sum(delta) OVER (ORDER BY notification_id) AS balance
    FROM stock_movements WHERE user_id = $1 AND product_ref = $2
) m
WHERE notification_id > $3 ORDER BY notification_id LIMIT $4
"""


def _movement(row: Any) -> dict[str, Any]:
    adjusted = row["kind"] == "adjusted"
    cause = str(row["originator_id"])
    return {
        "notification_id": row["notification_id"],
        "kind": row["kind"],
        "delta": row["delta"],
        "balance": int(row["balance"]),
        "reason": row["reason"],
        "topic": row["topic"],
        "event": row["topic"].rpartition(".")[2],
        "originator_id": cause,
        "originator_version": row["originator_version"],
        "sale_id": None if adjusted else cause,
        "adjustment_id": cause if adjusted else None,
        "receipt_version": row["receipt_version"],
        "line_index": row["line_index"],
        "refund_id": row["refund_id"],
        "actor": row["actor"],
        "occurred_at": row["occurred_at"].isoformat(),
    }


async def stock_history(
    conn: Any, user_id: UUID, product_ref: str, *, after: int = 0, limit: int = 1000
) -> tuple[list[dict[str, Any]], int | None]:
    """A product's movements in log order, each with the running balance after it.

    The balance counts from the first movement, whatever page this is; the caller reads the
    level in the same snapshot to show that the final balance is the level.
    """
    rows = await conn.fetch(_HISTORY, user_id, product_ref, after, limit + 1)
    page = rows[:limit]
    next_after = page[-1]["notification_id"] if len(rows) > limit else None
    return [_movement(r) for r in page], next_after


async def discrepancies(conn: Any, user_id: UUID) -> list[dict[str, Any]]:
    """Products whose ledger stock differs from the count the platform last reported; a
    product the platform says it does not count is never one."""
    rows = await fetch_versioned(
        conn,
        _DISCREPANCIES.format(
            times="coalesce(report_modified_at, report_recorded_at) AS platform_reported_at,"
            " report_recorded_at",
            tracked="tracked",
        ),
        _DISCREPANCIES.format(
            times="platform_reported_at, platform_reported_at AS report_recorded_at",
            tracked="NULL::boolean",
        ),
        user_id,
    )
    return [dict(r) for r in rows]


# {times}: the platform's time of the report and when it was recorded (version 1 knew only
# the latter, which names the report for reconciliation in both).
_DISCREPANCIES = """
SELECT product_ref, name, quantity, platform_reported_quantity, {times}
FROM stock_levels WHERE user_id = $1 AND platform_reported_quantity IS NOT NULL
    AND {tracked} IS NOT FALSE AND quantity <> platform_reported_quantity
ORDER BY product_ref
"""
