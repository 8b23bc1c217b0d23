"""The owners projection's bulk loader reads the user id from the start of an event's JSON;
any other shape of JSON must still give the user ``apply`` would see."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import orjson

from aggregates.order import Order
from projections.base import Recorded, StoredRow
from projections.owners import OwnersProjection
from service.projecting.rebuild import create_tables
from service.store.transcoder import create_mapper


def _stored(event: Any, position: int) -> tuple[Any, ...]:
    s = create_mapper().to_stored_event(event)
    return (position, s.originator_id, s.originator_version, s.topic, s.state)


async def test_bulk_owners_of_every_json_shape(pool):
    user, other = uuid4(), uuid4()
    order = Order.open(user, "woocommerce", "1")
    opened = _stored(order.collect_events()[0], 1)
    state = orjson.loads(opened[4])
    # The same event with its keys in another order, and one whose first key hides a
    # decoy user id that a careless scan would take.
    reordered = {"user_id": state["user_id"], **state}
    decoy = {"notes": {"user_id": {"_type_": "uuid_hex", "_data_": other.hex}}, **state}
    rows: list[tuple[Any, ...]] = [
        opened,
        (2, uuid4(), 1, opened[3], orjson.dumps(reordered)),
        (3, uuid4(), 1, opened[3], orjson.dumps(decoy)),
        (4, uuid4(), 1, "x:Unknown", b'{"user_id": "not-a-uuid"}'),
        (5, uuid4(), 1, "x:Unknown", b'{"timestamp": 1}'),
    ]
    decoded = {4: SimpleNamespace(user_id=other), 5: SimpleNamespace()}

    def decode(row: StoredRow) -> Recorded:
        return Recorded(row[0], decoded[row[0]])

    async with pool.acquire() as conn:
        await create_tables(conn, "owners_shapes", OwnersProjection())
        await conn.execute("SET search_path TO owners_shapes")
        try:
            await OwnersProjection().bulk_load(conn, rows, decode)
            found = await conn.fetch("SELECT * FROM event_owners ORDER BY notification_id")
        finally:
            await conn.execute("RESET search_path")
            await conn.execute("DROP SCHEMA owners_shapes CASCADE")
    owners: dict[int, UUID] = {r["notification_id"]: r["user_id"] for r in found}
    assert owners == {1: user, 2: user, 3: user, 4: other}
