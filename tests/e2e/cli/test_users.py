"""``ledger users``: signing secrets and store bindings, run as a process."""

from __future__ import annotations

import asyncpg

from service.accounts import bindings
from service.accounts import secrets as signing
from tests.builders import signed_vector
from tests.support import Merchant, create_merchant, ledger, server_keyring

BODY, SECRET, SIGNATURE = signed_vector()


async def ledger_with_input(database_url: str, data: bytes, *args: str) -> tuple[int, str, str]:
    return await ledger(database_url, *args, stdin=data)


async def _current(pool: asyncpg.Pool, shop: Merchant, platform: str) -> list[str]:
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        return await signing.secrets_for(conn, shop.user_id, platform, now, server_keyring())


async def test_cli_set_show_and_clear_secret(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    code, out, err = await ledger_with_input(
        database_url, f"  {SECRET}\n".encode(), "users", "set-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert out.strip() == f"secret set for {shop.name}/woocommerce; no previous secret"
    assert SECRET not in out + err
    assert await _current(pool, shop, "woocommerce") == [SECRET]

    code, out, err = await ledger_with_input(
        database_url, b"rotated-secret", "users", "set-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert "the previous one stays valid until 20" in out
    assert "rotated-secret" not in out + err
    assert await _current(pool, shop, "woocommerce") == ["rotated-secret", SECRET]

    code, out, err = await ledger_with_input(database_url, b"", "users", "show", shop.name)
    assert code == 0, err
    assert f"id: {shop.user_id}" in out
    assert "signing secret: set since 20" in out and "previous secret: valid until" in out
    assert "signing secret: none" in out  # shopify
    assert "bound store: none yet" in out
    for secret in (SECRET, "rotated-secret", shop.token, shop.api_key):
        assert secret not in out + err

    code, out, err = await ledger_with_input(
        database_url, b"", "users", "clear-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert "no longer verified" in out
    assert await _current(pool, shop, "woocommerce") == []


async def test_cli_refuses_bad_secrets_and_names(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    code, out, err = await ledger_with_input(
        database_url, b" \n", "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "empty" in err
    long_secret = "z" * 2000
    code, out, err = await ledger_with_input(
        database_url, long_secret.encode(), "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "longer than 1024" in err and "zzzzzzzz" not in out + err
    code, out, err = await ledger_with_input(
        database_url, b"\xff\xfe", "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "UTF-8" in err
    code, _, err = await ledger_with_input(
        database_url, b"some-secret", "users", "set-secret", "nobody-here", "shopify"
    )
    assert code == 2 and "No user has this name" in err and "some-secret" not in err
    code, _, err = await ledger_with_input(
        database_url, b"some-secret", "users", "set-secret", shop.name, "magento"
    )
    assert code == 2 and "some-secret" not in err
    code, _, err = await ledger_with_input(database_url, b"", "users", "show", "nobody-here")
    assert code == 2 and "No user has this name" in err
    assert await _current(pool, shop, "shopify") == []


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
