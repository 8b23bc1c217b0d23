"""Reprocess: re-read a user's stored deliveries with the current code and append corrections.

For a bug in how deliveries were interpreted (an adapter or an aggregate rule), whose events
are immutable: every order's stored raw bodies are replayed, in the order they were received,
through the current adapters into a fresh aggregate; where that reading differs from the
ledger's, ``Order.correct`` appends the events that bring the ledger to it, naming the reason
and the code version. Nothing is edited or deleted, and a second run finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any
from uuid import UUID

import asyncpg

from aggregates.order import Order
from aggregates.values import Delivery
from service.adapters.common import PayloadError, parse_json
from service.eventstore import ConcurrencyConflictError, EventStore, replay
from service.ingest import ADAPTERS

REASON = "deliveries re-read with the current adapters and rules"


def code_version() -> str:
    try:
        return f"pyme-ledger {metadata.version('pyme-ledger')}"
    except metadata.PackageNotFoundError:
        return "pyme-ledger (not installed)"


@dataclass(frozen=True)
class Correction:
    order_id: UUID
    external_id: str
    differences: list[str]
    unreadable: list[str]


def _delivery(receipt: Any) -> Delivery:
    return Delivery(
        receipt.topic,
        receipt.delivery_id,
        receipt.webhook_id,
        receipt.event_id,
        receipt.source,
        dict(receipt.headers),
        receipt.received_at,
        receipt.verification,
        receipt.body_sha256,
    )


def _reread(order: Order, receipt: Any, body: bytes) -> None:
    """Feed one stored delivery to ``order`` as the current code reads it."""
    adapter = ADAPTERS[order.platform]
    delivery = _delivery(receipt)
    if receipt.kind == "repeat":  # a retry of an event already read: it changed nothing
        return
    if receipt.kind == "deletion":
        order.receive_deletion(delivery)
        return
    doc = parse_json(body, receipt.headers.get("content-encoding"))
    if receipt.kind == "refund":
        order.receive_refund(delivery, adapter.refund_from_json(doc).refund)
        return
    restored = (receipt.topic or "").lower() == "order.restored"
    order.receive(delivery, adapter.order_from_json(doc), restored=restored)


async def _fresh(conn: Any, live: Order, receipts: list[Any]) -> tuple[Order, list[str]]:
    fresh = Order.open(live.user_id, live.platform, live.external_id)
    unreadable = []
    for receipt in receipts:
        body = await conn.fetchval(
            "SELECT body FROM raw_deliveries WHERE sha256 = $1", receipt.body_sha256
        )
        try:
            _reread(fresh, receipt, bytes(body))
        except PayloadError as err:
            unreadable.append(f"{receipt.body_sha256[:12]}: {err}")
    return fresh, unreadable


async def _order_ids(conn: Any, user_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT o.originator_id FROM event_owners o"
        " JOIN stored_events e ON e.notification_id = o.notification_id"
        " WHERE o.user_id = $1 AND e.topic = $2 ORDER BY 1",
        user_id,
        "aggregates.order:Order.Opened",
    )
    return [r["originator_id"] for r in rows]


async def reprocess_order(
    pool: asyncpg.Pool, store: EventStore, order_id: UUID, since: datetime | None, dry_run: bool
) -> Correction | None:
    for _ in range(10):
        async with pool.acquire() as conn:
            history = await store.load(conn, order_id)
            live: Order = replay(history)
            receipts = [e for e in history if isinstance(e, Order.OrderReceived)]
            if since is not None and not any(r.received_at >= since for r in receipts):
                return None
            fresh, unreadable = await _fresh(conn, live, receipts)
            found = live.correct(fresh, REASON, code_version())
            if not found:
                return None
            if not dry_run:
                try:
                    async with conn.transaction():
                        await store.append(conn, live.collect_events())
                except ConcurrencyConflictError:
                    continue  # a delivery arrived meanwhile: read it all again
            return Correction(order_id, live.external_id, found, unreadable)
    raise ConcurrencyConflictError(f"order {order_id}: too busy to reprocess")


async def reprocess(
    pool: asyncpg.Pool,
    user_id: UUID,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
) -> list[Correction]:
    """Corrections for every order of the user (only orders with a delivery since ``since``)."""
    store = EventStore()
    async with pool.acquire() as conn:
        order_ids = await _order_ids(conn, user_id)
    corrections = []
    for order_id in order_ids:
        correction = await reprocess_order(pool, store, order_id, since, dry_run)
        if correction is not None:
            corrections.append(correction)
    return corrections
