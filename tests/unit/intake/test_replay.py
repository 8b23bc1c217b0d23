"""The spool's replay: each aggregate's deliveries in arrival order, aggregates at once."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from service.intake.delivery import SpooledDelivery
from service.intake.replay import phases, replay, replay_key
from service.store.db import DatabaseUnavailableError
from tests.builders import spooled, woo_order

USER = uuid4()


def _entries(*bodies: object) -> dict[str, SpooledDelivery]:
    return {f"{n:012d}": spooled(USER, body) for n, body in enumerate(bodies)}


def test_a_refund_shares_its_orders_key_and_a_body_without_an_id_has_none():
    order, refund = spooled(USER, woo_order(7)), spooled(USER, {"id": 99, "order_id": 7})
    assert replay_key(order) == replay_key(refund)
    assert replay_key(spooled(USER, woo_order(8))) != replay_key(order)
    entries = _entries(b"not json", [1, 2], {"id": None})
    assert [replay_key(d) for d in entries.values()] == [None, None, None]


def test_a_delivery_naming_no_aggregate_is_a_phase_of_its_own():
    entries = _entries(woo_order(1), woo_order(2), b"???", woo_order(1))
    split = phases(list(entries.items()))
    ids = [[[e for e, _ in chain] for chain in phase] for phase in split]
    assert ids == [
        [["000000000000"], ["000000000001"]],
        [["000000000002"]],
        [["000000000003"]],
    ]


async def test_each_aggregates_deliveries_in_arrival_order_and_aggregates_at_once():
    entries = _entries(woo_order(1), woo_order(2), woo_order(1), woo_order(2), woo_order(1))
    started: list[str] = []
    finished: list[str] = []
    removed: list[str] = []
    names = {id(d): e for e, d in entries.items()}
    running = 0
    most = 0

    async def ingest(d: SpooledDelivery) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.append(names[id(d)])
        await asyncio.sleep(0.01)
        finished.append(names[id(d)])
        running -= 1

    async def read(entry_id: str) -> SpooledDelivery:
        return entries[entry_id]

    async def remove(entry_id: str) -> None:
        removed.append(entry_id)

    async def calm() -> None:
        return None

    assert await replay(list(entries), read, ingest, remove, calm) == 5
    assert most == 2  # two orders at once
    order_1 = [e for e in finished if e in ("000000000000", "000000000002", "000000000004")]
    assert order_1 == ["000000000000", "000000000002", "000000000004"]
    assert sorted(removed) == sorted(entries)


async def test_an_outage_stops_the_replay_and_keeps_what_is_left_in_order():
    entries = _entries(woo_order(1), woo_order(1), woo_order(1))
    removed: list[str] = []
    calls = 0

    async def ingest(d: SpooledDelivery) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise DatabaseUnavailableError("gone")

    async def read(entry_id: str) -> SpooledDelivery:
        return entries[entry_id]

    async def remove(entry_id: str) -> None:
        removed.append(entry_id)

    async def calm() -> None:
        return None

    assert await replay(list(entries), read, ingest, remove, calm) == 1
    assert removed == ["000000000000"]
