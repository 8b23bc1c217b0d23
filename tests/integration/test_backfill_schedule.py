"""The scheduled backfill on a real database, with stand-ins for the store clients and the
backfill itself: one round at a time across processes (an advisory lock), each connection once
per interval, outcomes recorded, failures logged without secrets and never fatal."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from service.accounts import connections
from service.backfill.source import CredentialsRejected, SourceUnavailable
from service.settings import Settings
from tests.support import (
    MARK,
    BackfillStandIn,
    Merchant,
    create_merchant,
    server_keyring,
    wait_until,
)

SECRET = "cs_0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"


async def _connected(pool: asyncpg.Pool) -> Merchant:
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await connections.connect_store(
            conn, shop.name, "woocommerce", "http://127.0.0.1:9/", "ck_x", SECRET, server_keyring()
        )
    return shop


async def _status(pool: asyncpg.Pool, shop: Merchant) -> connections.ConnectionStatus:
    async with pool.acquire() as conn:
        return (await connections.connection_status(conn, shop.user_id))["woocommerce"]


async def test_two_schedulers_one_runs_and_each_connection_once_per_interval(
    pool: asyncpg.Pool, settings: Settings
):
    shop = await _connected(pool)
    hourly = replace(settings, backfill_interval=60)
    stand_in = BackfillStandIn(shop.user_id, gate=asyncio.Event())
    first, second = stand_in.schedule(pool, hourly), stand_in.schedule(pool, hourly)
    running = asyncio.create_task(first.run_round())
    await wait_until(lambda: len(stand_in.calls) == 1, what="the first round to start")
    assert await second.run_round() is None  # the lock is held: the other one skips
    stand_in.gate.set()
    assert (await running) >= 1
    assert stand_in.calls == [(shop.user_id, "woocommerce")]
    assert stand_in.opened[-1] == SECRET  # the clients get the credential, opened
    # Later in the same interval, whichever process runs a round: not due yet.
    await second.run_round()
    await first.run_round()
    assert stand_in.calls == [(shop.user_id, "woocommerce")]
    status = await _status(pool, shop)
    assert (status.high_water, status.failures, status.last_error) == (MARK, 0, None)
    # An interval later it is due again.
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE store_connections SET last_run_at = now() - interval '61 minutes'"
            " WHERE user_id = $1",
            shop.user_id,
        )
    await second.run_round()
    assert len(stand_in.calls) == 2


async def test_failures_are_recorded_in_one_line_and_logged_without_secrets(
    pool: asyncpg.Pool, settings: Settings, caplog: pytest.LogCaptureFixture
):
    shop = await _connected(pool)
    stand_in = BackfillStandIn(shop.user_id)
    schedule = stand_in.schedule(pool, replace(settings, backfill_interval=60))
    stand_in.failure = CredentialsRejected(
        "the store refused the consumer key and secret (401): check them in WooCommerce"
    )
    assert await schedule.run_one(shop.user_id, "woocommerce") is True
    stand_in.failure = SourceUnavailable("")
    await schedule.run_one(shop.user_id, "woocommerce")
    status = await _status(pool, shop)
    assert status.failures == 2
    assert status.last_error == "The store's API did not answer usefully within the retries."
    # Anything else: recorded by its type, logged by its type, never its text.
    stand_in.failure = RuntimeError(f"a body quoting {SECRET}")
    with caplog.at_level(logging.DEBUG):
        await schedule.run_one(shop.user_id, "woocommerce")
    status = await _status(pool, shop)
    assert status.failures == 3 and "RuntimeError" in (status.last_error or "")
    assert SECRET not in caplog.text and SECRET not in (status.last_error or "")
    assert "RuntimeError" in caplog.text
    stand_in.failure = None
    await schedule.run_one(shop.user_id, "woocommerce")
    status = await _status(pool, shop)
    assert (status.failures, status.last_error, status.high_water) == (0, None, MARK)


async def test_the_service_task_runs_a_round_at_once_and_off_means_off(
    pool: asyncpg.Pool, settings: Settings
):
    shop = await _connected(pool)
    stand_in = BackfillStandIn(shop.user_id)
    off = stand_in.schedule(pool, settings)  # the suite's settings: 0, off
    await asyncio.wait_for(off.run(), 1)  # returns at once, having run nothing
    assert stand_in.calls == []
    task = asyncio.create_task(
        stand_in.schedule(pool, replace(settings, backfill_interval=5)).run()
    )

    async def recorded() -> bool:
        return (await _status(pool, shop)).high_water == MARK

    try:
        await wait_until(recorded, what="the first scheduled round to be recorded")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stand_in.calls == [(shop.user_id, "woocommerce")]


async def test_backfill_now_runs_in_the_background_once_at_a_time(
    pool: asyncpg.Pool, settings: Settings
):
    shop = await _connected(pool)
    stand_in = BackfillStandIn(shop.user_id, gate=asyncio.Event())
    schedule = stand_in.schedule(pool, settings)  # works with the schedule off too
    other_process = stand_in.schedule(pool, settings)
    assert schedule.start_now(shop.user_id, "woocommerce") is True
    await wait_until(lambda: len(stand_in.calls) == 1, what="the run to start")
    assert schedule.start_now(shop.user_id, "woocommerce") is False  # this process runs it
    # Another process: the connection's own lock is held, so it does not run it twice.
    assert await other_process.run_one(shop.user_id, "woocommerce") is False
    stand_in.gate.set()
    await schedule.wait_started()
    assert (await _status(pool, shop)).last_run_at is not None
    assert len(stand_in.calls) == 1
    await schedule.close()


async def test_open_source_may_also_be_a_coroutine_giving_the_context_manager(
    pool: asyncpg.Pool, settings: Settings
):
    """The contract writes open_source as ``async def`` and uses it in ``async with``."""
    shop = await _connected(pool)
    stand_in = BackfillStandIn(shop.user_id)

    async def open_later(connection: Any, settings: Settings) -> Any:
        return stand_in.open_source(connection, settings)

    schedule = stand_in.schedule(pool, settings)
    schedule.open_source = open_later
    assert await schedule.run_one(shop.user_id, "woocommerce") is True
    assert stand_in.calls == [(shop.user_id, "woocommerce")]
    assert (await _status(pool, shop)).high_water == MARK
