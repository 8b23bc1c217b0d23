"""Events the previous release stored keep decoding, every topic of them, to events with the
same fields (``previous_release/events.jsonl``: one stored row of each topic, written by it),
shown by the audit views as that release showed them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from service.audit.trace import event_fields
from service.store.eventstore import EventStore

ROWS = [
    orjson.loads(line)
    for line in (Path(__file__).parent / "previous_release" / "events.jsonl")
    .read_bytes()
    .splitlines()
]


def test_every_topic_the_previous_release_wrote_is_here():
    assert len({r["topic"] for r in ROWS}) == len(ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=[r["topic"].split(":")[1] for r in ROWS])
def test_a_stored_event_decodes_with_its_fields(row: dict[str, Any]):
    stored = StoredEvent(
        originator_id=UUID(row["originator_id"]),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=row["state"].encode(),
    )
    event = EventStore().mapper.to_domain_event(stored)
    assert (event.originator_id, event.originator_version) == (
        stored.originator_id,
        stored.originator_version,
    )
    fields = orjson.loads(stored.state)
    for name in fields:
        assert hasattr(event, name), name
    # Written again, it is the same JSON: nothing was lost or changed in decoding.
    assert orjson.loads(EventStore().mapper.to_stored_event(event).state) == fields
    # Exports and traces show it as the previous release did: the same fields, in its order.
    assert list(event_fields(event)) == list(fields)
