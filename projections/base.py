"""What every projection shares: the recorded-event envelope and the projection protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson
from eventsourcing.utils import get_topic


@dataclass(frozen=True)
class Recorded:
    """A domain event and its position (notification id) in the log."""

    notification_id: int
    event: Any


class Projection(Protocol):
    """A read model: applies batches of events to its tables inside the caller's transaction."""

    name: str

    @property
    def topics(self) -> tuple[str, ...]: ...

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None: ...


# A stored event as the log holds it, before any decoding: (notification_id, originator_id,
# originator_version, topic, state), state being the event's JSON bytes.
StoredRow = Sequence[Any]
# The full decoding of one stored row, for what a bulk loader does not decode itself.
Decode = Callable[[StoredRow], Recorded]


class BulkLoading(Protocol):
    """What a projection may add to apply batches fast: it loads a batch of stored rows of
    its topics, in log order, into its tables, decoding only the fields it needs. The tables
    are a rebuild's fresh ones (some indexes deferred to the end of the pass) or, for the
    live runner's batches, the live ones, with their rows and every index: so a loader
    merges into what the tables hold, never assuming them empty. The tables it leaves must
    equal, row for row, what ``apply`` makes of the same events: the result never depends on
    which path built it, nor on where batches begin and end."""

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None: ...


def raw_uuid(value: Any) -> UUID:
    """A UUID field of an event's stored JSON (``{"_type_": "uuid_hex", "_data_": hex}``)."""
    if type(value) is dict and value.get("_type_") == "uuid_hex":
        return UUID(hex=value["_data_"])
    raise ValueError(f"not a stored UUID: {value!r}")


def raw_datetime(value: Any) -> datetime:
    """A datetime field of an event's stored JSON (``{"_type_": "datetime_iso", ...}``)."""
    if type(value) is dict and value.get("_type_") == "datetime_iso":
        return datetime.fromisoformat(value["_data_"])
    raise ValueError(f"not a stored datetime: {value!r}")


def topics(*classes: type) -> tuple[str, ...]:
    return tuple(get_topic(cls) for cls in classes)


def receipt_source(recorded: Recorded) -> dict[str, Any]:
    """The audit view of an ``OrderReceived``: which delivery, and where it sits in the log."""
    e = recorded.event
    position = (recorded.notification_id, e.originator_id, e.originator_version)
    return receipt_view(position, vars(e), e.received_at.isoformat())


def receipt_view(
    position: tuple[int, UUID, int], fields: dict[str, Any], received_at: str
) -> dict[str, Any]:
    """``receipt_source`` from a receipt's fields, whether an event's attributes or its
    stored JSON (the bulk loaders read it there): ``position`` is its notification id,
    originator id and version."""
    notification_id, originator_id, originator_version = position
    return {
        "platform": fields["platform"],
        "external_id": fields["external_id"],
        "notification_id": notification_id,
        "originator_id": str(originator_id),
        "originator_version": originator_version,
        "topic": fields["topic"],
        "platform_status": fields["platform_status"],
        "received_at": received_at,
        "verification": fields["verification"],
        "sha256": fields["body_sha256"],
        "delivery": {
            "delivery_id": fields["delivery_id"],
            "webhook_id": fields["webhook_id"],
            "event_id": fields["event_id"],
            "source": fields["source"],
            "headers": fields["headers"],
        },
    }


class StoredUuids(dict[str, UUID]):
    """UUID fields of stored JSON, each hex parsed once (a batch names few users)."""

    def read(self, value: Any) -> UUID:
        typed = type(value) is dict and value.get("_type_") == "uuid_hex"
        found = self.get(value["_data_"]) if typed else None
        if found is None:
            found = self[value["_data_"]] = raw_uuid(value)
        return found


def parse_json(text: str | None) -> Any:
    """A jsonb column as asyncpg returns it (text) decoded; numbers here are never money."""
    return None if text is None else orjson.loads(text)


async def fetch_versioned(conn: Any, current: str, previous: str, *args: Any) -> list[Any]:
    """Rows of a query on a projection's tables, in the shape of its current version.

    A deploy of a new version rebuilds the projection beside the live tables of the previous
    one, which keep answering until the swap; ``previous`` is the same query written for
    their columns. Inside a transaction the first try runs in a savepoint, so that its
    failure leaves the transaction usable.
    """
    try:
        if conn.is_in_transaction():
            async with conn.transaction():
                return list(await conn.fetch(current, *args))
        return list(await conn.fetch(current, *args))
    except asyncpg.UndefinedColumnError:
        return list(await conn.fetch(previous, *args))
