"""``ledger backfill`` takes the connection's lock the schedule and "Backfill now" take: while
another run holds it, it pulls nothing, says so in one line and exits 1."""

from __future__ import annotations

import asyncpg

from service.backfill import lock
from tests.standins.woocommerce import WooCommerceStandIn
from tests.support import create_merchant, ledger

KEY = "ck_10c4ed10c4ed10c4ed10c4ed10c4ed10c4ed10c4"
SECRET = "cs_10c4ed10c4ed10c4ed10c4ed10c4ed10c4ed10c4"
SINCE = ("--since", "2026-11-30T00:00:00")


async def test_a_cli_run_while_another_holds_the_connection_exits_1_and_pulls_nothing(
    pool: asyncpg.Pool, database_url: str
):
    shop = await create_merchant(pool, "locked")
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    try:
        connect = ("connect", "--user", shop.name, "woocommerce", "--url", standin.url)
        code, _, err = await ledger(database_url, *connect, "--key", KEY, stdin=SECRET.encode())
        assert code == 0, err
        run = ("backfill", "--user", shop.name, "woocommerce", *SINCE)
        async with pool.acquire() as held:  # as the schedule holds it during its run
            assert await lock.try_lock(held, shop.user_id, "woocommerce")
            try:
                code, out, err = await ledger(database_url, *run)
            finally:
                await lock.unlock(held, shop.user_id, "woocommerce")
        assert code == 1, (out, err)
        assert err == "ledger: a backfill of this connection is running elsewhere\n"
        assert standin.requests == []
        async with pool.acquire() as conn:
            saved = await conn.fetchval("SELECT count(*) FROM backfill_checkpoints")
            last = await conn.fetchval(
                "SELECT last_run_at FROM store_connections WHERE user_id = $1", shop.user_id
            )
        assert (saved, last) == (0, None)  # nothing of the other run's touched

        code, out, err = await ledger(database_url, *run)
        assert code == 0 and "10 new sales" in out, (out, err)
        async with pool.acquire() as conn:  # and the CLI let go of it
            assert await lock.try_lock(conn, shop.user_id, "woocommerce")
            await lock.unlock(conn, shop.user_id, "woocommerce")
    finally:
        await standin.close()
