"""A webhook delivery as it arrived: what the intake keeps, spools, files and records."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import orjson

# What a delivery is for: the endpoint it came to, or a platform's ping.
KINDS = frozenset({"order", "product", "ping"})


@dataclass(frozen=True)
class SpooledDelivery:
    """A raw webhook delivery, kept byte for byte until the database takes it."""

    user_id: uuid.UUID
    platform: str
    kind: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    entry_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown delivery kind {self.kind!r}")
        if self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")

    @cached_property
    def body_sha256(self) -> str:
        """The body's sha256 (hex), computed once for everyone who names the body by it."""
        return hashlib.sha256(self.body).hexdigest()

    @cached_property
    def named_ref(self) -> str | None:
        """The order or product id the body names (a refund: its order), read once for the
        spool's replay order and the delivery log; None when the body is not a JSON object
        that names one."""
        try:
            doc = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict):
            return None
        ref = doc.get("order_id", doc.get("id"))
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            return None
        return str(ref)
