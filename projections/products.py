"""The product catalogue: each product as its latest delivery describes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from aggregates.lifecycle import TRASH, deletion_is_trash
from aggregates.product import Product
from projections.base import Recorded, fetch_versioned, topics
from projections.catalogue import entries

# A new entry starts with the latest deletion mark of its product or its parent (a deletion
# reaches a parent's variations), and in the trash unless the delivery was modified after
# the notice came.
_UPSERT = """
WITH mark AS (
    SELECT deleted, trashed, trash_after FROM product_deletions
    WHERE user_id = $1 AND platform = $3 AND external_id IN ($4, $9)
    ORDER BY notification_id DESC LIMIT 1
)
INSERT INTO products (user_id, product_ref, platform, external_id, name, sku, price,
    product_type, parent_id, manage_stock, stock_quantity, platform_status, modified_at,
    source_sha256, updated_at, source_notification_id, product_id, deleted_on_platform,
    trashed, trash_after)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
    coalesce(m.deleted, false),
    coalesce(m.trashed AND NOT coalesce($13::timestamptz > m.trash_after, false), false),
    m.trash_after
FROM (SELECT) AS one LEFT JOIN mark m ON true
ON CONFLICT (user_id, product_ref) DO UPDATE SET
    name = EXCLUDED.name, sku = EXCLUDED.sku, price = EXCLUDED.price,
    product_type = EXCLUDED.product_type, parent_id = EXCLUDED.parent_id,
    manage_stock = EXCLUDED.manage_stock, stock_quantity = EXCLUDED.stock_quantity,
    platform_status = EXCLUDED.platform_status, modified_at = EXCLUDED.modified_at,
    source_sha256 = EXCLUDED.source_sha256, updated_at = EXCLUDED.updated_at,
    source_notification_id = EXCLUDED.source_notification_id,
    product_id = EXCLUDED.product_id,
    -- Out of the trash once a delivery modified after the notice came says otherwise.
    trashed = products.trashed
        AND NOT coalesce(EXCLUDED.modified_at > products.trash_after, false)
-- Deliveries arrive out of order: one built before the one shown changes nothing. (An equal
-- key is the same delivery, restated by a correction: it replaces its first reading.)
WHERE (coalesce(EXCLUDED.modified_at, '-infinity'), EXCLUDED.source_sha256)
    >= (coalesce(products.modified_at, '-infinity'), products.source_sha256)
"""

_COLUMNS = """
product_ref, platform, external_id, name, sku, price::text, product_type, parent_id,
manage_stock, stock_quantity, {platform_status} AS platform_status, modified_at,
deleted_on_platform, updated_at
"""
_LIST = """
SELECT {columns} FROM products WHERE user_id = $1 AND ($2::text IS NULL OR product_ref > $2)
ORDER BY product_ref LIMIT $3
"""
# Version 1 (read while a deploy rebuilds version 2, see fetch_versioned) knew no trash.
_LIST_V2 = _LIST.format(
    columns=_COLUMNS.format(
        platform_status=f"CASE WHEN trashed THEN '{TRASH}' ELSE platform_status END"
    )
)
_LIST_V1 = _LIST.format(columns=_COLUMNS.format(platform_status="platform_status"))

# A variation restored alone must not bring back its parent or its siblings, so a restore
# reaches exactly what a deletion of the same product reached, never more.
# $6: when the notice came; an entry whose delivery was modified after that is not in the
# trash (it was built after the notice was sent).
_MARK = """
UPDATE products SET deleted_on_platform = $4,
    trashed = $5 AND NOT coalesce(modified_at > $6, false), trash_after = $6, updated_at = $7
WHERE user_id = $1 AND platform = $2 AND (external_id = $3 OR parent_id = $3)
"""

_REMEMBER = """
INSERT INTO product_deletions (user_id, platform, external_id, deleted, trashed,
    trash_after, notification_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (user_id, platform, external_id) DO UPDATE SET deleted = EXCLUDED.deleted,
    trashed = EXCLUDED.trashed, trash_after = EXCLUDED.trash_after,
    notification_id = EXCLUDED.notification_id
"""

# Entries a correction adds to a deleted product (on Shopify, whose deletions are for good).
_CORRECTED = """
UPDATE products SET deleted_on_platform = true, updated_at = $4
WHERE user_id = $1 AND platform = $2 AND (external_id = $3 OR parent_id = $3)
    AND NOT deleted_on_platform
"""


class ProductsProjection:
    name = "products"
    version = 2  # 2: the trash; deletion marks reach entries delivered after them
    # A correction restates a delivery as corrected code reads it: applied as a delivery is.
    topics = topics(
        Product.ProductUpdated,
        Product.InterpretationCorrected,
        Product.DeletedOnPlatform,
        Product.RestoredOnPlatform,
    )

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            e = recorded.event
            if isinstance(e, Product.ProductUpdated):
                await self._updated(conn, recorded)
            elif isinstance(e, Product.DeletedOnPlatform | Product.RestoredOnPlatform):
                await self._flag(conn, recorded, isinstance(e, Product.DeletedOnPlatform))

    async def _flag(self, conn: Any, recorded: Recorded, deleted: bool) -> None:
        # The product's own entries, and a parent's variations with it.
        e = recorded.event
        trashed = deleted and deletion_is_trash(e.platform)
        # A restore names no time: the entry leaves the trash whatever its deliveries say.
        at = e.received_at if trashed else None
        key = (e.user_id, e.platform, e.external_id)
        await conn.execute(_MARK, *key, deleted, trashed, at, e.timestamp)
        await conn.execute(_REMEMBER, *key, deleted, trashed, at, recorded.notification_id)

    async def _updated(self, conn: Any, recorded: Recorded) -> None:
        e = recorded.event
        for entry in entries(e):
            await conn.execute(
                _UPSERT,
                e.user_id,
                entry.product_ref,
                e.platform,
                entry.external_id,
                entry.name,
                entry.sku,
                entry.price,
                e.product_type,
                entry.parent_id,
                entry.manage_stock,
                entry.stock_quantity,
                e.platform_status,
                e.modified_at,
                e.body_sha256,
                e.timestamp,
                recorded.notification_id,
                e.originator_id,
            )
        if isinstance(e, Product.InterpretationCorrected) and e.deleted:
            # Entries the corrected reading adds are marked as the deletion marked the rest.
            await conn.execute(_CORRECTED, e.user_id, e.platform, e.external_id, e.timestamp)


def _product(row: Any) -> dict[str, Any]:
    """A catalogue entry as the API shows it."""
    item = dict(row)
    for key in ("modified_at", "updated_at"):
        item[key] = item[key].isoformat() if item[key] is not None else None
    return item


async def list_products(
    conn: Any, user_id: UUID, *, limit: int, after: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    rows = await fetch_versioned(conn, _LIST_V2, _LIST_V1, user_id, after, limit + 1)
    page = rows[:limit]
    next_after = page[-1]["product_ref"] if len(rows) > limit else None
    return [_product(r) for r in page], next_after
