"""From one authenticated delivery to events in the log: the application service.

Verify the signature (when the user set a secret), check the delivery comes from the store
bound to this connection, parse with the platform's adapter, load the aggregate, let it
decide, append what it decided (binding the store, if none was, in the same transaction: only
a delivery that reached the ledger binds). All of it on one connection (``IntakeStore``), the
write through the one write path (service/store/write.py). A body we cannot use is kept in
the inbox; when even that cannot be done, the answer says so. An answer names what happened
(``outcome``); the HTTP edge chooses the status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID

from aggregates.order import Order
from aggregates.order_commands import Outcome as OrderOutcome
from aggregates.order_commands import find_deletion
from aggregates.product import Product, ProductOutcome
from aggregates.values import Delivery
from projections.base import Recorded
from service.accounts import secrets
from service.adapters.body import check_lines, parse_json
from service.adapters.common import PayloadError, shown
from service.adapters.platform import Platform
from service.adapters.registry import PLATFORMS
from service.intake.delivery import SpooledDelivery
from service.intake.keeping import IntakeStore, StoresFactory, UnexpectedSourceError
from service.store.eventstore import replay
from service.store.write import history_events

# How a delivery was authenticated, as its receipt event records it.
UNVERIFIED = "unverified"  # no signing secret set: the token in the URL is the only proof
SIGNATURE_VALID = secrets.SIGNATURE_VALID
# What an answer can say happened. Recorded: the aggregate decided (new events or none).
RECORDED: frozenset[str] = frozenset(get_args(OrderOutcome)) | frozenset(get_args(ProductOutcome))
# Kept to be recorded later: in the inbox, until reprocessed, or in the spool, until the
# database is back (spooled) or has room (queued); and the ping, which is kept only.
KEPT = frozenset({"quarantined", "spooled", "queued"})
# Left out of the ledger: a body not even kept (the inbox full), a signature refused.
REFUSED = frozenset({"quarantined", "not_kept", "invalid_signature"})
OUTCOMES = RECORDED | KEPT | REFUSED | {"ping"}


@dataclass(frozen=True)
class Answer:
    """What became of a delivery (``outcome``: ``recorded``, ``quarantined``, ...), what to
    tell the platform, and the log position the answer's events reached; for the delivery
    log, the positions of every event it appended, how it was verified (None: not checked)
    and the delivery itself (the intake sets it)."""

    outcome: str
    body: dict[str, Any]
    notification_id: int | None = None
    positions: tuple[int, ...] = ()
    verification: str | None = None
    delivery: SpooledDelivery | None = None


PING = Answer("ping", {"status": "ping"})
# Kept in the local spool while the database is down, recorded once it is back.
SPOOLED = Answer("spooled", {"status": "spooled"})
# Kept in the local spool because it could not be recorded in time (overload), recorded as
# soon as there is room.
QUEUED = Answer("queued", {"status": "queued"})


class Ingestor:
    def __init__(self, stores: StoresFactory, *, max_lines: int) -> None:
        self.stores = stores
        self.max_lines = max_lines

    async def ingest(self, d: SpooledDelivery, *, keep_rejected: bool = True) -> Answer:
        """Record one delivery. ``keep_rejected=False`` (reprocessing) reports a delivery
        that still cannot be used instead of filing it in the inbox again."""
        async with self.stores() as store:
            if d.kind == "ping":
                await store.keep_ping(d)
                return PING
            return await self._ingest(store, d, keep_rejected)

    async def ingest_pulled(
        self, d: SpooledDelivery, delivery: Delivery, what: str, external_id: str = ""
    ) -> Answer:
        """Record one object pulled from the platform's API (service/backfill/), its receipt
        (``delivery``) naming the answer it came from. No signature to check: the API
        answered this service's own authenticated request. ``what``: ``order``, ``product``,
        ``order_trashed`` (listed by the trash scan: marked as a deletion notice marks it)
        or ``order_gone`` (``d.body``: the answer that order ``external_id`` does not
        exist). A body that cannot be used is reported, not filed in the inbox (whose
        reprocessing is the webhook's path): the next backfill pulls it again."""
        async with self.stores() as store:
            if what == "order_gone":
                return await _order(
                    store, d, delivery, external_id, lambda o: find_deletion(o, delivery)
                )
            try:
                doc = parse_json(d.body, None)
                check_lines(doc, self.max_lines)
                answer = await _record(store, PLATFORMS[d.platform], what, d, delivery, doc)
            except PayloadError as err:
                answer = await self._reject(store, d, err, False)
            return replace(answer, verification=delivery.verification)

    async def _ingest(self, store: IntakeStore, d: SpooledDelivery, keep: bool) -> Answer:
        verification = await _verification(store, d)
        answer = await self._decide(store, d, verification, keep)
        return replace(answer, verification=verification)

    async def _decide(
        self, store: IntakeStore, d: SpooledDelivery, verification: str, keep: bool
    ) -> Answer:
        platform = PLATFORMS[d.platform]
        if verification not in (SIGNATURE_VALID, UNVERIFIED):
            return await _refuse_signature(store, platform, d, verification, keep)
        delivery = platform.delivery_from_headers(
            d.headers,
            received_at=d.received_at,
            verification=verification,
            body_sha256=d.body_sha256,
        )
        try:
            source = delivery.source
            if source is not None and not await store.may_come_from(d.user_id, d.platform, source):
                raise _unexpected_source(source)
            doc = parse_json(d.body, d.headers.get("content-encoding"))
            what = platform.classify(delivery.topic, doc, d.kind)
            check_lines(doc, self.max_lines)
            return await _record(store, platform, what, d, delivery, doc)
        except UnexpectedSourceError:
            return await self._reject(store, d, _unexpected_source(delivery.source), keep)
        except PayloadError as err:
            return await self._reject(store, d, err, keep)

    async def _reject(
        self, store: IntakeStore, d: SpooledDelivery, err: PayloadError, keep: bool
    ) -> Answer:
        body: dict[str, Any] = {
            "status": "quarantined",
            "reason": err.reason,
            "field": err.field,
            "detail": err.detail,
        }
        if not keep:
            return Answer("quarantined", body)
        body["inbox_id"] = await store.keep_quarantined(d, err)
        if body["inbox_id"] is None:
            # Never "quarantined" for a body that was not kept. Still a 2xx: a refusal
            # would only make the platform disable the webhook for what comes next.
            body["status"] = "not_kept"
            body["not_kept"] = (
                f"the inbox already holds {store.inbox_limit} open entries"
                " (LEDGER_INBOX_MAX_PER_USER): reprocess or dismiss some"
            )
        return Answer(body["status"], body)


async def _verification(store: IntakeStore, d: SpooledDelivery) -> str:
    """How the delivery authenticates: unverified (no secret set), or the signature's check."""
    now = datetime.now(UTC)
    candidates = await store.signing_secrets(d.user_id, d.platform, now)
    if not candidates:
        return UNVERIFIED
    verification = secrets.verify(d.platform, d.headers, d.body, candidates)
    if verification != SIGNATURE_VALID:
        # Never refused on a cached copy: a secret set a moment ago counts.
        candidates = await store.signing_secrets(d.user_id, d.platform, now, fresh=True)
        if not candidates:
            return UNVERIFIED
        verification = secrets.verify(d.platform, d.headers, d.body, candidates)
    return verification


async def _record(
    store: IntakeStore,
    platform: Platform,
    what: str,
    d: SpooledDelivery,
    delivery: Delivery,
    doc: Any,
) -> Answer:
    restored = (delivery.topic or "").lower() in platform.RESTORE_TOPICS
    if what == "order":
        snapshot = platform.order_from_json(doc)
        return await _order(
            store,
            d,
            delivery,
            snapshot.external_id,
            lambda o: o.receive(delivery, snapshot, restored=restored),
        )
    if what == "order_trashed":
        trashed = platform.order_from_json(doc)
        return await _order(
            store, d, delivery, trashed.external_id, lambda o: o.receive_deletion(delivery)
        )
    if what == "order_deleted":
        gone = platform.deleted_from_json(doc)
        return await _order(
            store, d, delivery, gone.external_id, lambda o: o.receive_deletion(delivery)
        )
    if what == "refund":
        refund = platform.refund_from_json(doc)
        return await _order(
            store,
            d,
            delivery,
            refund.order_external_id,
            lambda o: o.receive_refund(delivery, refund.refund),
        )
    if what == "product":
        product = platform.product_from_json(doc)
        return await _product(
            store,
            d,
            delivery,
            product.external_id,
            lambda p: p.update(delivery, product, restored=restored),
        )
    gone = platform.deleted_from_json(doc)
    return await _product(store, d, delivery, gone.external_id, lambda p: p.delete(delivery))


async def _order(
    store: IntakeStore,
    d: SpooledDelivery,
    delivery: Delivery,
    external_id: str,
    command: Callable[[Order], str],
) -> Answer:
    order_id, outcome, positions = await _write(store, d, delivery, Order, external_id, command)
    body = {"status": outcome, "sale_id": str(order_id), "external_id": external_id}
    return Answer(outcome, body, positions[-1] if positions else None, positions)


async def _product(
    store: IntakeStore,
    d: SpooledDelivery,
    delivery: Delivery,
    external_id: str,
    command: Callable[[Product], str],
) -> Answer:
    _, outcome, positions = await _write(store, d, delivery, Product, external_id, command)
    body = {"status": outcome, "product_ref": f"{d.platform}:{external_id}"}
    return Answer(outcome, body, positions[-1] if positions else None, positions)


async def _write(
    store: IntakeStore,
    d: SpooledDelivery,
    delivery: Delivery,
    kind: type[Order] | type[Product],
    external_id: str,
    command: Callable[[Any], str],
) -> tuple[UUID, str, tuple[int, ...]]:
    """Decide with the delivery's aggregate (opened if new) and record what it decided:
    the aggregate's id, the outcome, and the positions of the events it appended."""
    aggregate_id = kind.create_id(d.user_id, d.platform, external_id)

    async def decide(history: list[Recorded]) -> tuple[Any, str]:
        events = history_events(history)
        aggregate = replay(events) if events else kind.open(d.user_id, d.platform, external_id)
        return aggregate, command(aggregate)

    raw = (d.body_sha256, d.body)
    written = await store.write(aggregate_id, decide, raw, (d.user_id, d.platform, delivery.source))
    return aggregate_id, written.result, written.positions


async def _refuse_signature(
    store: IntakeStore, platform: Platform, d: SpooledDelivery, outcome: str, keep: bool
) -> Answer:
    header = platform.SIGNATURE_HEADER
    detail = (
        f"{header} is missing"
        if outcome == secrets.MISSING_SIGNATURE
        else f"{header} does not match the body signed with this connection's secret"
    )
    body: dict[str, Any] = {"error": "invalid_signature", "detail": detail}
    if keep:
        # Their own bounded room, oldest out first: a flood of unsigned junk posted with the
        # token alone never takes the room of deliveries the ledger needs.
        body["inbox_id"] = await store.keep_signature_failure(d, detail)
    return Answer("invalid_signature", body)


def _unexpected_source(source: str | None) -> PayloadError:
    return PayloadError(
        "unexpected_source",
        None,
        f"the delivery names store {shown(source, 80)}, not the one this connection is bound to"
        " (ledger users show / unbind-store)",
    )
