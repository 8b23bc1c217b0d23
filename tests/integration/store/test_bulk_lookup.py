"""The lookup bulk loader, held to ``apply`` on logs written for it.

Each test writes its own log into a database of its own (some of these logs hold events the
live service never writes, which other tests' rebuilds must not meet), then builds the lookup
tables twice, by the bulk loader and event by event, and compares them row for row. Batches
and the loader's chunks are cut small, so that an order's receipts, sale and status changes
fall in different batches and chunks in every possible way.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from aggregates.order import Order
from aggregates.values import Delivery
from projections import lookup_bulk
from projections.lookup import LookupProjection
from service.adapters.woocommerce import order_from_json
from service.projecting import bulk_replay
from service.store.eventstore import EventStore
from tests.builders import delivery, woo_order
from tests.support import bulk_against_per_event, migrated_database

# (batch, first chunk, chunk): the driver's and the loader's own sizes, then every cut small.
CUTS = [
    (bulk_replay.BULK_BATCH, lookup_bulk.FIRST_CHUNK, lookup_bulk.CHUNK),
    (1, 1, 1),
    (7, 1000, 5000),
    (50, 1, 2),
    (13, 3, 4),
]


@pytest_asyncio.fixture
async def log_url(database_url: str) -> AsyncIterator[str]:
    name = f"{urlsplit(database_url).path.lstrip('/')}_lookup_{secrets.token_hex(3)}"
    async with migrated_database(
        urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    ) as url:
        yield url


def _delivery(n: int, **changes: Any) -> Delivery:
    at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n, microseconds=n)
    fields = dict(topic="order.updated", delivery_id=str(n), webhook_id="7")
    fields.update(source="https://shop.example", headers={"x-wc-webhook-id": "7"})
    return delivery(f"{n:064x}", at, verification="verified", **{**fields, **changes})


def _receive(order: Order, n: int, status: str, **changes: Any) -> list[Any]:
    modified = (datetime(2026, 3, 1) + timedelta(minutes=n)).isoformat()
    doc = woo_order(int(order.external_id), status, date_modified_gmt=modified)
    order.receive(_delivery(n, **changes), order_from_json(doc))
    return list(order.collect_events())


def _history(users: Sequence[UUID]) -> list[list[Any]]:
    """Deliveries of many orders, interleaved: new orders, sales, status changes (one to a
    status the ledger does not know), cancellations, refunds; odd times and headers."""
    orders = {(u, i): Order.open(u, "woocommerce", str(100 + i)) for u in users for i in range(6)}
    appends: list[list[Any]] = []
    odd = {
        7: {"received_at": datetime(2026, 3, 1, 1, 2, 3, 456, tzinfo=timezone(timedelta(hours=2)))},
        11: {"headers": {"x-id": uuid4()}},  # stored as {"_type_": ...}: decoded in full
    }
    n = 0
    for step, status in enumerate(
        ("pending", "processing", "on-hold", "shipped", "cancelled", "refunded")
    ):
        for (_, i), order in orders.items():
            if (i + step) % 3 == 0 and step:
                continue
            n += 1
            appends.append(_receive(order, n, status, **odd.get(n, {})))
    return [events for events in appends if events]


async def _append(url: str, appends: Sequence[Sequence[Any]]) -> None:
    conn = await asyncpg.connect(url)
    try:
        for events in appends:
            async with conn.transaction():
                await EventStore().append(conn, events)
    finally:
        await conn.close()


def _fell_back(caplog: pytest.LogCaptureFixture) -> int:
    return sum("projection lookup: bulk load" in r.getMessage() for r in caplog.records)


def _cut(monkeypatch: pytest.MonkeyPatch, batch: int, first: int, chunk: int) -> None:
    monkeypatch.setattr(bulk_replay, "BULK_BATCH", batch)
    monkeypatch.setattr(lookup_bulk, "FIRST_CHUNK", first)
    monkeypatch.setattr(lookup_bulk, "CHUNK", chunk)


@pytest.mark.parametrize(("batch", "first", "chunk"), CUTS)
async def test_bulk_load_builds_what_apply_builds_however_the_log_is_cut(
    log_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: int,
    first: int,
    chunk: int,
):
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    await _append(log_url, _history([uuid4(), uuid4()]))
    _cut(monkeypatch, batch, first, chunk)
    assert await bulk_against_per_event(log_url, LookupProjection) == []
    assert _fell_back(caplog) == 0  # equal tables prove little if apply built both


@pytest.mark.parametrize(("batch", "first", "chunk"), CUTS)
async def test_a_status_change_before_its_order_has_a_row_changes_nothing(
    log_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: int,
    first: int,
    chunk: int,
):
    """Its receipt came later in the log: ``apply`` finds no row for the change, then the
    receipt makes one with no status; the loader must not carry the status over."""
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    order = Order.open(uuid4(), "woocommerce", "300")
    opened_and_sold = _receive(order, 1, "processing")
    received, *_ = (e for e in opened_and_sold if isinstance(e, Order.OrderReceived))
    changed = _receive(order, 2, "cancelled")
    change = next(e for e in changed if isinstance(e, Order.SaleStatusChanged))
    other = _history([uuid4()])
    await _append(log_url, [*other[:5], [opened_and_sold[0], change], *other[5:9], [received]])
    _cut(monkeypatch, batch, first, chunk)
    assert await bulk_against_per_event(log_url, LookupProjection) == []
    assert _fell_back(caplog) == 0


def _sale_without_receipt(kept: bool) -> list[list[Any]]:
    """A sale naming a receipt the log lacks: the order's only one, or one of its two."""
    order = Order.open(uuid4(), "woocommerce", "400")
    events = _receive(order, 1, "processing")
    sale = next(e for e in events if isinstance(e, Order.SaleRecorded))
    if kept:
        return [events[:2], [dataclasses.replace(sale, receipt_version=9)]]
    return [[e for e in events if not isinstance(e, Order.OrderReceived)]]


@pytest.mark.parametrize("kept", [False, True])
async def test_a_sale_whose_receipt_is_not_projected_goes_event_by_event(
    log_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, kept: bool
):
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    other = _history([uuid4()])
    await _append(log_url, [*other[:4], *_sale_without_receipt(kept), *other[4:]])
    _cut(monkeypatch, 10, 3, 4)
    assert await bulk_against_per_event(log_url, LookupProjection) == []
    assert _fell_back(caplog) == 1
    assert "(LookupError)" in caplog.text
    conn = await asyncpg.connect(log_url)
    try:
        failures = await conn.fetchval(
            "SELECT count(*) FROM projection_failures WHERE name = 'lookup'"
        )
    finally:
        await conn.close()
    assert failures == 1  # set aside, as the live runner does
