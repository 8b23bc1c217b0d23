"""What a backfill reads from a store: pages of answers, kept byte-exact as evidence.

Only the types live here (no HTTP): the clients that implement ``Source`` are in
``service/http/pull/``, the one place that talks to a store's API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, kept as evidence."""

    method: str
    url: str  # the logical URL: no credentials, no oauth_* parameters
    status: int
    headers: dict[str, str]  # response headers (no credentials)
    body: bytes  # the exact answer bytes
    received_at: datetime


@dataclass(frozen=True)
class Page:
    exchange: Exchange
    # Each element of the answer's JSON array, as its EXACT byte slice of exchange.body.
    items: list[bytes]
    # Opaque resume token for the next page (WooCommerce: the page number; Shopify: the
    # page_info cursor), None when this is the last page.
    next: str | None


class SourceError(Exception):
    """The store's API could not be read."""


class CredentialsRejected(SourceError):
    """The store refused the credentials (401/403)."""

    # str(err) is one line naming which credential to check, never the secret; an empty one
    # is shown by this docstring (service/http/backfill_schedule.py's error_line).


class SourceUnavailable(SourceError):
    """The store's API did not answer usefully within the retries."""


class Source(Protocol):
    platform: str

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]:
        """Every order changed after ``since`` (exclusive) and before ``until``, oldest
        change first where the platform allows it."""
        ...

    def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]:
        """WooCommerce's trash (invisible to the scan above); Shopify has none: empty."""
        ...

    async def order(self, external_id: str) -> Exchange:
        """One order by id. The platform's own answer that it has no such order comes back
        as an Exchange with status 404; any other 404 (a proxy's, a route the store does not
        serve) is a SourceError."""
        ...

    def products_changed(self, since: datetime, start: str | None = None) -> AsyncIterator[Page]:
        """Every product changed after ``since``."""
        ...

    def variations(self, product_id: str) -> AsyncIterator[Page]:
        """A variable product's variations (WooCommerce); Shopify: empty."""
        ...
