"""Deterministic aggregate ids: a redelivered order or product lands on the same aggregate."""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed forever: changing them would give every existing order and product a new id.
ORDER_NAMESPACE = UUID("6f1d2c1e-3b1a-5b7e-9a57-0c1f3e6a9d21")
PRODUCT_NAMESPACE = UUID("b3a4f0e2-8c2d-5e61-a3f9-7d5e2c9b1a44")
ADJUSTMENT_NAMESPACE = UUID("0d6c7a52-41e8-5f0b-8b1e-5a93c2f7e610")


def order_id(user_id: UUID, platform: str, external_id: str) -> UUID:
    """The order (and sale) id: uuid5 over user, platform and the platform's order id."""
    return uuid5(ORDER_NAMESPACE, f"{user_id}\x1f{platform}\x1f{external_id}")


def product_id(user_id: UUID, platform: str, external_id: str) -> UUID:
    """The catalogue entry id: uuid5 over user, platform and the platform's product id."""
    return uuid5(PRODUCT_NAMESPACE, f"{user_id}\x1f{platform}\x1f{external_id}")


def adjustment_id(user_id: UUID, key: str) -> UUID:
    """A stock adjustment's id: uuid5 over user and idempotency key, so a repeated key lands
    on the same aggregate."""
    return uuid5(ADJUSTMENT_NAMESPACE, f"{user_id}\x1fadjustment\x1f{key}")
