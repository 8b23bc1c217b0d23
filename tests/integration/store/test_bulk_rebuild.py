"""Bulk rebuilds: a projection's bulk loader must build exactly what ``apply`` builds.

A mixed workload (every fixture, the real store's day, Shopify refunds, cancellations, stock
adjustments, product deliveries and their reports out of order, generated orders) is built
three ways: by the live runner (``compare``), by the
bulk loader in tiny batches (so that levels merge across many batches), and event by event;
all must agree row for row. A loader that fails falls back to the per-event path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from aggregates.order import Order
from projections import sales_bulk
from projections.base import Decode, Recorded, StoredRow
from projections.registry import all_projections
from projections.sales import SalesProjection
from projections.stock import StockProjection
from service.adapters.woocommerce import order_from_json
from service.projecting import bulk_replay
from service.projecting.rebuild import compare
from service.store.eventstore import EventStore
from tests.builders import delivery, mixed_workload, woo_order
from tests.support import Merchant, bulk_against_per_event, per_event

# Every projection with a bulk loader is held to the same standard, whoever adds one.
BULK = tuple(type(p) for p in all_projections() if bulk_replay.bulk_loader(p) is not None)
BATCH = bulk_replay.BULK_BATCH


def _fell_back(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The projections whose bulk loader gave a batch up to the per-event path."""
    return {
        r.getMessage().split(":")[0].removeprefix("projection ")
        for r in caplog.records
        if r.name == bulk_replay.__name__ and "bulk load of events" in r.getMessage()
    }


# Batches of every size (one event each: every change lands on rows of earlier batches), and
# sales chunks so small that sales made in one chunk change in the next ones of the batch
# (a first chunk of its own size, then the others').
@pytest.mark.slow
@pytest.mark.parametrize(
    ("batch", "first", "chunk"),
    [
        (BATCH, sales_bulk.FIRST_CHUNK, sales_bulk.CHUNK),
        (7, sales_bulk.FIRST_CHUNK, sales_bulk.CHUNK),
        (1, sales_bulk.FIRST_CHUNK, sales_bulk.CHUNK),
        (BATCH, 2, 3),
    ],
)
async def test_bulk_rebuilds_equal_per_event_and_live_ones(
    client: TestClient,
    merchant: Merchant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: int,
    first: int,
    chunk: int,
):
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    await mixed_workload(client, merchant)
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", batch)
    monkeypatch.setattr(sales_bulk, "FIRST_CHUNK", first)
    monkeypatch.setattr(sales_bulk, "CHUNK", chunk)
    assert {"stock", "owners", "sales"} <= {cls.name for cls in BULK}
    for cls in BULK:
        assert bulk_replay.bulk_loader(cls()) is not None
        assert bulk_replay.bulk_loader(per_event(cls)) is None
        assert await bulk_against_per_event(database_url, cls) == [], cls.name
        assert await compare(database_url, EventStore(), cls()) == [], cls.name
    # Equal tables prove little if the per-event path built them.
    assert not _fell_back(caplog) & {"sales", "stock", "lookup"}
    if batch == BATCH:  # and a rebuild of those without a loader is what the runner made
        for projection in all_projections():
            assert await compare(database_url, EventStore(), projection) == [], projection.name


async def test_a_sale_whose_receipt_is_missing_is_set_aside_as_apply_does(
    client: TestClient,
    merchant: Merchant,
    pool: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    """A SaleRecorded naming a receipt that is not in the log fails its bulk batch, and the
    per-event path sets it aside, as the live runner does."""
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    assert (await client.post(merchant.woo_orders(), json=woo_order(900))).status == 200
    order = Order.open(merchant.user_id, "woocommerce", "901")
    order.receive(delivery("ab", datetime.now(UTC)), order_from_json(woo_order(901)))
    lost = [e for e in order.collect_events() if not isinstance(e, Order.OrderReceived)]
    async with pool.acquire() as conn, conn.transaction():
        await EventStore().append(conn, lost)
    assert (await client.post(merchant.woo_orders(), json=woo_order(902))).status == 200
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", 3)
    assert await bulk_against_per_event(database_url, SalesProjection) == []
    assert await compare(database_url, EventStore(), SalesProjection()) == []
    assert _fell_back(caplog) == {"sales"}
    assert "(LookupError)" in caplog.text


class FailingBulkStock(StockProjection):
    """A loader that fails on any batch holding an adjustment: those go event by event."""

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        await super().bulk_load(conn, rows, decode)
        if any(row[3].endswith("StockAdjusted") for row in rows):
            raise ValueError("planted")

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        await super().apply(conn, batch)


async def test_a_failing_bulk_batch_falls_back_to_the_per_event_path(
    client: TestClient, merchant: Merchant, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    await mixed_workload(client, merchant)
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", 5)
    assert await compare(database_url, EventStore(), FailingBulkStock()) == []
