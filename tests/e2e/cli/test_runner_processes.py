"""Projection runners as separate processes: a SIGKILL at any moment neither loses nor
double-applies an event, and a standby takes over when the active runner dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import asyncpg
import pytest

from projections.registry import all_projections
from service.projecting.runner import LOCK_SPACE
from service.store.eventstore import EventStore
from tests.builders import spooled, woo_order
from tests.support import create_merchant, ledger, pg_ingestor, wait_until


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
    ingestor = pg_ingestor(pool, EventStore())
    for n in orders:
        assert (await ingestor.ingest(spooled(user_id, woo_order(n)))).body["status"] == "recorded"


async def _positions(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return dict(await conn.fetch("SELECT name, position FROM projection_positions"))


async def _head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT max(notification_id) FROM stored_events"))


async def _lock_holders(pool: asyncpg.Pool) -> list[str]:
    """Per projection lock held, the process holding it, as its connection names itself."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())",
            LOCK_SPACE,
        )
    return sorted(r["application_name"] for r in rows)


def _holding_all(runner: asyncio.subprocess.Process) -> list[str]:
    return [application_name_of(runner)] * len(all_projections())


def application_name_of(runner: asyncio.subprocess.Process) -> str:
    return f"pyme-ledger projections pid {runner.pid}"


async def _connected(pool: asyncpg.Pool, runner: asyncio.subprocess.Process) -> int:
    """How many connections ``runner`` has open (its listener's, at least, once it runs)."""
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                application_name_of(runner),
            )
        )


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


@pytest.mark.slow
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

    await wait_until(partway, 60, "a runner partway through")
    runner.send_signal(signal.SIGKILL)
    await runner.wait()
    killed_at = await _positions(pool)
    assert min(killed_at.values()) < head  # it really died with work left

    again = await _start_runner(database_url)
    try:

        async def done() -> bool:
            return min((await _positions(pool)).values()) >= head

        await wait_until(done, 60, "every projection at the head")
    finally:
        again.send_signal(signal.SIGKILL)
        await again.wait()
    await _ledger_is_exact(pool, merchant.user_id, 1200)


async def test_a_standby_runner_takes_over_when_the_active_one_dies(
    pool: asyncpg.Pool, database_url: str
):
    merchant = await create_merchant(pool)
    first = await _start_runner(database_url)
    second = None
    try:

        async def first_holds_all() -> bool:
            return await _lock_holders(pool) == _holding_all(first)

        await wait_until(first_holds_all, 60, "the first runner holding every lock")
        second = await _start_runner(database_url)

        async def second_stands_by() -> bool:
            return await _connected(pool, second) > 0

        await wait_until(second_stands_by, 60, "the second runner connected")
        # It tried and stands by: every lock is still the first's.
        assert await _lock_holders(pool) == _holding_all(first)
        await _ingest(pool, merchant.user_id, range(1, 21))
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await _ingest(pool, merchant.user_id, range(21, 41))
        head = await _head(pool)

        async def caught_up() -> bool:
            return min((await _positions(pool)).values()) >= head

        await wait_until(caught_up, 30, "the standby catching up")
        await _ledger_is_exact(pool, merchant.user_id, 40)
        assert await _lock_holders(pool) == _holding_all(second)  # now all the second's
        code, out, _ = await ledger(database_url, "projections", "status")
        assert code == 0 and "none active" not in out
        assert out.count(" pid ") == len(all_projections())
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGKILL)
                await process.wait()
