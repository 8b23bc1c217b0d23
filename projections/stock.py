"""Current stock: a level per product reference, always the sum of its movements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from aggregates.order import Order
from aggregates.product import Product
from projections.base import Recorded, topics
from projections.catalogue import entries

_INSERT_MOVEMENT = """
INSERT INTO stock_movements (notification_id, user_id, product_ref, delta, kind,
    originator_id, originator_version, line_index, reason, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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

_CATALOGUE = """
INSERT INTO stock_levels (user_id, product_ref, platform, external_id, sku, name, quantity,
    platform_reported_quantity, platform_reported_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)
ON CONFLICT (user_id, product_ref) DO UPDATE SET
    sku = coalesce(EXCLUDED.sku, stock_levels.sku),
    name = coalesce(EXCLUDED.name, stock_levels.name),
    platform_reported_quantity = EXCLUDED.platform_reported_quantity,
    platform_reported_at = EXCLUDED.platform_reported_at,
    updated_at = EXCLUDED.updated_at
"""

_COLUMNS = """
product_ref, platform, external_id, sku, name, quantity, platform_reported_quantity
"""


def split_ref(product_ref: str) -> tuple[str, str]:
    platform, _, external_id = product_ref.partition(":")
    return platform, external_id


class StockProjection:
    name = "stock"
    topics = topics(Order.StockDeducted, Order.StockRestored, Product.ProductUpdated)

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            event = recorded.event
            if isinstance(event, Order.StockDeducted):
                await self._move(conn, recorded, -event.quantity, "deducted", None)
            elif isinstance(event, Order.StockRestored):
                await self._move(conn, recorded, event.quantity, "restored", event.reason)
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
                        entry.stock_quantity,
                        event.timestamp,
                    )

    async def _move(
        self, conn: Any, recorded: Recorded, delta: int, kind: str, reason: str | None
    ) -> None:
        e = recorded.event
        await conn.execute(
            _INSERT_MOVEMENT,
            recorded.notification_id,
            e.user_id,
            e.product_ref,
            delta,
            kind,
            e.originator_id,
            e.originator_version,
            e.line_index,
            reason,
            e.timestamp,
        )
        platform, external_id = split_ref(e.product_ref)
        await conn.execute(
            _MOVE_LEVEL,
            e.user_id,
            e.product_ref,
            platform,
            external_id,
            e.sku,
            e.name,
            delta,
            e.timestamp,
        )


def _level(row: Any) -> dict[str, Any]:
    return dict(row)


async def list_stock(
    conn: Any, user_id: UUID, *, limit: int, after: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM stock_levels WHERE user_id = $1"  # noqa: S608 (constant)
        " AND ($2::text IS NULL OR product_ref > $2) ORDER BY product_ref LIMIT $3",
        user_id,
        after,
        limit + 1,
    )
    page = rows[:limit]
    next_after = page[-1]["product_ref"] if len(rows) > limit else None
    return [_level(r) for r in page], next_after


async def get_stock(conn: Any, user_id: UUID, product_ref: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM stock_levels"  # noqa: S608 (constant columns)
        " WHERE user_id = $1 AND product_ref = $2",
        user_id,
        product_ref,
    )
    return None if row is None else _level(row)


async def movements_total(conn: Any, user_id: UUID, product_ref: str) -> int:
    """The sum of a product's movements: by the ledger's law, equal to its level."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(delta), 0) FROM stock_movements"
        " WHERE user_id = $1 AND product_ref = $2",
        user_id,
        product_ref,
    )
    return int(value)
