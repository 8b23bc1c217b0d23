"""From one authenticated delivery to events in the log: the application service.

Parse with the platform's adapter, load the aggregate, let it decide, append what it
decided. Idempotency and concurrency both rest on the event table's primary key: a writer
that lost the race for an aggregate version reloads and decides again, so concurrent copies
of one order end in exactly one sale. A body we cannot use is kept in the inbox, never lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from aggregates.order import Order
from aggregates.product import Product
from aggregates.values import Delivery
from service import inbox
from service.adapters import shopify, woocommerce
from service.adapters.common import PayloadError, parse_json
from service.db import connection
from service.eventstore import ConcurrencyConflictError, EventStore
from service.spool import SpooledDelivery

# Each conflict means another writer made progress on the same aggregate, so this bounds
# the wait of the slowest of that many concurrent copies.
MAX_ATTEMPTS = 32

ADAPTERS: dict[str, Any] = {"woocommerce": woocommerce, "shopify": shopify}

# The receipt events record how a delivery was authenticated. Until signing secrets exist,
# the token in the URL is the only proof.
UNVERIFIED = "unverified"


class UnsupportedEndpointError(Exception):
    """This platform has no such webhook endpoint."""


@dataclass(frozen=True)
class Answer:
    """What to tell the platform, and the log position the answer's events reached."""

    http_status: int
    body: dict[str, Any]
    notification_id: int | None = None


PING = Answer(200, {"status": "ping"})


class Ingestor:
    def __init__(self, pool: asyncpg.Pool, store: EventStore) -> None:
        self.pool = pool
        self.store = store

    async def ingest(self, d: SpooledDelivery, *, keep_rejected: bool = True) -> Answer:
        """Record one delivery. ``keep_rejected=False`` (reprocessing) reports a body that
        still cannot be used instead of filing it in the inbox again."""
        if d.kind == "ping":
            async with connection(self.pool) as conn:
                await inbox.keep(conn, d, kind="ping")
            return PING
        adapter = ADAPTERS[d.platform]
        try:
            doc = parse_json(d.body, d.headers.get("content-encoding"))
            snapshot = _parse(adapter, d.kind, doc)
        except PayloadError as err:
            return await self._reject(d, err, keep_rejected)
        delivery = adapter.delivery_from_headers(
            d.headers,
            received_at=d.received_at,
            verification=UNVERIFIED,
            body_sha256=hashlib.sha256(d.body).hexdigest(),
        )
        if d.kind == "order":
            return await self._order(d, delivery, snapshot)
        return await self._product(d, delivery, snapshot)

    async def _order(self, d: SpooledDelivery, delivery: Delivery, snapshot: Any) -> Answer:
        order_id = Order.create_id(d.user_id, snapshot.platform, snapshot.external_id)
        outcome, position = await self._decide(
            order_id,
            lambda: Order.open(d.user_id, snapshot),
            lambda order: order.receive(delivery, snapshot),
            (delivery.body_sha256, d.body),
        )
        body = {"status": outcome, "sale_id": str(order_id), "external_id": snapshot.external_id}
        return Answer(200, body, position)

    async def _product(self, d: SpooledDelivery, delivery: Delivery, snapshot: Any) -> Answer:
        product_id = Product.create_id(d.user_id, snapshot.platform, snapshot.external_id)
        outcome, position = await self._decide(
            product_id,
            lambda: Product.open(d.user_id, snapshot),
            lambda product: product.update(delivery, snapshot),
            (delivery.body_sha256, d.body),
        )
        body = {"status": outcome, "product_ref": snapshot.product_ref}
        return Answer(200, body, position)

    async def _decide(
        self,
        aggregate_id: UUID,
        create: Callable[[], Any],
        command: Callable[[Any], str],
        raw_body: tuple[str, bytes],
    ) -> tuple[str, int | None]:
        for _ in range(MAX_ATTEMPTS):
            async with connection(self.pool) as conn:
                history = await self.store.load(conn, aggregate_id)
                aggregate = _replay(history) if history else create()
                outcome = command(aggregate)
                pending = aggregate.collect_events()
                if not pending:
                    return outcome, None
                try:
                    async with conn.transaction():
                        positions = await self.store.append(conn, pending, raw_body)
                except ConcurrencyConflictError:
                    continue
                return outcome, positions[-1]
        raise ConcurrencyConflictError(f"aggregate {aggregate_id}: too many concurrent writers")

    async def _reject(self, d: SpooledDelivery, err: PayloadError, keep: bool) -> Answer:
        body: dict[str, Any] = {
            "status": "quarantined",
            "reason": err.reason,
            "field": err.field,
            "detail": err.detail,
        }
        if keep:
            async with connection(self.pool) as conn:
                body["inbox_id"] = await inbox.keep(
                    conn,
                    d,
                    kind="quarantined",
                    reason=err.reason,
                    field=err.field,
                    detail=err.detail,
                )
        return Answer(202, body)


def _parse(adapter: Any, kind: str, doc: Any) -> Any:
    if kind == "order":
        return adapter.order_from_json(doc)
    if kind == "product" and hasattr(adapter, "product_from_json"):
        return adapter.product_from_json(doc)
    raise UnsupportedEndpointError(kind)


def _replay(history: list[Any]) -> Any:
    aggregate = None
    for event in history:
        aggregate = event.mutate(aggregate)
    return aggregate
