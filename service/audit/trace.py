"""The audit trail: a sale traced to the delivery that caused it, a stock level to its
movements, and a user's own events for export.

Events are read from the log itself (through the event store); the projections only say
where to look (a sale's source receipt, a user's event positions).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.order import Order
from projections import owners, sales, stock_queries
from projections.base import Recorded, receipt_source
from service.store.eventstore import EventStore

# Shown at the top of an exported event, so not repeated among its fields.
_ENVELOPE = ("originator_id", "originator_version")
# Recorded for replay, not said by anyone: a receipt's place among the order's snapshots,
# worked out from the fields that are shown. Left out, so exports read as they always did.
_BOOKKEEPING = frozenset({"snapshot_key"})
# Where releases before the shared delivery envelope showed them: a receipt's ``kind``
# right after its order's (user, platform, external id).
_SHOWN_AFTER_THE_ORDER = ("kind",)


class TraceError(LookupError):
    """Nothing this user can see matches."""


def plain(value: Any) -> Any:
    """A value as plain JSON data: amounts as exact strings, never floats."""
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def event_fields(event: Any) -> dict[str, Any]:
    """An event's fields as exports and traces show them (the same names, the same order,
    release after release)."""
    names = [f.name for f in dataclasses.fields(event)]
    names = [n for n in names if n not in _ENVELOPE and n not in _BOOKKEEPING]
    early = [n for n in _SHOWN_AFTER_THE_ORDER if n in names]
    if early and "external_id" in names:
        rest = [n for n in names if n not in early]
        at = rest.index("external_id") + 1
        names = [*rest[:at], *early, *rest[at:]]
    return {n: plain(getattr(event, n)) for n in names}


def event_name(event: Any) -> str:
    return type(event).__name__


def exported(recorded: Recorded, topic: str) -> dict[str, Any]:
    e = recorded.event
    return {
        "notification_id": recorded.notification_id,
        "originator_id": str(e.originator_id),
        "originator_version": e.originator_version,
        "topic": topic,
        "event": event_fields(e),
    }


async def export_page(
    conn: Any, store: EventStore, user_id: UUID, *, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The user's own events after ``after``, ascending; the position to go on from, if any."""
    positions = await owners.owned_positions(conn, user_id, after=after, limit=limit + 1)
    page = positions[:limit]
    events = await store.read_positions(conn, page)
    items = [exported(r, _topic(r)) for r in events]
    return items, (page[-1] if len(positions) > limit else None)


def _topic(recorded: Recorded) -> str:
    return get_topic(type(recorded.event))


async def stock_history(
    conn: Any, user_id: UUID, product_ref: str, *, after: int, limit: int
) -> dict[str, Any] | None:
    """A product's level and its movements, read in one snapshot so that they agree."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        level = await stock_queries.get_stock(conn, user_id, product_ref)
        if level is None:
            return None
        movements, next_after = await stock_queries.stock_history(
            conn, user_id, product_ref, after=after, limit=limit
        )
    return {
        "product_ref": product_ref,
        "quantity": level["quantity"],
        "platform_reported_quantity": level["platform_reported_quantity"],
        "movements": movements,
        "next_after": next_after,
    }


async def trace_external(
    conn: Any, store: EventStore, user_id: UUID, platform: str, external_id: str
) -> dict[str, Any]:
    try:
        return await trace(conn, store, user_id, Order.create_id(user_id, platform, external_id))
    except TraceError:
        raise TraceError(f"no sale of {platform} order {external_id}") from None


async def trace(conn: Any, store: EventStore, user_id: UUID, sale_id: UUID) -> dict[str, Any]:
    """The receipt that made the order a sale, with its raw bytes checked again, then every
    event of the order in order. Raises TraceError for a sale this user does not have."""
    sale = await sales.get_sale(conn, user_id, sale_id)
    if sale is None:
        raise TraceError(f"no sale {sale_id}")
    history = await store.load_recorded(conn, sale_id)
    version = sale["source"]["originator_version"]
    [receipt] = [r for r in history if r.event.originator_version == version]
    assert isinstance(receipt.event, Order.OrderReceived), "a sale's source is a receipt"
    return {
        "sale_id": str(sale_id),
        "platform": sale["platform"],
        "external_id": sale["external_id"],
        "status": sale["status"],
        "receipt": await _receipt(conn, receipt),
        "events": [
            {
                "notification_id": r.notification_id,
                "originator_version": r.event.originator_version,
                "event": event_name(r.event),
                "topic": _topic(r),
                "fields": event_fields(r.event),
            }
            for r in history
        ],
    }


async def _receipt(conn: Any, receipt: Recorded) -> dict[str, Any]:
    e = receipt.event
    raw = await conn.fetchval("SELECT body FROM raw_deliveries WHERE sha256 = $1", e.body_sha256)
    body = None if raw is None else bytes(raw)
    source = receipt_source(receipt)
    source.update(_body_fields(body))
    source["sha256_verified"] = body is not None and (
        hashlib.sha256(body).hexdigest() == e.body_sha256
    )
    return source


def _body_fields(body: bytes | None) -> dict[str, Any]:
    if body is None:
        return {"body": None, "body_encoding": None}
    try:
        return {"body": body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}
