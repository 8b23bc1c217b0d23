"""From one authenticated delivery to events in the log: the application service.

Verify the signature (when the user set a secret), check the delivery comes from the store
bound to this connection, parse with the platform's adapter, load the aggregate, let it
decide, append what it decided (binding the store, if none was, in the same transaction: only
a delivery that reached the ledger binds). Idempotency and concurrency both rest on the
event table's primary key: a writer that lost the race for an aggregate version reloads and
decides again, so concurrent copies of one order end in exactly one sale. A body we cannot
use is kept in the inbox; when even that cannot be done, the answer says so.
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
from service.accounts import bindings, secrets
from service.adapters import shopify, woocommerce
from service.adapters.body import check_lines, parse_json
from service.adapters.common import PayloadError, shown
from service.intake import inbox
from service.intake.spool import SpooledDelivery
from service.settings import Settings
from service.store.db import connection
from service.store.eventstore import ConcurrencyConflictError, EventStore, replay

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


class UnexpectedSourceError(Exception):
    """Another store bound the connection while this delivery was being recorded."""


class Ingestor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        inbox_limit: int = 1000,
        *,
        max_lines: int = 5000,
        signature_failures_kept: int = 200,
    ) -> None:
        self.pool = pool
        self.store = store
        self.inbox_limit = inbox_limit
        self.max_lines = max_lines
        self.signature_failures_kept = signature_failures_kept

    @classmethod
    def from_settings(cls, pool: asyncpg.Pool, store: EventStore, settings: Settings) -> Ingestor:
        return cls(
            pool,
            store,
            settings.inbox_max_per_user,
            max_lines=settings.max_lines,
            signature_failures_kept=settings.inbox_signature_failures,
        )

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
                raise _unexpected_source(delivery.source)
            doc = parse_json(d.body, d.headers.get("content-encoding"))
            what = _classify(adapter, d, delivery.topic, doc)
            check_lines(doc, self.max_lines)
            return await self._record(adapter, what, d, delivery, doc)
        except UnexpectedSourceError:
            return await self._reject(d, _unexpected_source(delivery.source), keep_rejected)
        except PayloadError as err:
            return await self._reject(d, err, keep_rejected)

    async def _record(
        self, adapter: Any, what: str, d: SpooledDelivery, delivery: Delivery, doc: Any
    ) -> Answer:
        if what == "order":
            snapshot = adapter.order_from_json(doc)
            restored = (delivery.topic or "").lower() == "order.restored"
            return await self._order(
                d,
                delivery.source,
                snapshot.external_id,
                lambda o: o.receive(delivery, snapshot, restored=restored),
            )
        if what == "order_deleted":
            gone = adapter.deleted_from_json(doc)
            return await self._order(
                d, delivery.source, gone.external_id, lambda o: o.receive_deletion(delivery)
            )
        if what == "refund":
            refund = adapter.refund_from_json(doc)
            return await self._order(
                d,
                delivery.source,
                refund.order_external_id,
                lambda o: o.receive_refund(delivery, refund.refund),
            )
        if what == "product":
            snapshot = adapter.product_from_json(doc)
            restored = (delivery.topic or "").lower() in ("product.restored",)
            return await self._product(
                d,
                delivery.source,
                snapshot.external_id,
                lambda p: p.update(delivery, snapshot, restored=restored),
            )
        gone = adapter.deleted_from_json(doc)
        return await self._product(
            d, delivery.source, gone.external_id, lambda p: p.delete(delivery)
        )

    async def _from_bound_store(self, d: SpooledDelivery, delivery: Delivery) -> bool:
        """Whether the delivery may come from its store: it names none, or the one bound,
        or none is bound yet (then recording it binds it, see ``_decide``)."""
        if delivery.source is None:
            return True
        async with connection(self.pool) as conn:
            return await bindings.may_come_from(conn, d.user_id, d.platform, delivery.source)

    async def _order(
        self,
        d: SpooledDelivery,
        source: str | None,
        external_id: str,
        command: Callable[[Order], str],
    ) -> Answer:
        order_id = Order.create_id(d.user_id, d.platform, external_id)
        outcome, position = await self._decide(
            order_id,
            lambda: Order.open(d.user_id, d.platform, external_id),
            command,
            d,
            source,
        )
        body = {"status": outcome, "sale_id": str(order_id), "external_id": external_id}
        return Answer(200, body, position)

    async def _product(
        self,
        d: SpooledDelivery,
        source: str | None,
        external_id: str,
        command: Callable[[Product], str],
    ) -> Answer:
        product_id = Product.create_id(d.user_id, d.platform, external_id)
        outcome, position = await self._decide(
            product_id,
            lambda: Product.open(d.user_id, d.platform, external_id),
            command,
            d,
            source,
        )
        body = {"status": outcome, "product_ref": f"{d.platform}:{external_id}"}
        return Answer(200, body, position)

    async def _decide(
        self,
        aggregate_id: UUID,
        create: Callable[[], Any],
        command: Callable[[Any], str],
        d: SpooledDelivery,
        source: str | None,
    ) -> tuple[str, int | None]:
        """Load, decide, append; the store ``source`` names is bound in the append's
        transaction, unless another one is (then nothing is appended)."""
        raw = (hashlib.sha256(d.body).hexdigest(), d.body)
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
                        if source is not None and not await bindings.check_source(
                            conn, d.user_id, d.platform, source
                        ):
                            raise UnexpectedSourceError()
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
                # Their own bounded room, oldest out first: a flood of unsigned junk posted
                # with the token alone never takes the room of deliveries the ledger needs.
                body["inbox_id"] = await inbox.keep_signature_failure(
                    conn, d, detail=detail, kept=self.signature_failures_kept
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
            if body["inbox_id"] is None:
                # Never "quarantined" for a body that was not kept. Still a 2xx: a refusal
                # would only make the platform disable the webhook for what comes next.
                body["status"] = "not_kept"
                body["not_kept"] = (
                    f"the inbox already holds {self.inbox_limit} open entries"
                    " (LEDGER_INBOX_MAX_PER_USER): reprocess or dismiss some"
                )
        return Answer(202, body)


def _unexpected_source(source: str | None) -> PayloadError:
    return PayloadError(
        "unexpected_source",
        None,
        f"the delivery names store {shown(source, 80)}, not the one this connection is bound to"
        " (ledger users show / unbind-store)",
    )


def _classify(adapter: Any, d: SpooledDelivery, topic: str | None, doc: Any) -> str:
    if d.platform == "woocommerce":
        return str(adapter.classify(topic, doc, d.kind))
    return str(adapter.classify(topic, doc))


def _now() -> datetime:
    return datetime.now(UTC)
