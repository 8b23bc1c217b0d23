"""The product aggregate: one catalogue entry of one user, as the platform describes it.

The platform's own stock figures are kept as information for reconciliation; they never
move the ledger's stock, which is only the sum of its movements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.delivery_event import DeliveryEvent
from aggregates.ids import product_id
from aggregates.values import Delivery, ProductSnapshot, ProductVariant

ProductOutcome = Literal["product_updated", "duplicate", "stale", "deleted", "restored"]

_NO_TIME = datetime.min.replace(tzinfo=UTC)


def delivery_key(modified_at: datetime | None, body_sha256: str) -> tuple[datetime, str]:
    """The order in which a product's deliveries were built: the platform's time (a body
    without one first), then the body's sha256, as the catalogue orders them."""
    return (modified_at or _NO_TIME, body_sha256)


class ProductMismatchError(ValueError):
    """The snapshot belongs to another product than this aggregate."""


class Product(Aggregate):
    @staticmethod
    def create_id(user_id: UUID, platform: str, external_id: str) -> UUID:
        return product_id(user_id, platform, external_id)

    class Opened(Aggregate.Created):
        user_id: UUID
        platform: str
        external_id: str

    class ProductDelivery(DeliveryEvent):
        """What every delivery-made product event records (never triggered itself)."""

        def apply(self, aggregate: Product) -> None:
            aggregate.bodies.add(self.body_sha256)

    class ProductUpdated(ProductDelivery):
        product_ref: str
        name: str | None
        sku: str | None
        price: Decimal | None
        product_type: str | None
        parent_id: str | None
        manage_stock: str | None
        stock_quantity: int | None
        platform_status: str | None
        modified_at: datetime | None
        variants: tuple[ProductVariant, ...]

        def apply(self, aggregate: Product) -> None:
            super().apply(aggregate)
            aggregate.readings[self.originator_version] = reading(self)
            aggregate.recorded_at[self.originator_version] = self.timestamp
            aggregate.keys[self.originator_version] = delivery_key(
                self.modified_at, self.body_sha256
            )

    class InterpretationCorrected(ProductUpdated):
        """Reprocessing read the stored delivery at ``receipt_version`` otherwise.

        It restates that delivery as the corrected code reads it (its delivery fields are the
        original's), and projections apply it as they apply any product delivery, at its
        place in the log. From the first delivery that reads otherwise, every later one is
        restated too, in order (``differences`` empty when its reading did not change, or
        when it is unreadable now and restated as recorded): the catalogue then ends on what
        the latest deliveries say, as a fresh run's does. ``delivery_recorded_at`` is when
        the delivery itself was recorded: the time of the platform's report it restates.
        ``deleted``: the product is deleted on the platform, so entries the correction adds
        are marked as the deletion marked the others.
        """

        receipt_version: int
        delivery_recorded_at: datetime
        deleted: bool
        reason: str
        code_version: str
        differences: tuple[str, ...]

        def apply(self, aggregate: Product) -> None:
            aggregate.readings[self.receipt_version] = reading(self)

    class DeletedOnPlatform(ProductDelivery):
        """The platform deleted the product: the catalogue marks it; its stock history stays."""

        def apply(self, aggregate: Product) -> None:
            super().apply(aggregate)
            aggregate.deleted = True

    class RestoredOnPlatform(Aggregate.Event):
        user_id: UUID
        platform: str
        external_id: str
        receipt_version: int

        def apply(self, aggregate: Product) -> None:
            aggregate.deleted = False

    def __init__(self, user_id: UUID, platform: str, external_id: str) -> None:
        self.user_id = user_id
        self.platform = platform
        self.external_id = external_id
        self.bodies: set[str] = set()
        self.deleted = False
        # What each delivery (by its event's version) means: as recorded, or as corrected;
        # and when it was recorded.
        self.readings: dict[int, ProductSnapshot] = {}
        self.recorded_at: dict[int, datetime] = {}
        self.keys: dict[int, tuple[datetime, str]] = {}

    @classmethod
    def open(cls, user_id: UUID, platform: str, external_id: str) -> Product:
        return cls(user_id=user_id, platform=platform, external_id=external_id)

    def delete(self, delivery: Delivery) -> ProductOutcome:
        """The platform deleted the product; marked, never erased. Every deletion notice of a
        product is the same bytes, so only one that finds it deleted is a repeat: after a
        restore, the same notice deletes it again."""
        if self.deleted:
            return "duplicate"
        self.trigger_event(
            self.DeletedOnPlatform,
            user_id=self.user_id,
            platform=self.platform,
            external_id=self.external_id,
            **delivery.as_fields(),
        )
        return "deleted"

    def update(
        self, delivery: Delivery, snapshot: ProductSnapshot, *, restored: bool = False
    ) -> ProductOutcome:
        """Record the product as this delivery shows it, unless these exact bytes were seen."""
        if (snapshot.platform, snapshot.external_id) != (self.platform, self.external_id):
            raise ProductMismatchError(f"{snapshot.platform}:{snapshot.external_id}")
        if delivery.body_sha256 in self.bodies:
            return "duplicate"
        newest = max(self.keys.values(), default=None)
        stale = (
            newest is not None and delivery_key(snapshot.modified_at, delivery.body_sha256) < newest
        )
        self.trigger_event(
            self.ProductUpdated,
            **_snapshot_fields(self, snapshot),
            **delivery.as_fields(),
        )
        if restored and self.deleted:
            # Only the restore notice brings it back: a late, older update must not.
            self.trigger_event(
                self.RestoredOnPlatform,
                user_id=self.user_id,
                platform=self.platform,
                external_id=self.external_id,
                receipt_version=self.version,
            )
            return "restored"
        # Recorded all the same (a fact), but the catalogue shows a newer delivery.
        return "stale" if stale else "product_updated"

    def correct(
        self,
        reread: Sequence[tuple[int, Delivery, ProductSnapshot | None]],
        reason: str,
        code_version: str,
    ) -> list[str]:
        """Restate the deliveries that the current code reads otherwise, and every later one.

        ``reread`` holds, in log order, each product delivery's event version, its delivery
        and what the current code reads in its body (None: unreadable now, so it keeps its
        recorded reading, and is restated as such if it comes after a difference). Returns
        the differences found; none: nothing appended.
        """
        found: list[str] = []
        for version, delivery, now in reread:
            snapshot = self.readings[version] if now is None else now
            if (snapshot.platform, snapshot.external_id) != (self.platform, self.external_id):
                raise ProductMismatchError(f"{snapshot.platform}:{snapshot.external_id}")
            changed = differences(self.readings[version], snapshot)
            if not changed and not found:
                continue
            found += [f"delivery {version}: {line}" for line in changed]
            self.trigger_event(
                self.InterpretationCorrected,
                **_snapshot_fields(self, snapshot),
                **delivery.as_fields(),
                receipt_version=version,
                delivery_recorded_at=self.recorded_at[version],
                deleted=self.deleted,
                reason=reason,
                code_version=code_version,
                differences=tuple(changed),
            )
        return found


