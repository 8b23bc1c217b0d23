"""The Shopify Admin REST API client of a backfill.

``X-Shopify-Access-Token`` authenticates; the API version is ``LEDGER_SHOPIFY_API_VERSION``.
Lists are cursor pages: the ``Link`` header's ``rel="next"`` URL carries a ``page_info``, and
a request with one may send only ``limit`` beside it. The order JSON is the webhook's shape.
Shopify has no trash and no separate variations listing: those scans are empty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp

from service.accounts.connections import StoreConnection
from service.adapters.json_slices import NotAnArray, array_items
from service.adapters.oauth1 import query_string
from service.adapters.pulling import (
    SHOPIFY_ACCESS_TOKEN_HEADER,
    next_page_info,
    shopify_time,
)
from service.backfill.source import Exchange, Page, SourceError
from service.http.pull.transport import (
    Prepare,
    RetryPolicy,
    Transport,
    looked_up,
    store_base,
    unexpected,
)

NAME = "shopify"
LABEL = "Shopify"
LIMIT = 250

Params = list[tuple[str, str]]


class ShopifySource:
    platform = NAME

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connection: StoreConnection,
        policy: RetryPolicy,
        *,
        api_version: str,
    ) -> None:
        self._base = store_base(connection.base_url, "Shopify")
        self._api = f"{self._base}/admin/api/{api_version}"
        self._shop = urlsplit(self._base).netloc or self._base
        self._token = connection.secret
        self._transport = Transport(
            session, policy, store=f"Shopify at {self._base}", rejected=self._rejected
        )

    def _rejected(self, status: int) -> str:
        if status == 403:
            return (
                f"Shopify refused the Admin API access token of {self._shop} (HTTP 403): check"
                " that it has the read_orders and read_products scopes in `ledger connect`"
            )
        return (
            f"Shopify refused the Admin API access token of {self._shop} (HTTP {status}):"
            " check the token in `ledger connect`"
        )

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]:
        params = [("status", "any"), ("updated_at_min", shopify_time(since))]
        if until is not None:
            params.append(("updated_at_max", shopify_time(until)))
        return self._pages("orders", params, start)

    async def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]:
        return
        yield  # pragma: no cover (an empty async generator)

    async def order(self, external_id: str) -> Exchange:
        if not (external_id.isascii() and external_id.isdigit()):
            raise SourceError(f"a Shopify order id is a number, not {external_id!r}")
        exchange = await self._get(f"orders/{external_id}.json", [])
        return looked_up(exchange, NAME, LABEL)

    def products_changed(self, since: datetime, start: str | None = None) -> AsyncIterator[Page]:
        return self._pages("products", [("updated_at_min", shopify_time(since))], start)

    async def variations(self, product_id: str) -> AsyncIterator[Page]:
        return
        yield  # pragma: no cover (variants come inside their product)

    async def _pages(self, resource: str, params: Params, start: str | None) -> AsyncIterator[Page]:
        cursor = start
        while True:
            query = [("limit", str(LIMIT))]
            query += [("page_info", cursor)] if cursor is not None else params
            exchange = await self._get(f"{resource}.json", query)
            if exchange.status != 200:
                raise unexpected(exchange, LABEL)
            try:
                items = array_items(exchange.body, member=resource)
            except NotAnArray as exc:
                raise SourceError(f"Shopify answered GET {exchange.url} with {exc}") from None
            following = next_page_info(_link(exchange.headers)) if items else None
            if following is not None and following == cursor:
                raise SourceError(f"Shopify answered GET {exchange.url} with its own cursor")
            cursor = following
            yield Page(exchange=exchange, items=items, next=cursor)
            if cursor is None:
                return

    async def _get(self, path: str, params: Params) -> Exchange:
        url = f"{self._api}/{path}"
        full = f"{url}?{query_string(params)}" if params else url
        return await self._transport.get(self._prepare(full), full)

    def _prepare(self, url: str) -> Prepare:
        def prepare() -> tuple[str, dict[str, str]]:
            return url, {SHOPIFY_ACCESS_TOKEN_HEADER: self._token}

        return prepare


def _link(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "link":
            return value
    return None
