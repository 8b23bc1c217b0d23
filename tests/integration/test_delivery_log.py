"""The delivery log on a real database: the buffered writer (batches, a refused row, the
database away, the memory bound), the table's append-only guard, and retention."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from service.audit import deliveries
from service.intake.delivery import SpooledDelivery
from service.intake.delivery_log import DeliveryLog, Row
from service.intake.delivery_rows import log_row
from service.intake.ingest import Answer
from tests.builders import as_body, woo_order
from tests.proxy import PostgresProxy
from tests.support import Merchant, create_merchant, wait_until


def _row(merchant: Merchant, n: int, at: datetime | None = None, outcome: str = "recorded") -> Row:
    d = SpooledDelivery(
        merchant.user_id,
        "woocommerce",
        "order",
        {"x-wc-webhook-topic": "order.created"},
        as_body(woo_order(n)),
        at or datetime.now(UTC),
    )
    answer = Answer(outcome, {"status": outcome, "external_id": str(n)}, None, (n,), "unverified")
    return log_row(d, answer, endpoint="order", status=200, duration_ms=1.5)


def _writer(url: str, **limits: Any) -> DeliveryLog:
    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(url, timeout=2)

    return DeliveryLog(connect, **limits)


async def _ids(pool: asyncpg.Pool, merchant: Merchant) -> list[str]:
    async with pool.acquire() as conn:
        page = await deliveries.list_deliveries(
            conn, merchant.user_id, deliveries.DeliveryQuery(), None, 500
        )
    return [item["external_id"] for item in page.items]


@pytest_asyncio.fixture
async def shop(pool: asyncpg.Pool) -> Merchant:
    return await create_merchant(pool)


async def test_rows_are_written_in_the_background_in_batches(
    database_url: str, pool: asyncpg.Pool, shop: Merchant
):
    log = _writer(database_url, batch=4, interval=0.02)
    runner = asyncio.ensure_future(log.run())
    try:
        for n in range(10):
            log.add(_row(shop, n))

        async def written() -> bool:
            return len(await _ids(pool, shop)) == 10

        await wait_until(written, what="ten rows written")
        assert (log.written, log.dropped, len(log)) == (10, 0, 0)
    finally:
        runner.cancel()
        await log.close()
    row = (await _ids(pool, shop))[0]
    assert row == "9"
    async with pool.acquire() as conn:
        stored = await conn.fetchrow(
            "SELECT * FROM deliveries WHERE user_id = $1 AND external_id = '3'", shop.user_id
        )
    assert stored["positions"] == [3] and stored["topic"] == "order.created"
    assert stored["body_sha256"] == hashlib.sha256(as_body(woo_order(3))).hexdigest()


async def test_a_row_the_table_refuses_does_not_hold_back_the_others(
    database_url: str, pool: asyncpg.Pool, shop: Merchant
):
    log = _writer(database_url)
    log.add(_row(shop, 1))
    log.add(_row(shop, 2, outcome="lost"))  # no such outcome: the CHECK refuses it
    log.add(_row(shop, 3))
    assert await log.flush()
    await log.close()
    assert (await _ids(pool, shop), log.dropped) == (["3", "1"], 1)


async def test_a_row_the_driver_cannot_encode_does_not_hold_back_the_others(
    database_url: str, pool: asyncpg.Pool, shop: Merchant
):
    """Refused before it reaches the table (a value asyncpg cannot send as text): dropped
    alone, never retried for ever with its batch."""
    log = _writer(database_url)
    log.add(_row(shop, 11))
    bad = list(_row(shop, 12))
    bad[bad.index("order.created")] = "order.\ud800"  # a lone surrogate: not UTF-8
    log.add(tuple(bad))
    log.add(_row(shop, 13))
    assert await asyncio.wait_for(log.flush(), 10)
    await log.close()
    assert (await _ids(pool, shop), log.dropped) == (["13", "11"], 1)


async def test_rows_wait_while_the_database_is_away_within_their_bound(
    database_url: str, pool: asyncpg.Pool, shop: Merchant
):
    proxy = PostgresProxy(database_url)
    await proxy.start()
    log = _writer(proxy.url, max_waiting=3)
    try:
        proxy.cut()
        for n in range(5):
            log.add(_row(shop, n))
        assert not await log.flush()
        assert (len(log), log.dropped) == (3, 2)  # the newest beyond the bound are dropped
        proxy.restore()
        assert await log.flush()
    finally:
        await log.close()
        await proxy.close()
    assert await _ids(pool, shop) == ["2", "1", "0"]


@pytest_asyncio.fixture
async def logged(database_url: str, shop: Merchant) -> AsyncIterator[Merchant]:
    """A shop with four rows: received 200, 100, 2 and 1 days ago (external ids 1 to 4)."""
    now = datetime.now(UTC)
    log = _writer(database_url)
    for n, days in ((1, 200), (2, 100), (3, 2), (4, 1)):
        log.add(_row(shop, n, now - timedelta(days=days)))
    assert await log.flush()
    await log.close()
    yield shop


async def test_the_log_is_append_only(pool: asyncpg.Pool, logged: Merchant):
    async with pool.acquire() as conn:
        for sql in (
            "UPDATE deliveries SET outcome = 'duplicate' WHERE user_id = $1",
            "DELETE FROM deliveries WHERE user_id = $1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql, logged.user_id)
        async with conn.transaction():
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("TRUNCATE deliveries")
        # The pruning's own permission does not outlive its call.
        await deliveries.prune(conn, timedelta(days=365), 100, logged.user_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM deliveries WHERE user_id = $1", logged.user_id)
    assert await _ids(pool, logged) == ["4", "3", "2", "1"]


async def test_pruning_by_age_and_by_count_per_user(
    database_url: str, pool: asyncpg.Pool, logged: Merchant
):
    other = await create_merchant(pool)
    log = _writer(database_url)
    for n in (7, 8, 9):
        log.add(_row(other, n))
    assert await log.flush()
    await log.close()
    async with pool.acquire() as conn:
        gone = await deliveries.prune(conn, timedelta(days=150), 100, logged.user_id)
        assert gone == 1 and await _ids(pool, logged) == ["4", "3", "2"]
        gone = await deliveries.prune(conn, timedelta(days=150), 2, logged.user_id)
        assert gone == 1 and await _ids(pool, logged) == ["4", "3"]
        assert await _ids(pool, other) == ["9", "8", "7"]  # only the one user's
        # Every user's at once (the service's hourly task, ``ledger deliveries prune``); by
        # age only here, since other tests' users share this database.
        await deliveries.prune(conn, timedelta(days=1, hours=12), 100_000)
    assert await _ids(pool, logged) == ["4"]
    assert await _ids(pool, other) == ["9", "8", "7"]
