"""Current stock: a level per product reference, always the sum of its movements. (Its
queries are in stock_queries.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic

from aggregates.order import Order
from aggregates.product import Product
from aggregates.stock_adjustment import StockAdjustment
from projections import stock_bulk
from projections.base import Decode, Recorded, StoredRow, topics
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

# Deliveries arrive out of order: a report built before the one kept changes nothing but a
# missing name or SKU (the API names a variation "S" where its webhook says "Camiseta - S";
# see
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
    sku = CASE WHEN {_NEWER_REPORT} THEN coalesce(EXCLUDED.sku, stock_levels.sku)
        ELSE coalesce(stock_levels.sku, EXCLUDED.sku) END,
    name = CASE WHEN {_NEWER_REPORT} THEN coalesce(EXCLUDED.name, stock_levels.name)
        ELSE coalesce(stock_levels.name, EXCLUDED.name) END,
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


def split_ref(product_ref: str) -> tuple[str, str]:
    platform, _, external_id = product_ref.partition(":")
    return platform, external_id


class StockProjection:
    name = "stock"
    # 2: tracked, and the newest report by the platform's own time; 3: its name and SKU too
    version = 3
    topics = topics(
        Order.StockDeducted,
        Order.StockRestored,
        StockAdjustment.StockAdjusted,
        Product.ProductUpdated,
        Product.InterpretationCorrected,  # a restated delivery, applied as one
    )
    # Built once after a rebuild's first pass (see service/projecting/bulk_replay.py): both
    # keys come from the log, whose own constraints already make them unique.
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
        """A batch as one COPY and one merge (see projections/stock_bulk.py)."""
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
