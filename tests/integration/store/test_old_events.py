"""Events stored by earlier versions, which lack fields added since, still load, project and
rebuild: order lines without the store's bookkeeping, a deletion without the trash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from aiohttp.test_utils import TestClient

from aggregates.order import Order
from aggregates.values import OrderLine
from projections.sales import SalesProjection
from service.adapters.body import storable
from service.adapters.woocommerce import order_from_json
from service.http.keys import RUNNER
from service.projecting.rebuild import compare
from service.store.eventstore import CHANNEL, EventStore
from tests.builders import delivery, woo_order
from tests.support import Merchant, bulk_against_per_event

# What the fields added since look like in stored JSON, to be cut out.
_LINE_FIELDS = ("reduced_stock", "restocked")


def _as_stored_before(state: dict[str, Any]) -> dict[str, Any]:
    state.pop("trash_after", None)
    if state.get("platform_status") == "trash":  # a deletion's receipt named the sale's
        state["platform_status"] = "processing"
    for line in state.get("lines", []):
        for name in _LINE_FIELDS:
            line["_data_"].pop(name)
    return state


async def _append_as_before(pool: asyncpg.Pool, events: list[Any]) -> None:
    mapper = EventStore().mapper
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
        for event in events:
            stored = mapper.to_stored_event(event)
            state = orjson.dumps(_as_stored_before(orjson.loads(stored.state)))
            await conn.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state)"
                " VALUES ($1, $2, $3, $4)",
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                state,
            )
        await conn.execute(f"NOTIFY {CHANNEL}")


async def test_events_stored_before_the_trash_and_the_bookkeeping(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, database_url: str
):
    body = json.dumps(woo_order(950, date_modified_gmt="2026-05-01T10:00:00")).encode()
    order = Order.open(merchant.user_id, "woocommerce", "950")
    at = datetime(2026, 5, 1, 11, tzinfo=UTC)
    sha = hashlib.sha256(body).hexdigest()
    order.receive(
        delivery(sha, at),
        order_from_json(json.loads(body)),
    )
    order.receive_deletion(delivery("gone", at))
    # What the version before wrote: no trash status after the deletion.
    events = [
        e
        for e in order.collect_events()
        if not (isinstance(e, Order.SaleStatusChanged) and e.platform_status == "trash")
    ]
    assert any("trash_after" in vars(e) for e in events)
    await _append_as_before(pool, events)
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
        loaded = await EventStore().load(conn, order.id)
    assert await client.app[RUNNER].wait_for(head, 5)

    resp = await client.get(f"/api/sales/{order.id}", headers=merchant.auth)
    sale = await resp.json()
    assert (sale["deleted_on_platform"], sale["platform_status"]) == (True, "processing")
    assert {(line["reduced_stock"], line["restocked"]) for line in sale["lines"]} == {(None, None)}
    # The aggregate replays them: deleted, without the trash it was recorded before.
    replayed = None
    for event in loaded:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert (replayed.deleted, replayed.trash_after, replayed.platform_status) == (
        True,
        None,
        "processing",
    )
    # And a restore of it goes on from there.
    restore = woo_order(950, date_modified_gmt="2026-05-02T10:00:00")
    headers = {"X-WC-Webhook-Topic": "order.restored"}
    resp = await client.post(merchant.woo_orders(), json=restore, headers=headers)
    assert (await resp.json())["status"] == "restored"

    assert await bulk_against_per_event(database_url, SalesProjection) == []
    assert await compare(database_url, EventStore(), SalesProjection()) == []


def test_an_altered_string_is_stored_as_text():
    """The adapters mark text they had to change (Altered, a str subclass); should one reach
    an event, it is stored as the text it is, not refused."""
    doc = storable({"name": "caf\u00e9\u0000"})
    line = OrderLine(None, "1", None, None, doc["name"], 1, Decimal("1"), Decimal("1"))
    state = EventStore().mapper.transcoder.encode({"line": line})
    assert orjson.loads(state)["line"]["_data_"]["name"] == "caf\u00e9\ufffd"
