"""``ledger connect``, ``ledger disconnect`` and ``ledger users show``, run as processes: the
credential comes from stdin, is kept sealed, and is never printed."""

from __future__ import annotations

import asyncpg

from service.accounts import connections
from tests.support import create_merchant, ledger, server_keyring

KEY = "ck_5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"
SECRET = "cs_a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"
TOKEN = "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"


async def test_connect_show_and_disconnect(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    code, out, err = await ledger(
        database_url,
        "connect", "--user", shop.name, "woocommerce",
        "--url", "https://shop.example/", "--key", KEY,
        stdin=f"{SECRET}\nanything after the first line is not read\n".encode(),
    )  # fmt: skip
    assert code == 0, err
    assert f"connected {shop.name}/woocommerce to https://shop.example with key ck_5e6f…" in out
    code, out2, err2 = await ledger(
        database_url, "connect", "--user", shop.name, "shopify", "--shop", "My-Shop",
        stdin=f"  {TOKEN}  \n".encode(),
    )  # fmt: skip
    assert code == 0, err2
    assert "https://my-shop.myshopify.com" in out2
    for printed in (out + err, out2 + err2):
        assert SECRET not in printed and TOKEN not in printed and KEY not in printed

    keyring = server_keyring()
    async with pool.acquire() as conn:
        woo = await connections.get_connection(conn, shop.user_id, "woocommerce", keyring)
        shopify = await connections.get_connection(conn, shop.user_id, "shopify", keyring)
        assert woo is not None and (woo.base_url, woo.key, woo.secret) == (
            "https://shop.example",
            KEY,
            SECRET,
        )
        assert shopify is not None and shopify.secret == TOKEN and shopify.key is None
        await connections.record_run(
            conn, shop.user_id, "shopify", high_water=None, error="the access token was refused"
        )

    code, out, err = await ledger(database_url, "users", "show", shop.name)
    assert code == 0, err
    assert "store API: https://shop.example, key ck_5e6f… (connected 20" in out
    assert "last backfill: never; high-water: never" in out
    assert "store API: https://my-shop.myshopify.com (connected 20" in out
    assert "failing: 1 run(s) in a row; last error: the access token was refused" in out
    for secret in (SECRET, TOKEN, KEY, KEY[:10]):
        assert secret not in out + err

    code, out, err = await ledger(database_url, "disconnect", "--user", shop.name, "shopify")
    assert (code, out.strip()) == (0, f"disconnected {shop.name}/shopify; its credential is gone")
    code, out, err = await ledger(database_url, "disconnect", "--user", shop.name, "shopify")
    assert (code, out.strip()) == (0, f"{shop.name}/shopify was not connected")
    code, out, err = await ledger(database_url, "users", "show", shop.name)
    assert "store API: not connected" in out


async def test_bad_shapes_unknown_users_and_empty_secrets_exit_2_in_one_line(
    pool: asyncpg.Pool, database_url: str
):
    shop = await create_merchant(pool)
    cases = [
        (["woocommerce", "--url", "shop.example", "--key", KEY], SECRET, "store URL must look"),
        (["woocommerce", "--url", "https://s.example/?x=1", "--key", KEY], SECRET, "store URL"),
        (
            ["woocommerce", "--url", f"https://{'a' * 64}.example", "--key", KEY],
            SECRET,
            "store URL",
        ),
        (
            ["woocommerce", "--url", "https://s.example", "--key", "two words"],
            SECRET,
            "consumer key",
        ),
        (
            ["woocommerce", "--url", "https://s.example", "--key", KEY],
            "",
            "consumer secret or access",
        ),
        (["woocommerce", "--url", "https://s.example", "--key", KEY], "a b", "one word"),
        (["shopify", "--shop", "shop.example.com"], TOKEN, "myshopify.com domain"),
    ]
    for args, stdin, says in cases:
        code, out, err = await ledger(
            database_url, "connect", "--user", shop.name, *args, stdin=f"{stdin}\n".encode()
        )
        assert code == 2, (args, out, err)
        assert err.startswith("ledger: ") and err.count("\n") == 1 and says in err, err
        assert out == "" and (not stdin.strip() or stdin not in err)
    code, _, err = await ledger(
        database_url, "connect", "--user", "nobody-here", "shopify", "--shop", "s",
        stdin=f"{TOKEN}\n".encode(),
    )  # fmt: skip
    assert code == 2 and "nobody-here" in err and TOKEN not in err
    code, _, err = await ledger(
        database_url, "connect", "--user", shop.name, "shopify", "--shop", "s",
        stdin=b"\xff\xfe\n",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    async with pool.acquire() as conn:
        assert await connections.connection_status(conn, shop.user_id) == {}
    code, _, err = await ledger(database_url, "disconnect", "--user", shop.name, "magento")
    assert code == 2 and "invalid choice" in err
