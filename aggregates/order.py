"""The order aggregate: one platform order of one user, from its first delivery on.

Every delivery with a new body is recorded as an ``OrderReceived`` fact (what the platform
said); the commands (aggregates/order_commands.py) then append only what it changes for the
ledger (what we decided it means, aggregates/order_decisions.py), each event naming the
receipt that caused it. A snapshot built before the latest one applied changes nothing but
its refunds, so the same deliveries, in any order and with any repetitions, end in the same
sale and the same stock. Each event's ``apply`` only assigns state: it runs on every replay.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates import order_commands as commands
from aggregates.delivery_event import DeliveryEvent
from aggregates.ids import order_id
from aggregates.lifecycle import snapshot_key, stored_key
from aggregates.order_commands import OrderMismatchError as OrderMismatchError
from aggregates.order_commands import Outcome
from aggregates.order_deletion import DeletionFound
from aggregates.order_stock import StockBook
from aggregates.values import (
    Customer,
    Delivery,
    OrderLine,
    OrderSnapshot,
    Refund,
    RefundLine,
    SaleDetails,
)


class Order(Aggregate):
    """A platform order. Its id is also the id of the sale it becomes."""

    @staticmethod
    def create_id(user_id: UUID, platform: str, external_id: str) -> UUID:
        return order_id(user_id, platform, external_id)

    class Opened(Aggregate.Created):
        user_id: UUID
        platform: str
        external_id: str

    class OrderReceived(DeliveryEvent):
        """A delivery with a new body: a snapshot, a refund or a deletion notice (``kind``;
        ``repeat`` in receipts of earlier versions)."""

        kind: str
        platform_status: str | None
        # What the status means to the ledger (None: a status we do not know).
        status: str | None
        # When the platform built this snapshot (its own clock): order snapshots.
        modified_at: datetime | None
        # The snapshot's place among the order's, as decided when it was received (absent
        # from receipts of earlier versions, whose place replay works out from the above).
        snapshot_key: tuple[Any, ...] | None = None

        def apply(self, aggregate: Order) -> None:
            aggregate.receipts[self.originator_version] = self.body_sha256
            if self.kind != "snapshot" or self.platform_status is None:
                return
            key = stored_key(self.snapshot_key, aggregate.receipts) or snapshot_key(
                self.platform,
                self.modified_at,
                self.platform_status,
                self.body_sha256,
                self.originator_version,
            )
            aggregate.note_snapshot(key, self.status, self.platform_status)

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

        def apply(self, aggregate: Order) -> None:
            aggregate.details = SaleDetails.of(self)

    class SaleRecorded(SaleDetailsEvent):
        status: str
        platform_status: str

        def apply(self, aggregate: Order) -> None:
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

        def apply(self, aggregate: Order) -> None:
            aggregate.noted_platform_status = self.platform_status

    class SaleStatusChanged(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        status: str
        platform_status: str

        def apply(self, aggregate: Order) -> None:
            aggregate.status = self.status
            aggregate.platform_status = self.platform_status

    class RefundRecorded(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        refund_id: str
        amount: Decimal
        lines: tuple[RefundLine, ...]
        created_at: datetime | None

        def apply(self, aggregate: Order) -> None:
            refund = Refund(self.refund_id, self.amount, tuple(self.lines), self.created_at)
            aggregate.refunds[self.refund_id] = refund

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
        def apply(self, aggregate: Order) -> None:
            aggregate.stock.deducted(vars(self), self.quantity)

    class StockRestored(StockMovement):
        reason: str
        refund_id: str | None

        def apply(self, aggregate: Order) -> None:
            aggregate.stock.restored(self.line_key, self.quantity, self.refund_id)

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

        def apply(self, aggregate: Order) -> None:
            aggregate.latest_key = stored_key(self.latest_key, aggregate.receipts)
            aggregate.latest_platform_status = self.latest_platform_status
            aggregate.known_key = stored_key(self.known_key, aggregate.receipts)
            aggregate.known_status = self.known_status
            aggregate.ever_sale = self.ever_sale
            restored = {(r, k): n for r, k, n in self.refund_restored}
            aggregate.stock.refund_restored = restored
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

        def apply(self, aggregate: Order) -> None:
            aggregate.deleted = True
            aggregate.trash_after = self.trash_after

    class RestoredOnPlatform(Aggregate.Event):
        user_id: UUID
        receipt_version: int

        def apply(self, aggregate: Order) -> None:
            aggregate.deleted = False
            aggregate.trash_after = None

    class PlatformDeletionFound(DeletionFound):
        """Asked for by id, the platform answered that the order does not exist."""

    def __init__(self, user_id: UUID, platform: str, external_id: str) -> None:
        self.user_id = user_id
        self.platform = platform
        self.external_id = external_id
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
        self.details: SaleDetails | None = None
        self.refunds: dict[str, Refund] = {}
        self.deleted = False
        self.trash_after: datetime | None = None
        self.gone_after: datetime | None = None  # see PlatformDeletionFound
        self.stock = StockBook()

    @property
    def is_sale(self) -> bool:
        return self.sale_version is not None

    @property
    def lines(self) -> tuple[OrderLine, ...]:
        return () if self.details is None else self.details.lines

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
        """Record one snapshot of this order and append what it changes for the ledger;
        ``restored``: the delivery says the order came back from the platform's trash."""
        return commands.receive(self, delivery, snapshot, restored=restored)

    def receive_refund(self, delivery: Delivery, refund: Refund) -> Outcome:
        """Record a refund delivered on its own; it may arrive before its order."""
        return commands.receive_refund(self, delivery, refund)

    def receive_deletion(self, delivery: Delivery) -> Outcome:
        """The platform deleted the order: marked, never erased; no stock moves."""
        return commands.receive_deletion(self, delivery)

    def correct(self, fresh: Order, reason: str, code_version: str) -> list[str]:
        """Append what brings this order to ``fresh``, the same deliveries read by corrected
        code; returns the differences found (none: nothing appended)."""
        return commands.correct(self, fresh, reason, code_version)
