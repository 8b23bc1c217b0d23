"""The sales bulk loader copies new sales in COPY's text format (projections/bulk_writer.py):
texts that hold its separators or its escape, and absent ones, must come out as ``apply``
writes them. The log is written into a database of its own, so that no other test's event
sends the batch down the per-event path, which would prove nothing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import pytest
import pytest_asyncio

from aggregates.order import Order
from projections.sales import SalesProjection
from service.adapters.woocommerce import order_from_json
from service.projecting import bulk_replay
from service.store.eventstore import EventStore
from tests.builders import delivery, woo_order
from tests.support import bulk_against_per_event, migrated_database

# Each alone in its sale, so that none hides another: a line of COPY's text format is
# looked at as a whole and escaped field by field only when some field needs it.
AWKWARD = ("O'Brien \\N Jr.", "Ana\tMaría", "two\nlines", "a\rreturn")
QUOTED = 'Shirt 12"'  # in the lines' JSON, a quote escaped by a backslash


@pytest_asyncio.fixture
async def log_url(database_url: str) -> AsyncIterator[str]:
    name = f"{urlsplit(database_url).path.lstrip('/')}_texts_{secrets.token_hex(3)}"
    async with migrated_database(
        urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    ) as url:
        yield url


def _bodies() -> list[dict[str, Any]]:
    bodies = []
    for n, text in enumerate(AWKWARD):
        body = woo_order(1 + n, billing={"first_name": text, "email": f"{text}@example.com"})
        bodies.append({**body, "payment_method": text, "currency": text})
    quoted = woo_order(8)
    quoted["line_items"][0]["name"] = QUOTED
    bare = woo_order(9, billing=[], payment_method=None, currency=None)  # NULLs
    return [*bodies, quoted, bare]


async def test_texts_that_copy_reads_specially_are_rebuilt_as_apply_writes_them(
    log_url: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger=bulk_replay.__name__)
    user_id = uuid4()
    conn = await asyncpg.connect(log_url)
    try:
        for n, body in enumerate(_bodies()):
            snapshot = order_from_json(body)
            if n < len(AWKWARD):  # the adapter keeps them as sent
                text = AWKWARD[n]
                assert (snapshot.customer.name, snapshot.payment_method) == (text, text)
            order = Order.open(user_id, "woocommerce", snapshot.external_id)
            order.receive(delivery(f"{n:064x}"), snapshot)
            async with conn.transaction():
                await EventStore().append(conn, order.collect_events())
    finally:
        await conn.close()
    assert await bulk_against_per_event(log_url, SalesProjection) == []
    # Equal tables prove little if apply built both.
    assert not [r for r in caplog.records if "bulk load of events" in r.getMessage()]
