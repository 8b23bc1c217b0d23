"""Reprocess: re-read a user's stored deliveries with the current code and append corrections.

For a bug in how deliveries were interpreted (an adapter or an aggregate rule), whose events
are immutable: every order's stored raw bodies are replayed, in the order they were received,
through the current adapters into a fresh aggregate; where that reading differs from the
ledger's, ``Order.correct`` appends the events that bring the ledger to it, naming the reason
and the code version. Every product delivery is read again the same way, and
``Product.correct`` restates those that now read otherwise (and the later ones, in order).
Nothing is edited or deleted, and a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from aggregates.order import Order
from aggregates.order_commands import find_deletion
from aggregates.product import Product
from aggregates.values import Delivery, ProductSnapshot
from projections.base import Recorded
from service.adapters.body import parse_json
from service.adapters.common import PayloadError
from service.adapters.registry import PLATFORMS
from service.projecting.caught_up import user_head, wait_applied
from service.store.eventstore import EventStore, replay
from service.store.write import history_events, write

REASON = "deliveries re-read with the current adapters and rules"


def code_version() -> str:
    try:
        return f"pyme-ledger {metadata.version('pyme-ledger')}"
    except metadata.PackageNotFoundError:
        return "pyme-ledger (not installed)"


@dataclass(frozen=True)
class Correction:
    kind: str  # "order" or "product"
    aggregate_id: UUID
    external_id: str
    differences: list[str]
    unreadable: list[str]


def _reread(order: Order, receipt: Any, body: bytes) -> None:
    """Feed one stored delivery to ``order`` as the current code reads it."""
    adapter = PLATFORMS[order.platform]
    delivery = Delivery.of(receipt)
    if receipt.kind == "repeat":  # a retry of an event already read: it changed nothing
        return
    if receipt.kind == "deletion":
        order.receive_deletion(delivery)
        return
    if receipt.kind == "lookup":  # the API's answer that the order does not exist
        find_deletion(order, delivery)
        return
    doc = parse_json(body, receipt.headers.get("content-encoding"))
    if receipt.kind == "refund":
        order.receive_refund(delivery, adapter.refund_from_json(doc).refund)
        return
    restored = (receipt.topic or "").lower() in adapter.RESTORE_TOPICS
    order.receive(delivery, adapter.order_from_json(doc), restored=restored)


async def _fresh(conn: Any, live: Order, receipts: list[Any]) -> tuple[Order, list[str]]:
    fresh = Order.open(live.user_id, live.platform, live.external_id)
    unreadable = []
    for receipt in receipts:
        body = await _body(conn, receipt.body_sha256)
        try:
            _reread(fresh, receipt, body)
        except PayloadError as err:
            unreadable.append(f"{receipt.body_sha256[:12]}: {err}")
    return fresh, unreadable


# Seconds to wait for the owners projection to show the user's latest events.
OWNERS_WAIT = 30.0


class ProjectionBehindError(Exception):
    """The projection a command reads from has not caught up with the user's writes."""


async def _aggregate_ids(conn: Any, user_id: UUID, opened: type) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT o.originator_id FROM event_owners o"
        " JOIN stored_events e ON e.notification_id = o.notification_id"
        " WHERE o.user_id = $1 AND e.topic = $2 ORDER BY 1",
        user_id,
        get_topic(opened),
    )
    return [r["originator_id"] for r in rows]


async def _body(conn: Any, sha256: str) -> bytes:
    return bytes(await conn.fetchval("SELECT body FROM raw_deliveries WHERE sha256 = $1", sha256))


def _received_since(receipts: list[Any], since: datetime | None) -> bool:
    return since is None or any(r.received_at >= since for r in receipts)


# What to make of an aggregate's history: the aggregate holding the corrections, and what
# they are; None when nothing needs correcting.
Attempt = Callable[[Any, list[Any]], Awaitable[tuple[Any, Correction] | None]]


