"""The envelope every delivery-made event carries: whose, which platform object, which
delivery. Written once here; ``Delivery.of(event)`` reads a delivery back from one."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate


class DeliveryEvent(Aggregate.Event):
    """Never triggered itself: the order's receipts and the product's deliveries are."""

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
