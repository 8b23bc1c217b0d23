"""One store per connection: the first store named binds, others are refused."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.accounts import bindings, users
from service.accounts.secrets import UnknownPlatformError
from tests.support import create_merchant, wait_until


async def test_first_store_binds_and_others_are_refused(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        uid = shop.user_id
        assert await bindings.check_source(conn, uid, "woocommerce", None)
        assert await bindings.bindings_for(conn, uid) == {}
        assert await bindings.check_source(conn, uid, "woocommerce", "https://shop.example/")
        for same in ("https://shop.example", "HTTPS://SHOP.EXAMPLE/", "https://shop.example/"):
            assert await bindings.check_source(conn, uid, "woocommerce", same), same
        assert not await bindings.check_source(conn, uid, "woocommerce", "https://other.example/")
        assert not await bindings.check_source(conn, uid, "woocommerce", "https://shop.example/b")
        # Naming no store (a curl test) is always accepted, bound or not.
        assert await bindings.check_source(conn, uid, "woocommerce", None)
        assert await bindings.check_source(conn, uid, "woocommerce", "")
        # Each platform binds on its own.
        assert await bindings.check_source(conn, uid, "shopify", "Shop.myshopify.com")
        assert await bindings.check_source(conn, uid, "shopify", "shop.myshopify.com")
        assert not await bindings.check_source(conn, uid, "shopify", "evil.myshopify.com")

        bound = await bindings.bindings_for(conn, uid)
        assert {p: b["source"] for p, b in bound.items()} == {
            "shopify": "shop.myshopify.com",
            "woocommerce": "https://shop.example",
        }
        assert all(b["bound_at"] is not None for b in bound.values())


async def test_bindings_belong_to_one_user(pool: asyncpg.Pool):
    one, two = await create_merchant(pool), await create_merchant(pool)
    async with pool.acquire() as conn:
        assert await bindings.check_source(conn, one.user_id, "shopify", "a.myshopify.com")
        assert await bindings.check_source(conn, two.user_id, "shopify", "b.myshopify.com")
        assert not await bindings.check_source(conn, two.user_id, "shopify", "a.myshopify.com")


async def test_unbind_resets(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        uid = shop.user_id
        assert await bindings.check_source(conn, uid, "woocommerce", "https://old.example/")
        assert await bindings.unbind(conn, shop.name, "woocommerce")
        assert not await bindings.unbind(conn, shop.name, "woocommerce")
        assert await bindings.check_source(conn, uid, "woocommerce", "https://new.example/")
        assert not await bindings.check_source(conn, uid, "woocommerce", "https://old.example/")
        with pytest.raises(users.UnknownUserError):
            await bindings.unbind(conn, "nobody-at-all", "woocommerce")
        with pytest.raises(UnknownPlatformError):
            await bindings.unbind(conn, shop.name, "magento")
        with pytest.raises(UnknownPlatformError):
            await bindings.check_source(conn, uid, "magento", "x")


async def _waits_on_a_lock(pool: asyncpg.Pool, backend: int) -> bool:
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", backend
        )
    return bool(waiting)


async def test_concurrent_first_deliveries_bind_exactly_one(pool: asyncpg.Pool):
    for _ in range(5):
        shop = await create_merchant(pool)
        both_started = asyncio.Barrier(2)
        backends: list[int] = []
        answered: list[int] = []

        async def deliver(
            source: str, shop_id=shop.user_id, barrier=both_started, pids=backends, done=answered
        ) -> bool:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1")  # the transaction has begun on the server
                me = conn.get_server_pid()
                pids.append(me)
                await barrier.wait()
                accepted = await bindings.check_source(conn, shop_id, "shopify", source)
                done.append(me)
                if len(done) == 1:  # the first to insert holds the row until the other waits
                    other = next(pid for pid in pids if pid != me)
                    await wait_until(lambda: _waits_on_a_lock(pool, other), 10, "the rival waiting")
                return accepted

        results = await asyncio.gather(deliver("a.myshopify.com"), deliver("b.myshopify.com"))
        assert sorted(results) == [False, True]
        async with pool.acquire() as conn:
            bound = await bindings.bindings_for(conn, shop.user_id)
        winner = ["a.myshopify.com", "b.myshopify.com"][results.index(True)]
        assert bound["shopify"]["source"] == winner
