"""What every projection shares: the recorded-event envelope and the projection protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

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
    """What a projection may add to rebuild fast: it loads a batch of stored rows of its
    topics, in log order, into its fresh (still private) tables, decoding only the fields it
    needs. The tables it leaves must equal, row for row, what ``apply`` makes of the same
    events: a rebuild's result never depends on which path built it."""

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


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__qualname__} as JSON")


def to_json(value: Any) -> str:
    """JSON text for a jsonb parameter; Decimals become exact strings, never floats."""
    return orjson.dumps(value, default=_default).decode()


def receipt_source(recorded: Recorded) -> dict[str, Any]:
    """The audit view of an ``OrderReceived``: which delivery, and where it sits in the log."""
    e = recorded.event
    return {
        "platform": e.platform,
        "external_id": e.external_id,
        "notification_id": recorded.notification_id,
        "originator_id": str(e.originator_id),
        "originator_version": e.originator_version,
        "topic": e.topic,
        "platform_status": e.platform_status,
        "received_at": e.received_at.isoformat(),
        "verification": e.verification,
        "sha256": e.body_sha256,
        "delivery": {
            "delivery_id": e.delivery_id,
            "webhook_id": e.webhook_id,
            "event_id": e.event_id,
            "source": e.source,
            "headers": e.headers,
        },
    }


def parse_json(text: str | None) -> Any:
    """A jsonb column as asyncpg returns it (text) decoded; numbers here are never money."""
    return None if text is None else orjson.loads(text)
