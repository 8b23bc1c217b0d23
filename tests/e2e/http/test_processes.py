"""Several serving processes and a projector on one database, under load (loopback only,
bounded): every delivery answered 2xx is recorded exactly once, whatever is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg

from aggregates.order import Order
from tests.builders import woo_order
from tests.support import Merchant, create_merchant, ledger, projections_caught_up, wait_until

# What each delivery ends as: its order id and the status it was answered (None: no answer).
Answers = list[tuple[int, int | None]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, spool: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGER_SPOOL_DIR": str(spool),
        "LEDGER_LOG_LEVEL": "WARNING",
        # The suite's stores are stand-ins of its own tests: no scheduled pulls of them.
        "LEDGER_BACKFILL_INTERVAL": "0",
        **extra,
    }


@asynccontextmanager
async def _process(env: dict[str, str], *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its workers are signalled with it
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def _healthy(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(f"{base}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def _load(
    session: aiohttp.ClientSession,
    base: str,
    merchant: Merchant,
    orders: Sequence[int],
    concurrency: int,
    answers: Answers,
) -> None:
    queue = list(orders)

    async def sender() -> None:
        while queue:
            n = queue.pop()
            try:
                async with session.post(
                    base + merchant.woo_orders(),
                    json=woo_order(n),
                    timeout=aiohttp.ClientTimeout(10),
                ) as resp:
                    await resp.read()
                    answers.append((n, resp.status))
            except (aiohttp.ClientError, TimeoutError):
                answers.append((n, None))

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def _receipts(
    pool: asyncpg.Pool, merchant: Merchant, orders: Sequence[int]
) -> dict[int, int]:
    """How many sales each order id became in the log (each must be 0 or 1)."""
    ids = {Order.create_id(merchant.user_id, "woocommerce", str(n)): n for n in set(orders)}
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT originator_id, count(*) AS n FROM stored_events"
            " WHERE originator_id = ANY($1::uuid[]) AND topic LIKE '%Order.SaleRecorded'"
            " GROUP BY originator_id",
            list(ids),
        )
    return {ids[r["originator_id"]]: r["n"] for r in rows}


async def _stock_is_its_movements(pool: asyncpg.Pool, merchant: Merchant) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT l.product_ref, l.quantity, coalesce(sum(m.delta), 0) AS moved"
            " FROM stock_levels l LEFT JOIN stock_movements m"
            " ON m.user_id = l.user_id AND m.product_ref = l.product_ref"
            " WHERE l.user_id = $1 GROUP BY l.product_ref, l.quantity",
            merchant.user_id,
        )
    assert rows, "no stock at all"
    assert all(r["quantity"] == r["moved"] for r in rows), [dict(r) for r in rows]


async def test_two_serving_processes_and_a_projector_under_load(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
):
    merchant = await create_merchant(pool, "multi")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serving = _env(database_url, tmp_path / "spool", LEDGER_RUN_PROJECTIONS="0")
    orders = list(range(1, 301))
    storm = [n for n in range(1001, 1021) for _ in range(50)]  # 20 orders, 50 times each
    answers: Answers = []
    async with (
        _process(serving, "serve", "--port", str(port), "--workers", "2"),
        _process(_env(database_url, tmp_path / "projector"), "projections", "run"),
        aiohttp.ClientSession() as session,
    ):
        await wait_until(lambda: _healthy(session, base), 30, "the service up")
        await asyncio.gather(
            _load(session, base, merchant, orders + orders[:30], 16, answers),
            _load(session, base, merchant, storm, 16, answers),
        )
        await projections_caught_up(pool, 60)
    assert all(status is not None and 200 <= status < 300 for _, status in answers), [
        a for a in answers if a[1] is None or not 200 <= a[1] < 300
    ][:5]
    sold = await _receipts(pool, merchant, orders + storm)
    assert sold == dict.fromkeys([*orders, *range(1001, 1021)], 1)
    await _stock_is_its_movements(pool, merchant)
    code, out, err = await ledger(database_url, "projections", "verify", "--all")
    assert code == 0, out + err


async def test_a_serving_process_killed_mid_load_loses_nothing_it_answered(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
):
    merchant = await create_merchant(pool, "killed")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(database_url, tmp_path / "spool")
    orders = list(range(2001, 2401))
    answers: Answers = []
    async with aiohttp.ClientSession() as session:
        async with _process(env, "serve", "--port", str(port)) as first:
            await wait_until(lambda: _healthy(session, base), 30, "the service up")
            load = asyncio.ensure_future(_load(session, base, merchant, orders, 16, answers))
            await wait_until(lambda: len(answers) >= 100, 60, "a hundred answers")
            os.killpg(first.pid, signal.SIGKILL)
            await first.wait()
            await load
        cut_off = [n for n, status in answers if status is None]
        answered = [n for n, status in answers if status is not None]
        rest: Answers = []
        async with _process(env, "serve", "--port", str(port)):
            await wait_until(lambda: _healthy(session, base), 30, "the service up again")
            # What the killed process had answered 2xx is committed, or in its spool, which
            # the new one replays: all of it is in the log before anything is sent again.
            await wait_until(lambda: not any((tmp_path / "spool").glob("[0-9]*.json")), 30)
            recorded = await _receipts(pool, merchant, orders)
            await _load(session, base, merchant, cut_off, 8, rest)
            await projections_caught_up(pool, 60)
    assert cut_off, "the kill cut nothing off: it came too late to test anything"
    assert all(200 <= status < 300 for n, status in answers if n in answered)
    assert all(status is not None and 200 <= status < 300 for _, status in rest)
    assert set(answered) <= set(recorded)  # nothing answered 2xx is missing
    sold = await _receipts(pool, merchant, orders)
    assert set(sold.values()) == {1}  # nothing twice
    assert set(sold) == set(orders)  # and the cut-off ones, sent again, are there once
    await _stock_is_its_movements(pool, merchant)
