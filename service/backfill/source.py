"""What a backfill reads a store's API through: pages of exact answer bytes.

The implementations (WooCommerce, Shopify) live in service/http/pull/, the only place that
speaks HTTP; a backfill sees only these types, so its tests give it a Source of their own.
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
    # An opaque resume token for the next page (WooCommerce: the page number as a string;
    # Shopify: page_info), None when this is the last page.
    next: str | None


class SourceError(Exception):
    """The store's API could not be read."""


class CredentialsRejected(SourceError):
    """The store refused the credentials (401/403): str(err) names which one to check."""


class SourceUnavailable(SourceError):
    """The store's API did not answer in time, after the bounded retries."""


class Source(Protocol):
    platform: str

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]:
        """Orders modified after ``since`` (exclusive), oldest change first."""
        ...

    def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]:
        """Orders in the trash (WooCommerce); Shopify has none."""
        ...

    async def order(self, external_id: str) -> Exchange:
        """One order by id; a 404 comes back as an Exchange with status 404."""
        ...

    def products_changed(
        self, since: datetime, start: str | None = None
    ) -> AsyncIterator[Page]: ...

    def variations(self, product_id: str) -> AsyncIterator[Page]:
        """A variable product's variations (WooCommerce); Shopify: none."""
        ...
