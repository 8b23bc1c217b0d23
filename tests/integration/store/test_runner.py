"""The projection runner applies each event exactly once, however many runners race."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import asyncpg

from projections.registry import all_projections
from projections.stock_queries import movements_total
from service.projecting.runner import ProjectionRunner
from service.store.eventstore import EventStore
from tests.builders import delivery, spooled, woo_order
from tests.support import create_merchant, pg_ingestor


async def test_racing_runners_apply_every_event_once(pool: asyncpg.Pool, database_url: str):
    merchant = await create_merchant(pool)
    store = EventStore()
    ingestor = pg_ingestor(pool, store)
    for n in range(20):
        answer = await ingestor.ingest(spooled(merchant.user_id, woo_order(n + 1)))
        assert answer.body["status"] == "recorded"

    runners = [ProjectionRunner(pool, store, all_projections(), database_url) for _ in range(3)]
    await asyncio.gather(*(r.catch_up() for r in runners))
    assert await runners[0].catch_up() == 0  # nothing left, nothing applied twice

    async with pool.acquire() as conn:
        levels = dict(
            await conn.fetch(
                "SELECT product_ref, quantity FROM stock_levels WHERE user_id = $1",
                merchant.user_id,
            )
        )
        assert levels == {"woocommerce:42": -40, "woocommerce:71": -20}
        for ref, quantity in levels.items():
            assert await movements_total(conn, merchant.user_id, ref) == quantity
        sales = await conn.fetchval(
            "SELECT count(*) FROM sales WHERE user_id = $1", merchant.user_id
        )
        assert sales == 20
        head = await store.head(conn)
        positions = dict(await conn.fetch("SELECT name, position FROM projection_positions"))
    assert positions == {p.name: head for p in all_projections()}
    assert all(r.reached(head) for r in runners)


async def test_wait_for_times_out_without_a_running_runner(pool: asyncpg.Pool, database_url):
    runner = ProjectionRunner(pool, EventStore(), all_projections(), database_url)
    assert await runner.wait_for(10**12, within=0.05) is False


async def test_an_event_a_projection_cannot_apply_is_set_aside_not_retried_forever(
    pool: asyncpg.Pool, database_url: str
):
    """Events are immutable, so one a projection cannot store would stall that read model
    for every user; the runner applies the rest and keeps the failure on record."""
    from aggregates.product import Product
    from aggregates.values import ProductSnapshot

    merchant = await create_merchant(pool)
    store = EventStore()
    huge = ProductSnapshot(
        "woocommerce",
        secrets.token_hex(3000),
        "Poison",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    product = Product.open(merchant.user_id, huge.platform, huge.external_id)
    product.update(delivery("ab", datetime.now(UTC)), huge)
    async with pool.acquire() as conn, conn.transaction():
        [*_, poison] = await store.append(conn, product.collect_events())
    ingestor = pg_ingestor(pool, store)
    after = await ingestor.ingest(spooled(merchant.user_id, woo_order(77)))
    runner = ProjectionRunner(pool, store, all_projections(), database_url)
    await runner.catch_up()
    assert runner.reached(after.notification_id)
    async with pool.acquire() as conn:
        failures = await conn.fetch(
            "SELECT name FROM projection_failures WHERE notification_id = $1", poison
        )
        assert sorted(r["name"] for r in failures) == ["products", "stock"]
        level = await conn.fetchval(
            "SELECT quantity FROM stock_levels WHERE user_id = $1 AND product_ref = $2",
            merchant.user_id,
            "woocommerce:42",
        )
    assert level == -2  # the order after the poison event was applied
