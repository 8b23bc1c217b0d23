"""What every store platform's adapter offers the intake: one typed face per platform.

An adapter is pure (platform JSON in, domain values out). Each platform's adapter module is
itself the ``Platform`` (a module can implement a Protocol: its constants and functions are
the members), so adding a platform is one module, its name in aggregates.values.PLATFORMS,
and one line in service/adapters/registry.py. Being module functions, the parsers can be
replaced in a test (``monkeypatch.setattr(woocommerce, "product_from_json", ...)``) and
everything that reads the platform through the registry sees the replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from aggregates.values import (
    DeletedSnapshot,
    Delivery,
    OrderSnapshot,
    ProductSnapshot,
    RefundSnapshot,
)


class Platform(Protocol):
    """A store platform, as its webhooks show it."""

    NAME: str
    # The prefix of its own headers, that a delivery keeps (lower case).
    HEADER_PREFIX: str
    # The header carrying the base64 HMAC-SHA256 of the raw body.
    SIGNATURE_HEADER: str
    # Topics whose snapshot brings a deleted object back.
    RESTORE_TOPICS: frozenset[str]
    # The header saying when the platform's event happened (None: it sends none).
    TRIGGERED_AT_HEADER: str | None

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def delivery_from_headers(
        self,
        headers: Mapping[str, str],
        *,
        received_at: datetime,
        verification: str,
        body_sha256: str,
    ) -> Delivery: ...

    def classify(self, topic: str | None, doc: Any, endpoint: str) -> str:
        """``order``, ``order_deleted``, ``refund``, ``product`` or ``product_deleted``."""
        ...

    def order_from_json(self, doc: Any) -> OrderSnapshot: ...

    def refund_from_json(self, doc: Any) -> RefundSnapshot: ...

    def product_from_json(self, doc: Any) -> ProductSnapshot: ...

    def deleted_from_json(self, doc: Any) -> DeletedSnapshot: ...
