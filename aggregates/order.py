"""The order aggregate: one platform order of one user, from its first delivery on.

Every delivery with a new body is recorded as an ``OrderReceived`` fact (what the platform
said). Each is a snapshot built at send time; the aggregate compares it with what it has
recorded and appends only the difference (what we decided it means): ``SaleRecorded``,
``SaleAmended``, ``SaleStatusChanged``, ``RefundRecorded``, ``StockDeducted``,
``StockRestored``, ``DeletedOnPlatform``, ``RestoredOnPlatform``; each names the receipt that
caused it. A snapshot built before the latest one applied changes nothing but its refunds,
which are facts the platform never undoes. So the same deliveries, in any order and with any
repetitions, end in the same sale and the same stock.

Commands decide; each event's ``apply`` only assigns state, since it runs again on every
replay. (Events are triggered with ``trigger_event`` so that each class lists its fields once.)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.ids import order_id
from aggregates.lifecycle import (
    TRASH,
    deletion_is_trash,
    holds_stock,
    keeps_own_books,
    snapshot_key,
    stored_key,
)
from aggregates.order_correction import differences, plan, stock_moves
from aggregates.order_stock import Move, name_refund_restocks, plan_refund_restocks, plan_settle
from aggregates.values import (
    Customer,
    Delivery,
    OrderLine,
    OrderSnapshot,
    Refund,
    RefundLine,
)

Outcome = Literal["recorded", "updated", "duplicate", "stale", "received", "deleted", "restored"]
ReceiptKind = Literal["snapshot", "refund", "deletion", "repeat"]

# What identifies a line's stock movements (a restore repeats it exactly).
MOVEMENT_IDENTITY = (
    "line_key",
    "line_index",
    "line_id",
    "product_id",
    "variation_id",
    "sku",
    "product_ref",
    "name",
)

# The sale's own fields, as recorded and amended; compared to see what a snapshot changes.
SALE_FIELDS = (
    "customer",
    "lines",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "total",
    "currency",
    "payment_method",
)


class OrderMismatchError(ValueError):
    """The delivery belongs to another order than this aggregate."""


class Order(Aggregate):
    """A platform order. Its id is also the id of the sale it becomes."""

    @staticmethod
    def create_id(user_id: UUID, platform: str, external_id: str) -> UUID:
        return order_id(user_id, platform, external_id)

    class Opened(Aggregate.Created):
        user_id: UUID
        platform: str
        external_id: str

    class OrderReceived(Aggregate.Event):
        user_id: UUID
        platform: str
        external_id: str
        kind: str
        topic: str | None
        delivery_id: str | None
        webhook_id: str | None
        event_id: str | None
        source: str | None
        headers: dict[str, str]
        received_at: datetime
        verification: str
        body_sha256: str
        platform_status: str | None
        # What the status means to the ledger (None: a status we do not know).
        status: str | None
        # When the platform built this snapshot (its own clock): orders snapshots.
        modified_at: datetime | None

        def apply(self, aggregate: Any) -> None:
            aggregate.bodies.add(self.body_sha256)
            aggregate.receipts[self.originator_version] = self.body_sha256
            if self.kind == "snapshot" and self.platform_status is not None:
                aggregate.note_snapshot(
                    snapshot_key(
                        self.platform,
                        self.modified_at,
                        self.platform_status,
                        self.body_sha256,
                        self.originator_version,
                    ),
                    self.status,
                    self.platform_status,
                )

    class SaleDetailsEvent(Aggregate.Event):
        """The fields every sale-details event carries (never triggered itself)."""

        user_id: UUID
        receipt_version: int
        customer: Customer
        lines: tuple[OrderLine, ...]
        subtotal: Decimal
        shipping: Decimal
        tax: Decimal
        discount: Decimal
        total: Decimal
        currency: str | None
        payment_method: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.details = {name: getattr(self, name) for name in SALE_FIELDS}
            aggregate.details["lines"] = tuple(self.lines)

    class SaleRecorded(SaleDetailsEvent):
        status: str
        platform_status: str

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.sale_version = self.originator_version
            aggregate.sale_receipt = self.receipt_version
            aggregate.status = self.status
            aggregate.platform_status = self.platform_status

    class DetailsNoted(SaleDetailsEvent):
        """A newer snapshot of an order that is not a sale (yet): kept, so that the sale it
        may become (even through an older snapshot arriving late) shows the latest details."""

    class SaleAmended(SaleDetailsEvent):
        """A newer snapshot changed the sale's lines, amounts or customer."""

    class StatusNoted(Aggregate.Event):
        """The platform status an order that is not a sale (yet) shows now: its newest
        snapshot's, or the trash. (A sale's is in SaleRecorded and SaleStatusChanged.)"""

        user_id: UUID
        receipt_version: int
        platform_status: str

        def apply(self, aggregate: Any) -> None:
            aggregate.noted_platform_status = self.platform_status

    class SaleStatusChanged(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        status: str
        platform_status: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status
            aggregate.platform_status = self.platform_status

    class RefundRecorded(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        refund_id: str
        amount: Decimal
        lines: tuple[RefundLine, ...]
        created_at: datetime | None

        def apply(self, aggregate: Any) -> None:
            aggregate.refunds[self.refund_id] = Refund(
                self.refund_id, self.amount, tuple(self.lines), self.created_at
            )

    class StockMovement(Aggregate.Event):
        """One line's stock leaving or coming back (never triggered itself)."""

        user_id: UUID
        receipt_version: int
        line_key: str
        line_index: int
        line_id: str | None
        product_id: str | None
        variation_id: str | None
        sku: str | None
        product_ref: str
        name: str
        quantity: int

    class StockDeducted(StockMovement):
        def apply(self, aggregate: Any) -> None:
            key = self.line_key
            aggregate.out[key] = aggregate.out.get(key, 0) + self.quantity
            aggregate.moved[key] = {name: getattr(self, name) for name in MOVEMENT_IDENTITY}

    class StockRestored(StockMovement):
        reason: str
        refund_id: str | None

        def apply(self, aggregate: Any) -> None:
            key = self.line_key
            aggregate.out[key] = aggregate.out.get(key, 0) - self.quantity
            if self.refund_id is not None:
                done = aggregate.refund_restored
                done[(self.refund_id, key)] = done.get((self.refund_id, key), 0) + self.quantity

    class InterpretationCorrected(Aggregate.Event):
        """Reprocessing the stored deliveries with corrected code read this order otherwise.

        The events that follow it (naming it as their receipt) bring the sale and its stock
        to the corrected reading; this event carries why, which code, what differed, and
        what the corrected reading says the snapshots mean, so later deliveries build on it.
        """

        user_id: UUID
        reason: str
        code_version: str
        differences: tuple[str, ...]
        latest_key: tuple[Any, ...] | None
        latest_platform_status: str | None
        known_key: tuple[Any, ...] | None
        known_status: str | None
        ever_sale: bool
        refund_restored: tuple[tuple[str, str, int], ...]
        # The corrected reading's trash (see DeletedOnPlatform); absent before it existed.
        trash_after: datetime | None = None

        def apply(self, aggregate: Any) -> None:
            aggregate.latest_key = stored_key(self.latest_key, aggregate.receipts)
            aggregate.latest_platform_status = self.latest_platform_status
            aggregate.known_key = stored_key(self.known_key, aggregate.receipts)
            aggregate.known_status = self.known_status
            aggregate.ever_sale = self.ever_sale
            aggregate.refund_restored = {(r, k): n for r, k, n in self.refund_restored}
            aggregate.trash_after = self.trash_after

    class DeletedOnPlatform(Aggregate.Event):
        """The platform deleted the order. ``trash_after``: it went to the trash (WooCommerce),
        which shows as its platform status until a restore, or a snapshot the platform built
        after this time says otherwise. A notice carries no time of its own, so this is when
        it reached us: a snapshot modified later was built after the notice was sent, whatever
        order the two arrive in. None: deleted for good (Shopify), or recorded before the
        trash was shown."""

        user_id: UUID
        receipt_version: int
        trash_after: datetime | None = None

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = True
            aggregate.trash_after = self.trash_after

    class RestoredOnPlatform(Aggregate.Event):
        user_id: UUID
        receipt_version: int

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = False
            aggregate.trash_after = None

    def __init__(self, user_id: UUID, platform: str, external_id: str) -> None:
        self.user_id = user_id
        self.platform = platform
        self.external_id = external_id
        self.bodies: set[str] = set()
        self.receipts: dict[int, str] = {}  # receipt version -> body sha256
        # What the snapshots say, latest first (see note_snapshot).
        self.latest_key: tuple[datetime, int, str] | None = None
        self.latest_platform_status: str | None = None
        self.known_key: tuple[datetime, int, str] | None = None
        self.known_status: str | None = None
        self.ever_sale = False
        # What the ledger recorded.
        self.sale_version: int | None = None
        self.sale_receipt: int | None = None
        self.status: str | None = None
        self.platform_status: str | None = None
        self.noted_platform_status: str | None = None  # while not a sale
        self.details: dict[str, Any] = {}
        self.refunds: dict[str, Refund] = {}
        self.deleted = False
        self.trash_after: datetime | None = None
        self.out: dict[str, int] = {}
        self.moved: dict[str, dict[str, Any]] = {}
        self.refund_restored: dict[tuple[str, str], int] = {}

    @property
    def is_sale(self) -> bool:
        return self.sale_version is not None

    @property
    def lines(self) -> tuple[OrderLine, ...]:
        lines: tuple[OrderLine, ...] = self.details.get("lines", ())
        return lines

    def note_snapshot(
        self, key: tuple[datetime, int, str], status: str | None, platform_status: str
    ) -> None:
        """Fold one snapshot's status into what the set of snapshots says (order-free)."""
        if self.latest_key is None or key > self.latest_key:
            self.latest_key = key
            self.latest_platform_status = platform_status
        if status is not None and (self.known_key is None or key > self.known_key):
            self.known_key = key
            self.known_status = status
        # Once any snapshot shows a sale (or its cancellation or refund), the order is a sale.
        self.ever_sale = self.ever_sale or status in ("sale", "cancelled", "refunded")

    # -- commands -------------------------------------------------------------------------

    @classmethod
    def open(cls, user_id: UUID, platform: str, external_id: str) -> Order:
        return cls(user_id=user_id, platform=platform, external_id=external_id)

    def receive(
        self, delivery: Delivery, snapshot: OrderSnapshot, *, restored: bool = False
    ) -> Outcome:
        """Record one snapshot of this order and append what it changes for the ledger.

        ``restored``: the delivery says the order came back from the platform's trash.
        """
        self._check(snapshot.platform, snapshot.external_id)
        if self._repeated(delivery):
            return "duplicate"
        newer = self._is_newer(delivery, snapshot)
        receipt = self._record_receipt(delivery, "snapshot", snapshot.platform_status, snapshot)
        was_sale, before, lines = self.is_sale, self.version, self.lines
        new_refunds = self._record_refunds(receipt, snapshot.refunds)
        back = restored and self.deleted
        if back:
            self.trigger_event(
                self.RestoredOnPlatform, user_id=self.user_id, receipt_version=receipt
            )
        fresh = {name: getattr(snapshot, name) for name in SALE_FIELDS} if newer else None
        self._settle_sale(receipt, fresh)
        self._settle_stock(
            receipt, "status " + (self.platform_status or "unknown"), lines, new_refunds
        )
        return "restored" if back else self._outcome(was_sale, before, newer)

    def receive_refund(self, delivery: Delivery, refund: Refund) -> Outcome:
        """Record a refund delivered on its own; it may arrive before its order."""
        if self._repeated(delivery):
            return "duplicate"
        receipt = self._record_receipt(delivery, "refund", self.platform_status, None)
        before = self.version
        new_refunds = self._record_refunds(receipt, (refund,))
        self._settle_stock(receipt, "refund", self.lines, new_refunds)
        return "updated" if self.version > before else "duplicate"

    def receive_deletion(self, delivery: Delivery) -> Outcome:
        """The platform deleted the order: marked, never erased; no stock moves. A WooCommerce
        deletion is the trash, shown as the platform status (see ``DeletedOnPlatform``).

        Every deletion notice of an order is the same bytes (``{"id": N}``), so the body does
        not tell a retry from a new deletion after a restore: one that finds the order
        deleted is a repeat, one that finds it restored deletes it again."""
        if self.deleted and delivery.body_sha256 in self.bodies:
            return "duplicate"
        trash = deletion_is_trash(self.platform)
        receipt = self._record_receipt(
            delivery, "deletion", TRASH if trash else self.platform_status, None
        )
        if self.deleted:
            return "duplicate"
        self.trigger_event(
            self.DeletedOnPlatform,
            user_id=self.user_id,
            receipt_version=receipt,
            trash_after=delivery.received_at if trash else None,
        )
        self._settle_sale(receipt, None)
        return "deleted"

    # -- decisions ------------------------------------------------------------------------

    def _check(self, platform: str, external_id: str) -> None:
        if (platform, external_id) != (self.platform, self.external_id):
            raise OrderMismatchError(f"{platform}:{external_id}")

    def _repeated(self, delivery: Delivery) -> bool:
        """Whether this delivery repeats one already recorded: the same bytes again, which
        are already traceable (their receipt has this sha256).

        Only the signed body says what a delivery is: a platform's retry resends the same
        bytes, and an unsigned header (Shopify's event id) never makes other bytes a repeat.
        """
        return delivery.body_sha256 in self.bodies

    def _is_newer(self, delivery: Delivery, snapshot: OrderSnapshot) -> bool:
        """Whether the snapshot is newer than every one recorded; it is about to be received
        at the next version (its arrival, for a snapshot without a time)."""
        key = snapshot_key(
            self.platform,
            snapshot.modified_at,
            snapshot.platform_status,
            delivery.body_sha256,
            self.version + 1,
        )
        return self.latest_key is None or key > self.latest_key

    def _settle_sale(self, receipt: int, fresh: dict[str, Any] | None) -> None:
        """Bring the sale to what the snapshots say, whatever order they came in.

        The order is a sale once any snapshot shows it as one; its status is that of the
        newest snapshot whose status we know (an unknown one changes only the platform
        status shown); its details (lines, amounts, customer) are the newest snapshot's,
        ``fresh`` when this delivery is the newest.
        """
        details = fresh if fresh is not None else self.details
        status, platform_status = self.known_status, self._shown_platform_status()
        if not self.is_sale and self.ever_sale and status and platform_status:
            self.trigger_event(
                self.SaleRecorded,
                user_id=self.user_id,
                receipt_version=receipt,
                status=status,
                platform_status=platform_status,
                **details,
            )
            return
        if details != self.details:
            event = self.SaleAmended if self.is_sale else self.DetailsNoted
            self.trigger_event(event, user_id=self.user_id, receipt_version=receipt, **details)
        if not self.is_sale:
            if platform_status is not None and platform_status != self.noted_platform_status:
                self.trigger_event(
                    self.StatusNoted,
                    user_id=self.user_id,
                    receipt_version=receipt,
                    platform_status=platform_status,
                )
            return
        if platform_status is None:
            return
        status = status or self.status
        if (status, platform_status) != (self.status, self.platform_status):
            self.trigger_event(
                self.SaleStatusChanged,
                user_id=self.user_id,
                receipt_version=receipt,
                status=status,
                platform_status=platform_status,
            )

    def _shown_platform_status(self) -> str | None:
        """The newest snapshot's platform status, or the trash while no snapshot modified
        after the deletion notice came has been seen."""
        if self.trash_after is not None and (
            self.latest_key is None or self.latest_key[0] <= self.trash_after
        ):
            return TRASH
        return self.latest_platform_status

    def _record_refunds(self, receipt: int, refunds: tuple[Refund, ...]) -> list[str]:
        """Record the refunds not recorded yet; returns their ids."""
        new = []
        for refund in refunds:
            if refund.refund_id in self.refunds:
                continue
            new.append(refund.refund_id)
            self.trigger_event(
                self.RefundRecorded,
                user_id=self.user_id,
                receipt_version=receipt,
                refund_id=refund.refund_id,
                amount=refund.amount,
                lines=refund.lines,
                created_at=refund.created_at,
            )
        return new

    def _record_receipt(
        self,
        delivery: Delivery,
        kind: ReceiptKind,
        platform_status: str | None,
        snapshot: OrderSnapshot | None,
    ) -> int:
        self.trigger_event(
            self.OrderReceived,
            user_id=self.user_id,
            platform=self.platform,
            external_id=self.external_id,
            kind=kind,
            topic=delivery.topic,
            delivery_id=delivery.delivery_id,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            source=delivery.source,
            headers=dict(delivery.headers),
            received_at=delivery.received_at,
            verification=delivery.verification,
            body_sha256=delivery.body_sha256,
            platform_status=platform_status,
            status=snapshot.status if snapshot else None,
            modified_at=snapshot.modified_at if snapshot else None,
        )
        return self.version

    def _outcome(self, was_sale: bool, before: int, newer: bool) -> Outcome:
        """What a snapshot with new bytes did: made a sale, or was older than the one shown
        and changed nothing (``stale``), or was recorded as an order that is no sale yet, or
        as the sale's newest snapshot (``updated``, whatever of it changed)."""
        if self.is_sale and not was_sale:
            return "recorded"
        if not newer and self.version == before:
            return "stale"
        return "received" if not self.is_sale else "updated"

    def _settle_stock(
        self, receipt: int, reason: str, before: tuple[OrderLine, ...], new_refunds: list[str]
    ) -> None:
        """Bring every line's stock to its target; ``before``: the lines as they were before
        this delivery, so a restock the store's bookkeeping shows names its refund."""
        books = keeps_own_books(self.lines)
        holds = self.is_sale and (books or holds_stock(self.platform, self.status))
        moves = plan_settle(
            self.platform, self.lines, holds, self.out, self.moved, self.refund_restored, reason
        )
        if books:
            moves = name_refund_restocks(moves, self.platform, before, self.lines, new_refunds)
        for move in moves:
            self._move(receipt, move)
        if not holds or books:
            # The store's bookkeeping already counts what its refunds put back.
            return
        for move in plan_refund_restocks(
            self.platform, self.lines, self.refunds, self.out, self.moved, self.refund_restored
        ):
            self._move(receipt, move)

    def correct(self, fresh: Order, reason: str, code_version: str) -> list[str]:
        """Append what brings this order to ``fresh``, the same deliveries read by corrected
        code; returns the differences found (none: nothing appended)."""
        found = differences(self, fresh)
        if not found:
            return []
        planned = plan(self, fresh)
        moves = stock_moves(self, fresh, f"reprocess ({code_version}): {reason}")
        self.trigger_event(
            self.InterpretationCorrected,
            user_id=self.user_id,
            reason=reason,
            code_version=code_version,
            differences=tuple(found),
            latest_key=fresh.latest_key,
            latest_platform_status=fresh.latest_platform_status,
            known_key=fresh.known_key,
            known_status=fresh.known_status,
            ever_sale=fresh.ever_sale,
            refund_restored=tuple((r, k, n) for (r, k), n in sorted(fresh.refund_restored.items())),
            trash_after=fresh.trash_after,
        )
        marker = self.version
        for name, fields in planned:
            # A corrected sale names the delivery that makes it a sale, as any sale does.
            receipt = self._receipt_of(fresh) if name == "SaleRecorded" else marker
            self.trigger_event(
                getattr(self, name), user_id=self.user_id, receipt_version=receipt, **fields
            )
        for move in moves:
            self._move(marker, move)
        return found

    def _receipt_of(self, fresh: Order) -> int:
        """This order's receipt of the delivery that made ``fresh`` a sale."""
        assert fresh.sale_receipt is not None
        sha = fresh.receipts[fresh.sale_receipt]
        return next(v for v, body in self.receipts.items() if body == sha)

    def _move(self, receipt: int, move: Move) -> None:
        if move.deduct:
            self.trigger_event(
                self.StockDeducted,
                user_id=self.user_id,
                receipt_version=receipt,
                quantity=move.quantity,
                **move.identity,
            )
        else:
            self.trigger_event(
                self.StockRestored,
                user_id=self.user_id,
                receipt_version=receipt,
                quantity=move.quantity,
                reason=move.reason,
                refund_id=move.refund_id,
                **move.identity,
            )
