"""The live runner: one shared read of the log per batch, each projection's changes applied
set-based by its bulk loader, and the tables exactly what applying the events one by one
makes of the same history, whatever the batches were.

Each test has a database of its own, so that the runner it starts owns every projection and
the batches it applies are only the test's events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio
from eventsourcing.persistence import StoredEvent

from projections.base import Decode, Recorded, StoredRow
from projections.registry import all_projections
from projections.stock import StockProjection
from service.projecting import runner as runner_module
from service.projecting.rebuild import compare
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.eventstore import EventStore
from service.store.transcoder import create_mapper
from tests.builders import mixed_workload, spooled, woo_order
from tests.support import (
    create_merchant,
    migrated_database,
    per_event,
    pg_ingestor,
    start_client,
    wait_until,
)


@pytest_asyncio.fixture
async def own_url(database_url: str) -> AsyncIterator[str]:
    """A migrated database of the test's own, dropped afterwards."""
    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/')}_live_{secrets.token_hex(3)}"
    async with migrated_database(urlunsplit(parts._replace(path=f"/{name}"))) as url:
        yield url


@pytest_asyncio.fixture
async def own_pool(own_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(own_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def _head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        )


async def _positions(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return dict(await conn.fetch("SELECT name, position FROM projection_positions"))


async def _each_equals_per_event(url: str) -> None:
    """Every projection's live tables equal, row for row, its events applied one by one."""
    for projection in all_projections():
        slow = per_event(type(projection))
        assert await compare(url, EventStore(), slow) == [], projection.name


def _bulk_fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("service.projecting") and "bulk load of events" in r.getMessage()
    ]


# 1: every batch one event, so an order's events are split over batches and each lands on
# rows earlier batches made; 3: boundaries anywhere inside an order's events.
@pytest.mark.parametrize("batch", [1, 3, 500])
async def test_the_log_applied_in_batches_of_any_size_equals_per_event_apply(
    own_url: str,
    own_pool: asyncpg.Pool,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: int,
):
    """The whole history, appended first, then applied by the runner in batches of
    ``batch`` events read from the log (whatever projection they are for)."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(runner_module, "BATCH_SIZE", batch)
    settings = Settings(database_url=own_url, spool_dir=tmp_path / "spool", run_projections=False)
    merchant = await create_merchant(own_pool)
    client = await start_client(settings)
    try:
        await mixed_workload(client, merchant)
    finally:
        await client.close()
    runner = ProjectionRunner(own_pool, EventStore(), all_projections(), own_url)
    assert await runner.catch_up() > 0
    head = await _head(own_pool)
    assert runner.reached(head)
    assert await runner.catch_up() == 0
    await _each_equals_per_event(own_url)
    assert _bulk_fallbacks(caplog) == []


async def test_a_running_runner_applies_deliveries_as_they_commit_as_apply_would(
    own_url: str,
    own_pool: asyncpg.Pool,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    """The service's own runner, batches being whatever committed since the last one (and at
    most 2 events, so that one delivery's events are split too)."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(runner_module, "BATCH_SIZE", 2)
    settings = Settings(database_url=own_url, spool_dir=tmp_path / "spool")
    merchant = await create_merchant(own_pool)
    client = await start_client(replace(settings, projection_poll_interval=0.2))
    try:
        await mixed_workload(client, merchant)
        head = await _head(own_pool)

        async def at_head() -> bool:
            positions = await _positions(own_pool)
            return len(positions) == len(all_projections()) and min(positions.values()) >= head

        await wait_until(at_head, 30, "every projection at the head")
    finally:
        await client.close()
    await _each_equals_per_event(own_url)
    assert _bulk_fallbacks(caplog) == []


class CountingStock(StockProjection):
    """The stock projection, counting how its batches are applied (``apply`` is its own, so
    its loader is trusted: see bulk_replay.bulk_loader)."""

    def __init__(self) -> None:
        self.loaded: list[int] = []
        self.applied = 0

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        self.loaded.append(len(rows))
        await super().bulk_load(conn, rows, decode)

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        self.applied += len(batch)
        await super().apply(conn, batch)


async def _orders(pool: asyncpg.Pool, store: EventStore, numbers: range) -> int:
    merchant = await create_merchant(pool)
    ingestor = pg_ingestor(pool, store)
    last = 0
    for n in numbers:
        answer = await ingestor.ingest(spooled(merchant.user_id, woo_order(n)))
        assert answer.body["status"] == "recorded" and answer.notification_id is not None
        last = answer.notification_id
    return last


async def test_the_runner_applies_a_batch_with_the_bulk_loader(own_url: str, own_pool):
    store = EventStore()
    await _orders(own_pool, store, range(1, 6))
    stock = CountingStock()
    runner = ProjectionRunner(own_pool, store, [stock], own_url)
    assert await runner.catch_up() == 10  # two lines each: two StockDeducted
    assert (stock.loaded, stock.applied) == ([10], 0)
    assert await compare(own_url, EventStore(), per_event(StockProjection)) == []


class FailingStock(CountingStock):
    """A loader that fails on any batch holding an adjustment."""

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        await super().bulk_load(conn, rows, decode)
        if any(row[3].endswith("StockAdjusted") for row in rows):
            raise ValueError("planted")

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        await super().apply(conn, batch)


async def test_a_batch_the_loader_cannot_load_is_applied_event_by_event(
    own_url: str, own_pool: asyncpg.Pool, tmp_path: Any, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING)
    settings = Settings(database_url=own_url, spool_dir=tmp_path / "spool", run_projections=False)
    merchant = await create_merchant(own_pool)
    client = await start_client(settings)
    try:
        await mixed_workload(client, merchant)
    finally:
        await client.close()
    stock = FailingStock()
    runner = ProjectionRunner(own_pool, EventStore(), [stock], own_url)
    await runner.catch_up()
    assert stock.loaded and stock.applied > 0
    assert len(_bulk_fallbacks(caplog)) >= 1
    assert await compare(own_url, EventStore(), per_event(StockProjection)) == []


async def test_one_read_of_the_log_serves_every_projection_and_decodes_once(
    own_url: str, own_pool: asyncpg.Pool, tmp_path: Any
):
    """Each event is decoded in full at most once, however many projections need it (the
    products and stock projections both read product deliveries)."""
    mapper = create_mapper()
    decoded: Counter[tuple[Any, int]] = Counter()
    to_domain_event = mapper.to_domain_event

    def counting(stored: StoredEvent) -> Any:
        decoded[(stored.originator_id, stored.originator_version)] += 1
        return to_domain_event(stored)

    settings = Settings(database_url=own_url, spool_dir=tmp_path / "spool", run_projections=False)
    merchant = await create_merchant(own_pool)
    client = await start_client(settings)
    try:
        await mixed_workload(client, merchant)
    finally:
        await client.close()
    store = EventStore(mapper)
    mapper.to_domain_event = counting  # type: ignore[method-assign]
    runner = ProjectionRunner(own_pool, store, all_projections(), own_url)
    await runner.catch_up()
    assert runner.reached(await _head(own_pool))
    assert decoded and max(decoded.values()) == 1
    assert runner.reads == 1 + (await _head(own_pool)) // runner_module.BATCH_SIZE


async def test_a_commit_wakes_the_runner_once(own_url: str, own_pool: asyncpg.Pool):
    """A delivery's commit notifies, and its answer waits for the projections: together one
    read of the log, not one per projection for each."""
    store = EventStore()
    runner = ProjectionRunner(own_pool, store, all_projections(), own_url, poll_interval=60)
    task = asyncio.create_task(runner.run())
    try:
        first = await _orders(own_pool, store, range(1, 2))
        assert await runner.wait_for(first, 10)
        assert runner.active == {p.name for p in all_projections()}
        before = runner.reads
        merchant = await create_merchant(own_pool)
        ingestor = pg_ingestor(own_pool, store)
        for n in range(10, 20):
            answer = await ingestor.ingest(spooled(merchant.user_id, woo_order(n)))
            assert answer.notification_id is not None
            assert await runner.wait_for(answer.notification_id, 10)
        assert runner.reads - before <= 10 + 1  # one per delivery (and one activation's)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
