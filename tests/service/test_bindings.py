"""One store per connection: the first store named binds, others are refused."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.accounts import bindings, users
from service.accounts.secrets import UnknownPlatformError
from tests.support import create_merchant
from tests.test_cli import ledger


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://shop.example/", "https://shop.example"),
        ("HTTPS://Shop.Example", "https://shop.example"),
        ("https://shop.example/Tienda/", "https://shop.example/Tienda"),
        (" shop.myshopify.com ", "shop.myshopify.com"),
        ("Shop.MyShopify.com", "shop.myshopify.com"),
        ("", ""),
    ],
)
def test_normalise_source(given, expected):
    assert bindings.normalise_source(given) == expected


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


async def test_concurrent_first_deliveries_bind_exactly_one(pool: asyncpg.Pool):
    for _ in range(5):
        shop = await create_merchant(pool)
        both_started = asyncio.Barrier(2)

        async def deliver(source: str, shop_id=shop.user_id, barrier=both_started) -> bool:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1")  # the transaction has begun on the server
                await barrier.wait()
                accepted = await bindings.check_source(conn, shop_id, "shopify", source)
                await asyncio.sleep(0.02)  # hold the row while the other one tries
                return accepted

        results = await asyncio.gather(deliver("a.myshopify.com"), deliver("b.myshopify.com"))
        assert sorted(results) == [False, True]
        async with pool.acquire() as conn:
            bound = await bindings.bindings_for(conn, shop.user_id)
        winner = ["a.myshopify.com", "b.myshopify.com"][results.index(True)]
        assert bound["shopify"]["source"] == winner


async def test_cli_show_and_unbind_store(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        assert await bindings.check_source(conn, shop.user_id, "woocommerce", "https://a.example/")

    code, out, err = await ledger(database_url, "users", "show", shop.name)
    assert code == 0, err
    assert "bound store: https://a.example (since" in out
    assert out.count("bound store: none yet") == 1  # shopify
    assert shop.token not in out and shop.api_key not in out

    code, out, err = await ledger(database_url, "users", "unbind-store", shop.name, "woocommerce")
    assert code == 0, err
    assert f"store unbound for {shop.name}/woocommerce" in out
    code, out, _ = await ledger(database_url, "users", "unbind-store", shop.name, "woocommerce")
    assert code == 0 and "no store was bound" in out
    code, _, err = await ledger(database_url, "users", "unbind-store", "nobody-here", "shopify")
    assert code == 2 and "No user has this name" in err

    async with pool.acquire() as conn:
        assert await bindings.bindings_for(conn, shop.user_id) == {}
        assert await bindings.check_source(conn, shop.user_id, "woocommerce", "https://b.example")
