"""From one authenticated delivery to events in the log: the application service.

Verify the signature (when the user set a secret), check the delivery comes from the store
bound to this connection, parse with the platform's adapter, load the aggregate, let it
decide, append what it decided. Idempotency and concurrency both rest on the event table's
primary key: a writer that lost the race for an aggregate version reloads and decides again,
so concurrent copies of one order end in exactly one sale. A body we cannot use is kept in
the inbox, never lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from aggregates.order import Order
from aggregates.product import Product
from aggregates.values import Delivery
from service import bindings, inbox, secrets
from service.adapters import shopify, woocommerce
from service.adapters.common import PayloadError, parse_json
from service.db import connection
from service.eventstore import ConcurrencyConflictError, EventStore, replay
from service.spool import SpooledDelivery

# Each conflict means another writer made progress on the same aggregate, so this bounds
# the wait of the slowest of that many concurrent copies.
MAX_ATTEMPTS = 32

ADAPTERS: dict[str, Any] = {"woocommerce": woocommerce, "shopify": shopify}

# How a delivery was authenticated, as its receipt event records it.
UNVERIFIED = "unverified"  # no signing secret set: the token in the URL is the only proof
SIGNATURE_VALID = "signature_valid"


@dataclass(frozen=True)
class Answer:
    """What to tell the platform, and the log position the answer's events reached."""

    http_status: int
    body: dict[str, Any]
    notification_id: int | None = None


PING = Answer(200, {"status": "ping"})


class Ingestor:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, inbox_limit: int = 1000) -> None:
        self.pool = pool
        self.store = store
        self.inbox_limit = inbox_limit

    async def ingest(self, d: SpooledDelivery, *, keep_rejected: bool = True) -> Answer:
        """Record one delivery. ``keep_rejected=False`` (reprocessing) reports a delivery
        that still cannot be used instead of filing it in the inbox again."""
        if d.kind == "ping":
            async with connection(self.pool) as conn:
                await inbox.keep(conn, d, kind="ping", limit=self.inbox_limit)
            return PING
        adapter = ADAPTERS[d.platform]
        sha256 = hashlib.sha256(d.body).hexdigest()
        async with connection(self.pool) as conn:
            candidates = await secrets.secrets_for(conn, d.user_id, d.platform, _now())
        verification = UNVERIFIED
        if candidates:
            verification = secrets.verify(d.platform, d.headers, d.body, candidates)
            if verification != SIGNATURE_VALID:
                return await self._refuse_signature(d, verification, keep_rejected)
        delivery = adapter.delivery_from_headers(
            d.headers, received_at=d.received_at, verification=verification, body_sha256=sha256
        )
        try:
            if not await self._from_bound_store(d, delivery):
                raise PayloadError(
                    "unexpected_source",
                    None,
                    f"the delivery names store {delivery.source!r}, not the one this "
                    "connection is bound to (ledger users show / unbind-store)",
                )
            doc = parse_json(d.body, d.headers.get("content-encoding"))
            what = _classify(adapter, d, delivery.topic, doc)
            return await self._record(adapter, what, d, delivery, doc)
        except PayloadError as err:
            return await self._reject(d, err, keep_rejected)

    async def _record(
        self, adapter: Any, what: str, d: SpooledDelivery, delivery: Delivery, doc: Any
    ) -> Answer:
        if what == "order":
            snapshot = adapter.order_from_json(doc)
            restored = (delivery.topic or "").lower() == "order.restored"
            return await self._order(
                d, snapshot.external_id, lambda o: o.receive(delivery, snapshot, restored=restored)
            )
        if what == "order_deleted":
            gone = adapter.deleted_from_json(doc)
            return await self._order(d, gone.external_id, lambda o: o.receive_deletion(delivery))
        if what == "refund":
            refund = adapter.refund_from_json(doc)
            return await self._order(
                d, refund.order_external_id, lambda o: o.receive_refund(delivery, refund.refund)
            )
        if what == "product":
            snapshot = adapter.product_from_json(doc)
            restored = (delivery.topic or "").lower() in ("product.restored",)
            return await self._product(
                d, snapshot.external_id, lambda p: p.update(delivery, snapshot, restored=restored)
            )
        gone = adapter.deleted_from_json(doc)
        return await self._product(d, gone.external_id, lambda p: p.delete(delivery))

    async def _from_bound_store(self, d: SpooledDelivery, delivery: Delivery) -> bool:
        if delivery.source is None:
            return True
        async with connection(self.pool) as conn:
            return await bindings.check_source(conn, d.user_id, d.platform, delivery.source)

    async def _order(
        self, d: SpooledDelivery, external_id: str, command: Callable[[Order], str]
    ) -> Answer:
        order_id = Order.create_id(d.user_id, d.platform, external_id)
        outcome, position = await self._decide(
            order_id,
            lambda: Order.open(d.user_id, d.platform, external_id),
            command,
            d.body,
        )
        body = {"status": outcome, "sale_id": str(order_id), "external_id": external_id}
        return Answer(200, body, position)

    async def _product(
        self, d: SpooledDelivery, external_id: str, command: Callable[[Product], str]
    ) -> Answer:
        product_id = Product.create_id(d.user_id, d.platform, external_id)
        outcome, position = await self._decide(
            product_id,
            lambda: Product.open(d.user_id, d.platform, external_id),
            command,
            d.body,
        )
        body = {"status": outcome, "product_ref": f"{d.platform}:{external_id}"}
        return Answer(200, body, position)

    async def _decide(
        self,
        aggregate_id: UUID,
        create: Callable[[], Any],
        command: Callable[[Any], str],
        body: bytes,
    ) -> tuple[str, int | None]:
        raw = (hashlib.sha256(body).hexdigest(), body)
        for _ in range(MAX_ATTEMPTS):
            async with connection(self.pool) as conn:
                history = await self.store.load(conn, aggregate_id)
                aggregate = replay(history) if history else create()
                outcome = command(aggregate)
                pending = aggregate.collect_events()
                if not pending:
                    return outcome, None
                try:
                    async with conn.transaction():
                        positions = await self.store.append(conn, pending, raw)
                except ConcurrencyConflictError:
                    continue
                return outcome, positions[-1]
        raise ConcurrencyConflictError(f"aggregate {aggregate_id}: too many concurrent writers")

    async def _refuse_signature(self, d: SpooledDelivery, outcome: str, keep: bool) -> Answer:
        header = (
            "X-WC-Webhook-Signature" if d.platform == "woocommerce" else "X-Shopify-Hmac-Sha256"
        )
        detail = (
            f"{header} is missing"
            if outcome == "missing_signature"
            else f"{header} does not match the body signed with this connection's secret"
        )
        body: dict[str, Any] = {"error": "invalid_signature", "detail": detail}
        if keep:
            async with connection(self.pool) as conn:
                body["inbox_id"] = await inbox.keep(
                    conn,
                    d,
                    kind="quarantined",
                    reason="invalid_signature",
                    detail=detail,
                    limit=self.inbox_limit,
                )
        return Answer(401, body)

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
                    limit=self.inbox_limit,
                )
        return Answer(202, body)


def _classify(adapter: Any, d: SpooledDelivery, topic: str | None, doc: Any) -> str:
    if d.platform == "woocommerce":
        return str(adapter.classify(topic, doc, d.kind))
    return str(adapter.classify(topic, doc))


def _now() -> datetime:
    return datetime.now(UTC)
