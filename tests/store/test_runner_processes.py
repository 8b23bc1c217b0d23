"""Projection runners as separate processes: a SIGKILL at any moment neither loses nor
double-applies an event, and a standby takes over when the active runner dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime

import asyncpg

from projections.registry import all_projections
from service.intake.ingest import Ingestor
from service.intake.spool import SpooledDelivery
from service.projecting.runner import LOCK_SPACE
from service.store.eventstore import EventStore
from tests.support import create_merchant, woo_order
from tests.test_cli import ledger


async def _start_runner(database_url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": database_url, "LEDGER_LOG_LEVEL": "WARNING"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "projections",
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _ingest(pool: asyncpg.Pool, user_id, orders: range) -> None:
    ingestor = Ingestor(pool, EventStore())
    for n in orders:
        body = json.dumps(woo_order(n)).encode()
        delivery = SpooledDelivery(user_id, "woocommerce", "order", {}, body, datetime.now(UTC))
        assert (await ingestor.ingest(delivery)).body["status"] == "recorded"


async def _positions(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return dict(await conn.fetch("SELECT name, position FROM projection_positions"))


async def _head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT max(notification_id) FROM stored_events"))


async def _until(predicate, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


async def _ledger_is_exact(pool: asyncpg.Pool, user_id, orders: int) -> None:
    async with pool.acquire() as conn:
        levels = dict(
            await conn.fetch(
                "SELECT product_ref, quantity FROM stock_levels WHERE user_id = $1", user_id
            )
        )
        moved = dict(
            await conn.fetch(
                "SELECT product_ref, sum(delta) FROM stock_movements WHERE user_id = $1"
                " GROUP BY product_ref",
                user_id,
            )
        )
        sales = await conn.fetchval("SELECT count(*) FROM sales WHERE user_id = $1", user_id)
    assert levels == {"woocommerce:42": -2 * orders, "woocommerce:71": -orders}
    assert moved == levels
    assert sales == orders


async def test_a_runner_killed_mid_batch_loses_and_doubles_nothing(
    pool: asyncpg.Pool, database_url: str
):
    merchant = await create_merchant(pool)
    await _ingest(pool, merchant.user_id, range(1, 1201))
    head = await _head(pool)
    start = (await _positions(pool))["stock"]
    runner = await _start_runner(database_url)

    async def partway() -> bool:
        return start < (await _positions(pool))["stock"] < head

    await _until(partway)
    runner.send_signal(signal.SIGKILL)
    await runner.wait()
    killed_at = await _positions(pool)
    assert min(killed_at.values()) < head  # it really died with work left

    again = await _start_runner(database_url)
    try:

        async def done() -> bool:
            return min((await _positions(pool)).values()) >= head

        await _until(done)
    finally:
        again.send_signal(signal.SIGKILL)
        await again.wait()
    await _ledger_is_exact(pool, merchant.user_id, 1200)


async def test_a_standby_runner_takes_over_when_the_active_one_dies(
    pool: asyncpg.Pool, database_url: str
):
    merchant = await create_merchant(pool)
    first = await _start_runner(database_url)
    await asyncio.sleep(1.0)
    second = await _start_runner(database_url)
    try:

        async def locks_held() -> int:
            async with pool.acquire() as conn:
                return int(
                    await conn.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid = $1 AND database ="
                        " (SELECT oid FROM pg_database WHERE datname = current_database())",
                        LOCK_SPACE,
                    )
                )

        async def four_locks() -> bool:
            return await locks_held() == len(all_projections())

        await _until(four_locks)  # one lock per projection: the second runner stands by
        await _ingest(pool, merchant.user_id, range(1, 21))
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await _ingest(pool, merchant.user_id, range(21, 41))
        head = await _head(pool)

        async def caught_up() -> bool:
            return min((await _positions(pool)).values()) >= head

        await _until(caught_up, within=30)
        await _ledger_is_exact(pool, merchant.user_id, 40)
        assert await locks_held() == len(all_projections())  # now all the second's
        code, out, _ = await ledger(database_url, "projections", "status")
        assert code == 0 and "none active" not in out
        assert out.count(" pid ") == len(all_projections())
    finally:
        for process in (first, second):
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
                await process.wait()
