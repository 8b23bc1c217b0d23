"""The fields and state of an order found deleted for good (Order.PlatformDeletionFound):
kept apart from aggregates/order.py, which says when it happens, to keep that one short."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    from aggregates.order import Order


class DeletionFound(Aggregate.Event):
    """Asked for by id, the platform answered that the order does not exist: deleted for
    good, which WooCommerce never notifies. The evidence is the request and the answer (its
    receipt, ``receipt_version``, keeps the body); no stock moves, since WooCommerce does not
    restock on deletion. ``found_at``: when the answer came; a snapshot the platform built
    later would show the order again. Never triggered itself."""

    user_id: UUID
    receipt_version: int
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body_sha256: str
    found_at: datetime

    def apply(self, aggregate: Order) -> None:
        aggregate.deleted = True
        aggregate.gone_after = self.found_at
