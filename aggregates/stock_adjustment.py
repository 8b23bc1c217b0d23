"""A stock adjustment: a person's correction of one product's stock, with who and why.

Corrections are events, never edits. The aggregate's id is uuid5 over the user and the
caller's idempotency key, so a repeated key lands on the same aggregate: the event table's
primary key lets it be adjusted once, and a retry with the same key is a duplicate (or, when
it asks for something else, a conflict).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.ids import adjustment_id
from aggregates.values import PLATFORMS

AdjustmentOutcome = Literal["adjusted", "duplicate"]

MAX_KEY_LENGTH = 200
MAX_REASON_LENGTH = 500
# Far beyond any shelf; keeps every level well inside a bigint.
MAX_ADJUSTMENT = 1_000_000_000
MAX_PRODUCT_REF_LENGTH = 300


class InvalidAdjustmentError(ValueError):
    """The adjustment cannot be recorded as given."""


class AdjustmentConflictError(ValueError):
    """This idempotency key was already used for a different adjustment."""


def _is_text(value: str) -> bool:
    """Stored as UTF-8 and as PostgreSQL text: no NUL, no lone surrogate (undecodable argv)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def check_key(key: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or not _is_text(key):
        raise InvalidAdjustmentError(f"the key must be 1 to {MAX_KEY_LENGTH} characters")
    return key


# What a delivery can make a product reference of (see aggregates.values.product_ref and the
# adapters' ident and sku): an id of at most 64 characters, or a SKU of at most 255, neither
# blank nor holding a NUL.
_ID = re.compile(r"[^\x00]{1,64}")
_SKU = re.compile(r"[^\x00]{1,255}")


def check_product_ref(product_ref: str) -> str:
    """``{platform}:{id}`` or ``{platform}:sku:{sku}`` of a platform we know, as deliveries
    make them; nothing else can ever hold stock."""
    platform, _, rest = product_ref.partition(":")
    sku = rest.removeprefix("sku:") if rest.startswith("sku:") else None
    if sku is not None:  # a SKU is kept as sent, spaces and all, but is never blank
        formed = _SKU.fullmatch(sku) is not None and bool(sku.strip())
    else:  # an id is stripped
        formed = _ID.fullmatch(rest) is not None and rest.strip() == rest
    if (
        platform not in PLATFORMS
        or not formed
        or not _is_text(product_ref)
        or len(product_ref) > MAX_PRODUCT_REF_LENGTH
    ):
        raise InvalidAdjustmentError(
            "the product reference must be platform:id or platform:sku:SKU, e.g. woocommerce:42"
        )
    return product_ref


def check_adjustment(by: Any, reason: Any) -> tuple[int, str]:
    # bool is an int to Python, never a quantity.
    if type(by) is not int or by == 0 or abs(by) > MAX_ADJUSTMENT:
        raise InvalidAdjustmentError(
            f"by must be a non-zero whole number between -{MAX_ADJUSTMENT} and {MAX_ADJUSTMENT}"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidAdjustmentError("a reason is required")
    if len(reason) > MAX_REASON_LENGTH or not _is_text(reason):
        raise InvalidAdjustmentError(
            f"the reason must be at most {MAX_REASON_LENGTH} characters of text"
        )
    return by, reason


class StockAdjustment(Aggregate):
    @staticmethod
    def create_id(user_id: UUID, key: str) -> UUID:
        return adjustment_id(user_id, key)

    class Opened(Aggregate.Created):
        user_id: UUID
        key: str

    class StockAdjusted(Aggregate.Event):
        user_id: UUID
        product_ref: str
        by: int
        reason: str
        # Who: "api:<user name>" or "cli:<operating-system user>".
        actor: str
        key: str

        def apply(self, aggregate: StockAdjustment) -> None:
            aggregate.adjusted = (self.product_ref, self.by, self.reason)

    def __init__(self, user_id: UUID, key: str) -> None:
        self.user_id = user_id
        self.key = key
        self.adjusted: tuple[str, int, str] | None = None

    @classmethod
    def open(cls, user_id: UUID, key: str) -> StockAdjustment:
        return cls(user_id=user_id, key=check_key(key))

    def adjust(self, product_ref: str, by: int, reason: str, actor: str) -> AdjustmentOutcome:
        """Move ``product_ref``'s stock by ``by``, once per key."""
        check_product_ref(product_ref)
        check_adjustment(by, reason)
        if not actor:
            raise InvalidAdjustmentError("the actor is required")
        if self.adjusted is not None:
            if self.adjusted != (product_ref, by, reason):
                raise AdjustmentConflictError(self.key)
            return "duplicate"
        self.trigger_event(
            self.StockAdjusted,
            user_id=self.user_id,
            product_ref=product_ref,
            by=by,
            reason=reason,
            actor=actor,
            key=self.key,
        )
        return "adjusted"
