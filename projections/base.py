"""What every projection shares: the recorded-event envelope and the projection protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

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