def reading(e: Product.ProductUpdated) -> ProductSnapshot:
    """What a product delivery's event says the product is."""
    found = {f.name: getattr(e, f.name) for f in fields(ProductSnapshot)}
    return ProductSnapshot(**{**found, "variants": tuple(e.variants)})


def differences(recorded: ProductSnapshot, now: ProductSnapshot) -> list[str]:
    """Field by field, what ``now`` reads otherwise than ``recorded``."""
    return [
        f"{f.name}: {getattr(recorded, f.name)!r} -> {getattr(now, f.name)!r}"
        for f in fields(ProductSnapshot)
        if getattr(recorded, f.name) != getattr(now, f.name)
    ]


def _snapshot_fields(product: Product, snapshot: ProductSnapshot) -> dict[str, Any]:
    return {
        "user_id": product.user_id,
        "platform": product.platform,
        "external_id": product.external_id,
        "product_ref": snapshot.product_ref,
        "name": snapshot.name,
        "sku": snapshot.sku,
        "price": snapshot.price,
        "product_type": snapshot.product_type,
        "parent_id": snapshot.parent_id,
        "manage_stock": snapshot.manage_stock,
        "stock_quantity": snapshot.stock_quantity,
        "platform_status": snapshot.platform_status,
        "modified_at": snapshot.modified_at,
        "variants": snapshot.variants,
    }
