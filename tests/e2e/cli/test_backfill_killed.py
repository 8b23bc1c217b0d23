"""A ``ledger backfill`` process SIGKILLed midway (not an exception: the process gone, its
session and all) resumes on the next run from its last committed page, and every order ends
up recorded exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import asyncpg

from aggregates.ids import order_id
from aggregates.order import Order
from service.store.eventstore import EventStore
from tests.standins.common import Fault
from tests.standins.woocommerce import WooCommerceStandIn
from tests.support import create_merchant, ledger, wait_until

KEY = "ck_deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
SECRET = "cs_deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
SINCE = ("--since", "2026-11-30T00:00:00")
HANG = 8.0  # seconds page 3 hangs: the process is killed well before its 30 s timeout
ORDERS = "/wp-json/wc/v3/orders"


async def _checkpoint(pool: asyncpg.Pool, user_id: object) -> tuple[str, str | None] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT scan, page FROM backfill_checkpoints WHERE user_id = $1", user_id
        )
    return None if row is None else (row["scan"], row["page"])


async def test_a_killed_backfill_process_resumes_and_records_every_order_once(
    pool: asyncpg.Pool, database_url: str
):
    shop = await create_merchant(pool, "killed")
    standin = WooCommerceStandIn(KEY, SECRET, page_cap=3)  # 10 orders: 4 pages
    await standin.start()
    try:
        connect = ("connect", "--user", shop.name, "woocommerce", "--url", standin.url)
        code, _, err = await ledger(database_url, *connect, "--key", KEY, stdin=SECRET.encode())
        assert code == 0, err
        third = lambda r: r.path == ORDERS and r.query.get("page") == "3"  # noqa: E731
        standin.fail_matching(third, Fault(200, body=b"[]", delay=HANG))
        env = {**os.environ, "LEDGER_BACKFILL_INTERVAL": "0", "DATABASE_URL": database_url}
        run = ("backfill", "--user", shop.name, "woocommerce", *SINCE)
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "service.cli", *run),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await wait_until(
                lambda: _reached(pool, shop.user_id, standin),
                within=HANG - 2,
                what="page 3 asked for, pages 1-2 committed",
            )
        finally:
            proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 5) == -signal.SIGKILL
        assert await _checkpoint(pool, shop.user_id) == ("orders", "3")

        standin.requests.clear()
        code, out, err = await ledger(database_url, *run)
        assert code == 0, (out, err)
        assert "resuming the run of" in out and "4 new sales" in out, out  # pages 3-4; 1-2 were in
        asked = [_page(r.path_qs) for r in standin.requests if r.path_qs.startswith(ORDERS + "?")]
        assert asked[:2] == ["3", "4"], asked  # not the pages committed before the kill
        assert await _checkpoint(pool, shop.user_id) is None
        received = Counter()
        for entry in standin.orders:
            async with pool.acquire() as conn:
                events = await EventStore().load(
                    conn, order_id(shop.user_id, "woocommerce", str(entry.id))
                )
            received[entry.id] = sum(
                1 for e in events if isinstance(e, Order.OrderReceived) and e.topic == "backfill"
            )
        assert received == Counter({e.id: 1 for e in standin.orders}), received
    finally:
        await standin.close()


def _page(path_qs: str) -> str:
    return parse_qs(urlsplit(path_qs).query)["page"][0]


async def _reached(pool: asyncpg.Pool, user_id: object, standin: WooCommerceStandIn) -> bool:
    hanging = any(
        r.path_qs.startswith(ORDERS + "?") and "page=3" in r.path_qs for r in standin.requests
    )
    return hanging and await _checkpoint(pool, user_id) == ("orders", "3")
