"""Stock corrections as events: adjustments by hand, and reconciliation with the platform's
own counts.

Idempotency rests on the event table's primary key, as for deliveries (service/store/write.py):
the adjustment's id comes from the caller's key, so two writers with one key race for the
same aggregate versions and exactly one commits; the other reloads and sees a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import asyncpg

from aggregates.stock_adjustment import (
    AdjustmentConflictError,
    AdjustmentOutcome,
    InvalidAdjustmentError,
    StockAdjustment,
    check_adjustment,
    check_key,
    check_product_ref,
)
from projections import stock_queries
from projections.base import Recorded
from service.projecting.caught_up import user_head, wait_applied
from service.store.db import connection
from service.store.eventstore import EventStore, replay
from service.store.write import history_events, write

# Seconds an adjustment waits for the stock projection to show the user's own writes.
STOCK_WAIT = 5.0


class UnknownProductError(LookupError):
    """The ledger has never seen this product: adjust it with create (the API's
    "create": true, the CLI's --create) if it is meant."""


@dataclass(frozen=True)
class Adjustment:
    """What became of one adjustment request; ``notification_id`` is its event's position."""

    status: AdjustmentOutcome | Literal["refused"]
    adjustment_id: UUID
    product_ref: str
    by: int
    # None: a reconciliation already made for this report, under other terms (see reconcile).
    notification_id: int | None


async def adjust(
    pool: asyncpg.Pool,
    store: EventStore,
    user_id: UUID,
    key: str,
    product_ref: str,
    by: int,
    reason: str,
    actor: str,
    *,
    create: bool = False,
) -> Adjustment:
    """Append one ``StockAdjusted`` for this key, or report the one already appended.

    Raises InvalidAdjustmentError for bad input (before touching the database),
    UnknownProductError for a product the ledger has never seen (unless ``create``: a typo
    would otherwise make a phantom product) and AdjustmentConflictError when the key was
    used for another adjustment.
    """
    check_key(key)
    check_product_ref(product_ref)
    check_adjustment(by, reason)
    if not create:
        async with connection(pool) as conn:
            # A product whose first delivery was answered a moment ago exists: wait for the
            # stock projection to show the user's writes (bounded; then it is looked up).
            head = await user_head(conn, user_id)
            if head is not None:
                await wait_applied(conn, ["stock"], head, STOCK_WAIT)
            if await stock_queries.get_stock(conn, user_id, product_ref) is None:
                raise UnknownProductError(product_ref)
    adjustment_id = StockAdjustment.create_id(user_id, key)

    async def decide(history: list[Recorded]) -> tuple[StockAdjustment, AdjustmentOutcome]:
        events = history_events(history)
        aggregate = replay(events) if events else StockAdjustment.open(user_id, key)
        return aggregate, aggregate.adjust(product_ref, by, reason, actor)

    async with connection(pool) as conn:
        written = await write(conn, store, adjustment_id, decide, user_id=user_id)
    assert written.last is not None  # an adjustment has at least its own event
    return Adjustment(written.result, adjustment_id, product_ref, by, written.last)


@dataclass(frozen=True)
class Discrepancy:
    """A product whose ledger stock differs from the count the platform last reported.

    ``reported_at`` is the platform's own time of that count (the product's modification
    time); ``recorded_at`` is when the ledger recorded the report, which names it for good.
    """

    product_ref: str
    name: str | None
    ledger: int
    reported: int
    reported_at: datetime
    recorded_at: datetime

    @property
    def by(self) -> int:
        """The drift: the platform's count less the ledger's level."""
        return self.reported - self.ledger

    @property
    def reported_at_text(self) -> str:
        return self.reported_at.astimezone(UTC).isoformat()

    @property
    def reason(self) -> str:
        return f"reconcile to platform count {self.reported} reported at {self.reported_at_text}"

    @property
    def key(self) -> str:
        """The same report of the same product always gives the same key: applied once. (It
        is the key of ledgers before reports showed the platform's time, which named a
        report by when it was recorded, so a report reconciled then is not applied again.)"""
        recorded = self.recorded_at.astimezone(UTC).isoformat()
        seed = f"{self.product_ref}\x1f{recorded}\x1f{self.reported}"
        return "reconcile:" + hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()


async def discrepancies(pool: asyncpg.Pool, user_id: UUID) -> list[Discrepancy]:
    async with connection(pool) as conn:
        rows = await stock_queries.discrepancies(conn, user_id)
    return [
        Discrepancy(
            r["product_ref"],
            r["name"],
            int(r["quantity"]),
            int(r["platform_reported_quantity"]),
            r["platform_reported_at"],
            r["report_recorded_at"],
        )
        for r in rows
    ]


async def reconcile(
    pool: asyncpg.Pool, store: EventStore, user_id: UUID, found: list[Discrepancy], actor: str
) -> list[Adjustment]:
    """Bring each product to the platform's count, once per report.

    The key names the report, so a report already reconciled is never applied again, even
    when the ledger has moved since (a sale whose new count the platform has not reported
    yet) or an earlier version worded the reason otherwise: that is a duplicate, not an
    error that stops the other products.
    """
    done = []
    for d in found:
        aggregate_id = StockAdjustment.create_id(user_id, d.key)
        try:
            done.append(
                await adjust(pool, store, user_id, d.key, d.product_ref, d.by, d.reason, actor)
            )
        except AdjustmentConflictError:
            done.append(Adjustment("duplicate", aggregate_id, d.product_ref, d.by, None))
        except InvalidAdjustmentError:
            # A reference no adjustment can take (beyond what deliveries make): left alone,
            # and reported, so that it does not stop the other products.
            done.append(Adjustment("refused", aggregate_id, d.product_ref, d.by, None))
    return done
