"""What became of one answered webhook delivery, for whoever watches deliveries go by.

The HTTP edge builds one ``FinishedDelivery`` per delivery it answered (the token was valid),
once the answer is built, and hands it to each observer (under the app's
``DELIVERY_OBSERVERS`` key): the metrics count it, ``log_delivery`` writes its one log line.
Observers are plain functions run on the request path: quick, no I/O but logging.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from service.adapters.registry import PLATFORMS
from service.intake.ingest import Answer
from service.logs import UNSAFE_CHARS

log = logging.getLogger(__name__)
# The one line per delivery (LEDGER_LOG_FORMAT=json writes its fields as keys).
deliveries_log = logging.getLogger("service.deliveries")


@dataclass(frozen=True)
class FinishedDelivery:
    """One answered delivery: whose, from where, what it was and what became of it."""

    user_id: UUID
    platform: str
    endpoint: str  # order, product, or ping
    topic: str | None  # as the platform's headers name it
    outcome: str  # the answer's: recorded, duplicate, quarantined, spooled, ...
    status: int  # the HTTP status answered
    latency: float  # seconds, from the handler's start to the answer built
    sale_id: str | None  # the sale an order delivery touched
    delivery_id: str | None  # the platform's own id of the delivery


Observer = Callable[[FinishedDelivery], None]


def finished(
    user_id: UUID,
    platform: str,
    endpoint: str,
    headers: Mapping[str, str],
    answer: Answer,
    status: int,
    latency: float,
) -> FinishedDelivery:
    # Only what the headers name is read: the receipt's other fields are the ingestor's.
    named = PLATFORMS[platform].delivery_from_headers(
        headers, received_at=datetime.now(UTC), verification="", body_sha256=""
    )
    sale_id = answer.body.get("sale_id")
    return FinishedDelivery(
        user_id=user_id,
        platform=platform,
        endpoint=endpoint,
        topic=_printable(named.topic),
        outcome=answer.outcome,
        status=status,
        latency=latency,
        sale_id=None if sale_id is None else str(sale_id),
        delivery_id=_printable(named.delivery_id),
    )


def _printable(value: str | None, limit: int = 128) -> str | None:
    """Header text as a log line and a label may show it: printable, bounded."""
    return None if value is None else UNSAFE_CHARS.sub("?", value)[:limit]


def notify(observers: Iterable[Observer], delivery: FinishedDelivery) -> None:
    """Hand the delivery to each observer; one that fails is logged, never the answer's
    problem (the delivery is recorded, or kept, already)."""
    for observe in observers:
        try:
            observe(delivery)
        except Exception:
            log.exception("a delivery observer failed")


def log_delivery(d: FinishedDelivery) -> None:
    """The delivery's one line: readable in text format, its fields as keys in JSON."""
    fields = {
        "user_id": str(d.user_id),
        "platform": d.platform,
        "endpoint": d.endpoint,
        "topic": d.topic,
        "outcome": d.outcome,
        "status": d.status,
        "latency_ms": round(d.latency * 1000, 1),
        "sale_id": d.sale_id,
        "delivery_id": d.delivery_id,
    }
    deliveries_log.info(
        "delivery %s %s %s: %s %d in %.1f ms user=%s sale=%s delivery=%s",
        d.platform,
        d.endpoint,
        d.topic or "-",
        d.outcome,
        d.status,
        fields["latency_ms"],
        d.user_id,
        d.sale_id or "-",
        d.delivery_id or "-",
        extra=fields,
    )
