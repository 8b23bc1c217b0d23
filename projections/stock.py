"""Current stock: a level per product reference, always the sum of its movements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.order import Order
from aggregates.product import Product
from aggregates.stock_adjustment import StockAdjustment
from projections import stock_bulk
from projections.base import Decode, Recorded, StoredRow, fetch_versioned, topics
from projections.catalogue import entries, report_recorded_at

_INSERT_MOVEMENT = """
INSERT INTO stock_movements (notification_id, user_id, product_ref, delta, kind,
    originator_id, originator_version, line_index, reason, occurred_at, topic,
    receipt_version, refund_id, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""

# A product first seen in a sale gets the line's name and SKU; the catalogue's win later.
_MOVE_LEVEL = """
INSERT INTO stock_levels (user_id, product_ref, platform, external_id, sku, name, quantity,
    updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (user_id, product_ref) DO UPDATE SET
    quantity = stock_levels.quantity + EXCLUDED.quantity,
    sku = coalesce(stock_levels.sku, EXCLUDED.sku),
    name = coalesce(stock_levels.name, EXCLUDED.name),
    updated_at = EXCLUDED.updated_at
"""

# Deliveries arrive out of order: a report built before the one kept changes nothing (see
# stock.sql; an equal key is the same delivery, restated by a correction, which replaces its
# first reading). The same rule, folded over a batch, is in stock_bulk.py.
_NEWER_REPORT = """((coalesce(EXCLUDED.report_modified_at, '-infinity'), EXCLUDED.report_sha256)
    >= (coalesce(stock_levels.report_modified_at, '-infinity'),
        coalesce(stock_levels.report_sha256, '')))"""

_CATALOGUE = f"""
INSERT INTO stock_levels (user_id, product_ref, platform, external_id, sku, name, quantity,
    tracked, platform_reported_quantity, report_modified_at, report_sha256, report_recorded_at,
    updated_at)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12)
ON CONFLICT (user_id, product_ref) DO UPDATE SET
    sku = coalesce(EXCLUDED.sku, stock_levels.sku),
    name = coalesce(EXCLUDED.name, stock_levels.name),
    tracked = CASE WHEN {_NEWER_REPORT} THEN EXCLUDED.tracked ELSE stock_levels.tracked END,
    platform_reported_quantity = CASE WHEN {_NEWER_REPORT}
        THEN EXCLUDED.platform_reported_quantity ELSE stock_levels.platform_reported_quantity END,
    report_recorded_at = CASE WHEN {_NEWER_REPORT}
        THEN EXCLUDED.report_recorded_at ELSE stock_levels.report_recorded_at END,
    report_modified_at = CASE WHEN {_NEWER_REPORT}
        THEN EXCLUDED.report_modified_at ELSE stock_levels.report_modified_at END,
    report_sha256 = CASE WHEN {_NEWER_REPORT}
        THEN EXCLUDED.report_sha256 ELSE stock_levels.report_sha256 END,
    updated_at = EXCLUDED.updated_at
"""  # noqa: S608 (constant)

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
    AND ($4::bool IS NULL OR {tracked} = $4) ORDER BY product_ref LIMIT $3
"""
_GET = "SELECT {columns} FROM stock_levels WHERE user_id = $1 AND product_ref = $2"


def split_ref(product_ref: str) -> tuple[str, str]:
    platform, _, external_id = product_ref.partition(":")
    return platform, external_id


class StockProjection:
    name = "stock"
    version = 2  # 2: tracked, and the newest report by the platform's own time
    topics = topics(
        Order.StockDeducted,
        Order.StockRestored,
        StockAdjustment.StockAdjusted,
        Product.ProductUpdated,
        Product.InterpretationCorrected,  # a restated delivery, applied as one
    )
    # Built once after a rebuild's first pass (see service/bulk_replay.py): both keys come
    # from the log, whose own constraints already make them unique.
    bulk_deferred = ("stock_movements_event_key", "stock_movements_product_idx")

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            event = recorded.event
            if isinstance(event, Order.StockDeducted):
                await self._move(conn, recorded, _order_move(event, -event.quantity, "deducted"))
            elif isinstance(event, Order.StockRestored):
                move = _order_move(event, event.quantity, "restored")
                move.update(reason=event.reason, refund_id=event.refund_id)
                await self._move(conn, recorded, move)
            elif isinstance(event, StockAdjustment.StockAdjusted):
                move = _blank_move(event.by, "adjusted")
                move.update(reason=event.reason, actor=event.actor)
                await self._move(conn, recorded, move)
            elif isinstance(event, Product.ProductUpdated):
                for entry in entries(event):
                    await conn.execute(
                        _CATALOGUE,
                        event.user_id,
                        entry.product_ref,
                        event.platform,
                        entry.external_id,
                        entry.sku,
                        entry.name,
                        entry.tracked,
                        entry.reported_quantity,
                        event.modified_at,
                        event.body_sha256,
                        report_recorded_at(event),
                        event.timestamp,
                    )

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        """Rebuilds only: a batch as one COPY and one merge (see projections/stock_bulk.py)."""
        await stock_bulk.bulk_load(conn, rows, decode)

    async def _move(self, conn: Any, recorded: Recorded, move: dict[str, Any]) -> None:
        e = recorded.event
        await conn.execute(
            _INSERT_MOVEMENT,
            recorded.notification_id,
            e.user_id,
            e.product_ref,
            move["delta"],
            move["kind"],
            e.originator_id,
            e.originator_version,
            move["line_index"],
            move["reason"],
            e.timestamp,
            get_topic(type(e)),
            move["receipt_version"],
            move["refund_id"],
            move["actor"],
        )
        platform, external_id = split_ref(e.product_ref)
        await conn.execute(
            _MOVE_LEVEL,
            e.user_id,
            e.product_ref,
            platform,
            external_id,
            move["sku"],
            move["name"],
            move["delta"],
            e.timestamp,
        )


def _blank_move(delta: int, kind: str) -> dict[str, Any]:
    """A movement's columns beyond the event's envelope; what a kind has not, stays null."""
    return {
        "delta": delta,
        "kind": kind,
        "line_index": None,
        "reason": None,
        "receipt_version": None,
        "refund_id": None,
        "actor": None,
        "sku": None,
        "name": None,
    }


def _order_move(e: Any, delta: int, kind: str) -> dict[str, Any]:
    move = _blank_move(delta, kind)
    move.update(line_index=e.line_index, receipt_version=e.receipt_version, sku=e.sku, name=e.name)
    return move


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
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of stock items by product reference; ``tracked`` keeps only the products the
    platform counts (True) or says it does not (False)."""
    rows = await fetch_versioned(
        conn,
        _LIST.format(columns=_COLUMNS, tracked="tracked"),
        _LIST.format(columns=_COLUMNS_V1, tracked="NULL::boolean"),
        user_id,
        after,
        limit + 1,
        tracked,
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
