"""``ledger connect`` then ``ledger backfill`` as processes, pulling over HTTP from the
WooCommerce stand-in (127.0.0.1): wrong credentials exit 2 in one line naming the key by the
prefix ``users show`` shows, the right ones pull the store's orders; no secret is ever
printed."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from tests.standins.woocommerce import WooCommerceStandIn
from tests.support import create_merchant, ledger

KEY = "ck_feedc0defeedc0defeedc0defeedc0defeedc0de"
SECRET = "cs_c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"
WRONG = "cs_not_the_secret_at_all_0000000000000000"
SINCE = ("--since", "2026-11-30T00:00:00")


async def test_backfill_over_http_wrong_credentials_exit_2_then_the_right_ones_pull(
    pool: asyncpg.Pool, database_url: str
):
    shop = await create_merchant(pool, "pull")
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    try:
        connect = ("connect", "--user", shop.name, "woocommerce", "--url", standin.url)
        code, _, err = await ledger(database_url, *connect, "--key", KEY, stdin=WRONG.encode())
        assert code == 0, err
        code, out, err = await ledger(
            database_url, "backfill", "--user", shop.name, "woocommerce", *SINCE
        )
        assert code == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "ck_feed\u2026" in lines[0] and "ledger connect" in lines[0]
        assert "Traceback" not in err
        for text in (out, err):
            assert WRONG not in text and KEY not in text and SECRET not in text
        assert len(standin.requests) == 1  # refused credentials are not retried
        code, shown, _ = await ledger(database_url, "users", "show", shop.name)
        [api] = [line for line in shown.splitlines() if "store API: http" in line]
        assert "key ck_feed\u2026 (connected" in api, shown  # as the 401 line names it

        code, _, err = await ledger(database_url, *connect, "--key", KEY, stdin=SECRET.encode())
        assert code == 0, err
        code, out, err = await ledger(
            database_url, "backfill", "--user", shop.name, "woocommerce", *SINCE
        )
        assert code == 0, (out, err)
        assert "10 new sales" in out
        assert SECRET not in out + err and KEY not in out + err
        code, out, _ = await ledger(database_url, "users", "show", shop.name)
        assert code == 0 and SECRET not in out

        # An explicit window never moves the high-water mark back, nor over a gap (C5).
        for mark in (datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)):
            await pool.execute(
                "UPDATE store_connections SET high_water = $2 WHERE user_id = $1",
                shop.user_id,
                mark,
            )
            code, out, err = await ledger(
                database_url, "backfill", "--user", shop.name, "woocommerce", *SINCE
            )
            assert code == 0, (out, err)
            assert "high-water mark: 2026-12-01" in out  # what this window saw
            kept = await pool.fetchval(
                "SELECT high_water FROM store_connections WHERE user_id = $1", shop.user_id
            )
            assert kept == mark
    finally:
        await standin.close()
