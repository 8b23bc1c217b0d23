"""What a store's API answers, as the backfill reads it (the shared contract of issue #13).

No aiohttp here: the implementations live in service/http/pull/.
"""

# placeholder: replaced by the pullclients/backfill branch (the contract's types, verbatim)

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
    items: list[bytes]  # each element of the answer's JSON array, as its exact byte slice
    next: str | None  # opaque resume token for the next page; None on the last page


class SourceError(Exception):
    """The store's API could not be read."""


class CredentialsRejected(SourceError):
    """The store refused the credentials (401/403)."""


class SourceUnavailable(SourceError):
    """The store's API did not answer usefully within the retries."""


class Source(Protocol):
    platform: str

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]: ...

    def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]: ...

    async def order(self, external_id: str) -> Exchange: ...

    def products_changed(
        self, since: datetime, start: str | None = None
    ) -> AsyncIterator[Page]: ...

    def variations(self, product_id: str) -> AsyncIterator[Page]: ...
