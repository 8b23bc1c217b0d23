"""The WooCommerce REST API v3 client of a backfill.

Over plain HTTP only OAuth 1.0a one-legged signatures work (HMAC-SHA256 here), signed over the
store's own URL; over HTTPS, HTTP Basic with the key and secret. Pages are followed by number
and ``X-WP-TotalPages``, never by the ``Link`` URLs, which repeat the previous request's
``oauth_*`` parameters. ../shared/fixtures/woocommerce-rest/README.md is what a store does.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp

from service.accounts.connections import StoreConnection
from service.adapters.json_slices import NotAnArray, array_items
from service.adapters.oauth1 import query_string, signed_params
from service.adapters.pulling import key_prefix, total_pages, wc_time
from service.backfill.source import Exchange, Page, SourceError
from service.http.pull.transport import (
    Prepare,
    RetryPolicy,
    Transport,
    looked_up,
    store_base,
    unexpected,
)

NAME = "woocommerce"
LABEL = "WooCommerce"
API = "/wp-json/wc/v3"
PER_PAGE = 100
_NONCE_ALPHABET = string.ascii_letters + string.digits

Params = list[tuple[str, str]]


class WooCommerceSource:
    platform = NAME

    def __init__(
        self, session: aiohttp.ClientSession, connection: StoreConnection, policy: RetryPolicy
    ) -> None:
        self._base = store_base(connection.base_url, "WooCommerce")
        self._https = urlsplit(self._base).scheme.lower() == "https"
        self._key = connection.key or ""
        self._secret = connection.secret
        self._transport = Transport(
            session, policy, store=f"WooCommerce at {self._base}", rejected=self._rejected
        )

    def _rejected(self, status: int) -> str:
        return (
            f"WooCommerce refused the consumer key {key_prefix(self._key)} (HTTP {status}):"
            " check the key and secret in `ledger connect`"
        )

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]:
        params = [
            ("orderby", "modified"),
            ("order", "asc"),
            ("modified_after", wc_time(since)),
            ("dates_are_gmt", "true"),
        ]
        if until is not None:
            params.append(("modified_before", wc_time(until, round_up=True)))
        return self._pages("/orders", params, start)

    def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]:
        return self._pages("/orders", [("status", "trash")], start)

    async def order(self, external_id: str) -> Exchange:
        path = f"/orders/{_ident(external_id)}"
        exchange = await self._get(path, [])
        return looked_up(exchange, NAME, LABEL)

    def products_changed(self, since: datetime, start: str | None = None) -> AsyncIterator[Page]:
        params = [("modified_after", wc_time(since)), ("dates_are_gmt", "true")]
        return self._pages("/products", params, start)

    def variations(self, product_id: str) -> AsyncIterator[Page]:
        return self._pages(f"/products/{_ident(product_id)}/variations", [], None)

    async def _pages(self, path: str, params: Params, start: str | None) -> AsyncIterator[Page]:
        page = _page_number(start)
        previous: bytes | None = None
        while True:
            paged = [*params, ("per_page", str(PER_PAGE)), ("page", str(page))]
            exchange = await self._get(path, paged)
            if exchange.status != 200:
                raise unexpected(exchange, LABEL)
            try:
                items = array_items(exchange.body)
            except NotAnArray as exc:
                raise SourceError(f"WooCommerce answered GET {exchange.url} with {exc}") from None
            if items and exchange.body == previous:  # a store that ignores ``page``
                raise SourceError(f"WooCommerce answered GET {exchange.url} with the page before")
            previous = exchange.body
            pages = total_pages(exchange.headers)
            last = not items or (page >= pages if pages is not None else len(items) < PER_PAGE)
            yield Page(exchange=exchange, items=items, next=None if last else str(page + 1))
            if last:
                return
            page += 1

    async def _get(self, path: str, params: Params) -> Exchange:
        url = f"{self._base}{API}{path}"
        logical = f"{url}?{query_string(params)}" if params else url
        return await self._transport.get(self._prepare(url, params), logical)

    def _prepare(self, url: str, params: Params) -> Prepare:
        def prepare() -> tuple[str, dict[str, str]]:
            if self._https:
                basic = base64.b64encode(f"{self._key}:{self._secret}".encode()).decode()
                query, headers = params, {"Authorization": f"Basic {basic}"}
            else:
                query = signed_params(
                    "GET",
                    url,
                    params,
                    consumer_key=self._key,
                    consumer_secret=self._secret,
                    nonce="".join(secrets.choice(_NONCE_ALPHABET) for _ in range(32)),
                    timestamp=int(time.time()),
                )
                headers = {}
            return (f"{url}?{query_string(query)}" if query else url), headers

        return prepare


def _page_number(start: str | None) -> int:
    if start is None:
        return 1
    if not (start.isascii() and start.isdigit()) or int(start) < 1:
        raise SourceError(f"a WooCommerce page to resume from is a page number, not {start!r}")
    return int(start)


def _ident(external_id: str) -> str:
    if not (external_id.isascii() and external_id.isdigit()):
        raise SourceError(f"a WooCommerce id is a number, not {external_id!r}")
    return external_id