async def _reprocess_one(
    pool: asyncpg.Pool,
    store: EventStore,
    user_id: UUID,
    aggregate_id: UUID,
    dry_run: bool,
    attempt: Attempt,
) -> Correction | None:
    """Run ``attempt`` on the aggregate's history; append what it triggered unless a dry run.
    A delivery arriving meanwhile makes the append conflict: then all is read again."""
    async with pool.acquire() as conn:

        async def decide(history: list[Recorded]) -> tuple[Any, Correction | None]:
            found = await attempt(conn, history_events(history))
            if found is None:
                return None, None
            live, correction = found
            return (None if dry_run else live), correction

        written = await write(conn, store, aggregate_id, decide, user_id=user_id)
    return written.result


def _order_attempt(since: datetime | None) -> Attempt:
    async def attempt(conn: Any, history: list[Any]) -> tuple[Any, Correction] | None:
        live: Order = replay(history)
        receipts = [e for e in history if isinstance(e, Order.OrderReceived)]
        if not _received_since(receipts, since):
            return None
        fresh, unreadable = await _fresh(conn, live, receipts)
        found = live.correct(fresh, REASON, code_version())
        if not found:
            return None
        return live, Correction("order", live.id, live.external_id, found, unreadable)

    return attempt


def _product_attempt(since: datetime | None) -> Attempt:
    async def attempt(conn: Any, history: list[Any]) -> tuple[Any, Correction] | None:
        live: Product = replay(history)
        # Corrections restate deliveries; only the deliveries themselves are read again.
        deliveries = [e for e in history if type(e) is Product.ProductUpdated]
        if not _received_since(deliveries, since):
            return None
        reread, unreadable = await _reread_products(conn, live, deliveries)
        found = live.correct(reread, REASON, code_version())
        if not found:
            return None
        return live, Correction("product", live.id, live.external_id, found, unreadable)

    return attempt


async def _reread_products(
    conn: Any, live: Product, deliveries: list[Any]
) -> tuple[list[tuple[int, Delivery, ProductSnapshot | None]], list[str]]:
    """Each delivery as the current code reads it; None where it cannot, which keeps the
    recorded reading (restated as such after a difference, so the log still ends on the
    latest delivery)."""
    adapter = PLATFORMS[live.platform]
    reread: list[tuple[int, Delivery, ProductSnapshot | None]] = []
    unreadable = []
    for e in deliveries:
        snapshot: ProductSnapshot | None = None
        try:
            doc = parse_json(await _body(conn, e.body_sha256), e.headers.get("content-encoding"))
            snapshot = adapter.product_from_json(doc)
        except PayloadError as err:
            unreadable.append(f"{e.body_sha256[:12]}: {err}")
        if snapshot is not None and snapshot.external_id != live.external_id:
            # Moving a delivery to another product is beyond a correction: reported only.
            unreadable.append(f"{e.body_sha256[:12]}: now reads as {snapshot.product_ref}")
            snapshot = None
        reread.append((e.originator_version, Delivery.of(e), snapshot))
    return reread, unreadable


async def reprocess(
    pool: asyncpg.Pool,
    store: EventStore,
    user_id: UUID,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
) -> list[Correction]:
    """Corrections for every order and product of the user (only those with a delivery
    since ``since``), orders first."""
    async with pool.acquire() as conn:
        # The user's aggregates are listed from the owners projection: it must show them all.
        head = await user_head(conn, user_id)
        if head is not None and not await wait_applied(conn, ["owners"], head, OWNERS_WAIT):
            raise ProjectionBehindError(
                "the owners projection has not applied this user's latest events: is a"
                " projection runner running (ledger serve, or ledger projections run)?"
            )
        order_ids = await _aggregate_ids(conn, user_id, Order.Opened)
        product_ids = await _aggregate_ids(conn, user_id, Product.Opened)
    work = [(i, _order_attempt(since)) for i in order_ids]
    work += [(i, _product_attempt(since)) for i in product_ids]
    corrections = []
    for aggregate_id, attempt in work:
        correction = await _reprocess_one(pool, store, user_id, aggregate_id, dry_run, attempt)
        if correction is not None:
            corrections.append(correction)
    return corrections
