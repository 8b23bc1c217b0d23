"""Indexes and constraints a bulk rebuild builds once at the end of its first pass."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from projections.registry import all_projections
from projections.stock import StockProjection
from service.projecting.rebuild import build, rebuild
from service.store.eventstore import EventStore
from tests.builders import woo_order
from tests.support import Merchant

INDEXES = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1
"""


async def test_deferred_indexes_and_constraints_are_back_after_a_rebuild(
    client: TestClient, merchant: Merchant, pool, database_url: str
):
    for n in range(3):
        assert (await client.post(merchant.woo_orders(), json=woo_order(300 + n))).ok
    async with pool.acquire() as conn:
        before = [r[0] for r in await conn.fetch(INDEXES, "projection_stock")]
    assert set(StockProjection.bulk_deferred) <= set(before)
    for projection in all_projections():
        await rebuild(database_url, EventStore(), projection)
    async with pool.acquire() as conn:
        assert [r[0] for r in await conn.fetch(INDEXES, "projection_stock")] == before
        # The unique key is a constraint again, not only an index: it still refuses.
        row = await conn.fetchrow("SELECT * FROM stock_movements LIMIT 1")
        with pytest.raises(asyncpg.UniqueViolationError, match="stock_movements_event_key"):
            await conn.execute(
                "INSERT INTO stock_movements SELECT $1 + 1000000, user_id, product_ref, delta,"
                " kind, originator_id, originator_version, line_index, reason, occurred_at,"
                " topic, receipt_version, refund_id, actor FROM stock_movements"
                " WHERE notification_id = $1",
                row["notification_id"],
            )


class Misnamed(StockProjection):
    bulk_deferred = ("no_such_index",)


async def test_a_deferred_name_that_matches_nothing_stops_the_build(
    client: TestClient, merchant: Merchant, database_url: str
):
    assert (await client.post(merchant.woo_orders(), json=woo_order(310))).ok
    with pytest.raises(LookupError, match="no_such_index"):
        await build(database_url, EventStore(), Misnamed(), "deferred_check")
