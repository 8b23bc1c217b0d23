"""The accounts cache: answered from memory while it hears changes, dropped as soon as
PostgreSQL announces one, and never the reason for a refusal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from service.accounts import users
from service.accounts.directory import Directory
from tests.support import create_merchant, server_keyring, wait_until


@pytest_asyncio.fixture
async def directory(database_url: str) -> AsyncIterator[Directory]:
    found = Directory(server_keyring())

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url)

    task = asyncio.ensure_future(found.listen(connect))
    await wait_until(lambda: found.listening, within=5, what="the directory listening")
    yield found
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_lookups_come_from_the_copy_until_a_change_is_announced(
    directory: Directory, pool: asyncpg.Pool
):
    heard = directory.generation("users")
    shop = await create_merchant(pool)
    # Its creation is announced too: once heard, the copy loaded next holds it.
    await wait_until(
        lambda: directory.generation("users") > heard, 1.0, "the user's creation heard"
    )
    async with pool.acquire() as conn:
        assert await directory.user_for_token(conn, shop.token) == shop.user_id
        loads = directory.loads
        for _ in range(5):
            assert await directory.user_for_token(conn, shop.token) == shop.user_id
        assert directory.loads == loads  # five deliveries, no read
    async with pool.acquire() as other:  # as another process would
        new_token = await users.rotate(other, shop.name, "token")
    loop = asyncio.get_running_loop()
    rotated_at = loop.time()

    async def old_refused() -> bool:
        async with pool.acquire() as conn:
            return await directory.user_for_token(conn, shop.token) is None

    await wait_until(old_refused, within=1.0, what="the rotated token refused")
    assert loop.time() - rotated_at < 1.0
    async with pool.acquire() as conn:
        assert await directory.user_for_token(conn, new_token) == shop.user_id


async def test_a_refusal_is_never_taken_from_the_copy(directory: Directory, pool: asyncpg.Pool):
    first = await create_merchant(pool)
    async with pool.acquire() as conn:
        assert await directory.user_for_token(conn, first.token) == first.user_id
        assert directory.cached("users")
        # Created a moment ago, before any notification could arrive: accepted at once.
        second = await create_merchant(pool)
        assert await directory.user_for_token(conn, second.token) == second.user_id
        assert await directory.user_for_token(conn, "whk_" + "Z" * 43) is None


async def test_without_its_listener_every_lookup_reads_the_database(pool: asyncpg.Pool):
    deaf = Directory(server_keyring())
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        for n in range(3):
            assert await deaf.user_for_token(conn, shop.token) == shop.user_id
            assert deaf.loads == n + 1
        assert not deaf.cached("users")


async def test_a_lost_listener_stops_the_copies_until_it_is_back(
    directory: Directory, pool: asyncpg.Pool
):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await directory.user_for_token(conn, shop.token)
        assert directory.cached("users")
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query ILIKE 'LISTEN%ledger_accounts%' AND pid <> pg_backend_pid()"
            " AND datname = current_database()"
        )
    await wait_until(lambda: not directory.cached("users"), within=5, what="the copy dropped")
    await wait_until(lambda: directory.listening, within=5, what="the listener back")
