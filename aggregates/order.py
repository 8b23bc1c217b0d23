"""The order aggregate: one platform order of one user, from its first delivery on.

Public commands decide; each event's ``apply`` only assigns state, since it runs again on
every replay. (Events are triggered with ``trigger_event`` rather than ``@event`` methods so
that each event class lists its fields once.)

Every delivery with a new body is recorded as an ``OrderReceived`` fact (what the platform
said); what it means for the ledger follows as separate events (``SaleRecorded``,
``SaleStatusChanged``, ``StockDeducted``, ``StockRestored``), each naming the receipt that
caused it, so an auditor can trace every sale and movement to one delivery.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.ids import order_id
from aggregates.values import Customer, Delivery, OrderLine, OrderSnapshot

# The fields that identify one stock movement of one line; a restore repeats them exactly.
MOVED_FIELDS = (
    "line_index",
    "line_id",
    "product_id",
    "variation_id",
    "sku",
    "product_ref",
    "name",
    "quantity",
)

Outcome = Literal["recorded", "updated", "duplicate", "received"]


class OrderMismatchError(ValueError):
    """The snapshot belongs to another order than this aggregate."""


def holds_stock(platform: str, status: str) -> bool:
    """Whether a sale in ``status`` keeps its goods out of the warehouse.

    WooCommerce reduces stock once an order is processing, on-hold or completed, keeps it
    reduced on ``refunded`` (a refund does not restock by itself) and restores it when the
    order goes to cancelled, pending or failed; so a cancelled order seen first never held
    any. Shopify reserves inventory at order creation, so every Shopify order deducts from its
    first delivery on and keeps it through a cancellation; only refunds bring stock back.
    """
    if platform == "shopify":
        return True
    return status in ("sale", "refunded")


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
        topic: str | None
        delivery_id: str | None
        webhook_id: str | None
        event_id: str | None
        source: str | None
        headers: dict[str, str]
        received_at: datetime
        verification: str
        body_sha256: str
        platform_status: str
        # When the platform built this snapshot (its own clock): orders snapshots later.
        modified_at: datetime | None

        def apply(self, aggregate: Any) -> None:
            aggregate.bodies.add(self.body_sha256)

    class SaleRecorded(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        status: str
        platform_status: str
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
            aggregate.sale_version = self.originator_version
            aggregate.status = self.status
            aggregate.platform_status = self.platform_status
            aggregate.lines = tuple(self.lines)

    class SaleStatusChanged(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        status: str
        platform_status: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status
            aggregate.platform_status = self.platform_status

    class StockDeducted(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        line_index: int
        line_id: str | None
        product_id: str | None
        variation_id: str | None
        sku: str | None
        product_ref: str
        name: str
        quantity: int

        def apply(self, aggregate: Any) -> None:
            aggregate.stock_out[self.line_index] = {k: getattr(self, k) for k in MOVED_FIELDS}

    class StockRestored(Aggregate.Event):
        user_id: UUID
        receipt_version: int
        line_index: int
        line_id: str | None
        product_id: str | None
        variation_id: str | None
        sku: str | None
        product_ref: str
        name: str
        quantity: int
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.stock_out.pop(self.line_index, None)

    def __init__(self, user_id: UUID, platform: str, external_id: str) -> None:
        self.user_id = user_id
        self.platform = platform
        self.external_id = external_id
        self.bodies: set[str] = set()
        self.status: str | None = None
        self.platform_status: str | None = None
        self.sale_version: int | None = None
        self.lines: tuple[OrderLine, ...] = ()
        # Line index -> the StockDeducted fields of stock still out of the warehouse.
        self.stock_out: dict[int, dict[str, Any]] = {}

    @property
    def is_sale(self) -> bool:
        return self.sale_version is not None

    # -- commands -------------------------------------------------------------------------

    @classmethod
    def open(cls, user_id: UUID, snapshot: OrderSnapshot) -> Order:
        return cls(user_id=user_id, platform=snapshot.platform, external_id=snapshot.external_id)

    def receive(self, delivery: Delivery, snapshot: OrderSnapshot) -> Outcome:
        """Record one delivery of this order and append what it changes for the ledger."""
        if (snapshot.platform, snapshot.external_id) != (self.platform, self.external_id):
            raise OrderMismatchError(f"{snapshot.platform}:{snapshot.external_id}")
        if delivery.body_sha256 in self.bodies:
            return "duplicate"
        self._record_receipt(delivery, snapshot)
        receipt = self.version
        if not self.is_sale:
            return self._maybe_record_sale(receipt, snapshot)
        # A status we do not know keeps the ledger's status; only the platform's changes.
        status = snapshot.status or self.status
        assert status is not None, "a sale always has a status"
        if (status, snapshot.platform_status) == (self.status, self.platform_status):
            return "duplicate"
        self._change_status(receipt, status, snapshot.platform_status)
        return "updated"

    def _maybe_record_sale(self, receipt: int, snapshot: OrderSnapshot) -> Outcome:
        if snapshot.status in ("pending", None):
            return "received"
        self.trigger_event(
            self.SaleRecorded,
            user_id=self.user_id,
            receipt_version=receipt,
            status=snapshot.status,
            platform_status=snapshot.platform_status,
            customer=snapshot.customer,
            lines=snapshot.lines,
            subtotal=snapshot.subtotal,
            shipping=snapshot.shipping,
            tax=snapshot.tax,
            discount=snapshot.discount,
            total=snapshot.total,
            currency=snapshot.currency,
            payment_method=snapshot.payment_method,
        )
        if holds_stock(self.platform, snapshot.status):
            self._deduct_all(receipt, snapshot.lines)
        return "recorded"

    def _change_status(self, receipt: int, status: str, platform_status: str) -> None:
        self.trigger_event(
            self.SaleStatusChanged,
            user_id=self.user_id,
            receipt_version=receipt,
            status=status,
            platform_status=platform_status,
        )
        holds = holds_stock(self.platform, status)
        if holds and not self.stock_out:
            self._deduct_all(receipt, self.lines)
        elif not holds and self.stock_out:
            reason = f"status {platform_status}"
            for _, moved in sorted(self.stock_out.items()):
                self.trigger_event(
                    self.StockRestored,
                    user_id=self.user_id,
                    receipt_version=receipt,
                    reason=reason,
                    **moved,
                )

    def _deduct_all(self, receipt: int, lines: tuple[OrderLine, ...]) -> None:
        for index, line in enumerate(lines):
            ref = line.product_ref(self.platform)
            if ref is None or line.quantity == 0:
                continue
            self.trigger_event(
                self.StockDeducted,
                user_id=self.user_id,
                receipt_version=receipt,
                line_index=index,
                line_id=line.line_id,
                product_id=line.product_id,
                variation_id=line.variation_id,
                sku=line.sku,
                product_ref=ref,
                name=line.name,
                quantity=line.quantity,
            )

    def _record_receipt(self, delivery: Delivery, snapshot: OrderSnapshot) -> None:
        self.trigger_event(
            self.OrderReceived,
            user_id=self.user_id,
            platform=self.platform,
            external_id=self.external_id,
            topic=delivery.topic,
            delivery_id=delivery.delivery_id,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            source=delivery.source,
            headers=dict(delivery.headers),
            received_at=delivery.received_at,
            verification=delivery.verification,
            body_sha256=delivery.body_sha256,
            platform_status=snapshot.platform_status,
            modified_at=snapshot.modified_at,
        )
