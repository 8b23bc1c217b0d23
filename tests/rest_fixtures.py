"""A stand-in Source serving the real store's REST answers (``woocommerce-rest/``) as pages,
in the types the backfill reads (service/backfill/source.py), with no HTTP in between."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from service.accounts.connections import StoreConnection
from service.backfill.source import Exchange, Page, SourceUnavailable
from tests.builders import FIXTURES

REST = FIXTURES / "woocommerce-rest"
STORE_URL = "http://127.0.0.1:35082"
# The store as it stands at the end of the second day: every order, oldest change first
# (3 a page), the trash empty (order 20 came back from it), 25 gone for good.
DAY2_ORDERS = (
    "047-day2-orders-modified-asc-p1",
    "048-day2-orders-modified-asc-p2",
    "049-day2-orders-modified-asc-p3",
    "050-day2-orders-modified-asc-p4",
)
EMPTY_TRASH = ("022-orders-status-trash",)
DAY2_PRODUCTS = ("051-day2-products-modified-after",)
DAY2_VARIATIONS = {"15": ("052-day2-product-15-variations",)}
LOOKUPS = {"25": "026-order-25-deleted", "20": "058-restored-order-20"}
NEVER_EXISTED = "027-order-999999"


def exchange(name: str) -> Exchange:
    meta = json.loads((REST / f"{name}.json").read_text())
    return Exchange(
        method=meta["method"],
        url=STORE_URL + meta["logical_path"],
        status=meta["status"],
        # The Link header repeats the request's consumer key: the real client drops it.
        headers={k: v for k, v in meta["headers"] if k.lower() != "link"},
        body=(REST / f"{name}.body").read_bytes(),
        received_at=datetime.fromisoformat(meta["captured_at_utc"]),
    )


def array_items(body: bytes) -> list[bytes]:
    """Each element of a JSON array, as its exact byte slice of ``body``."""
    text, decoder, items = body.decode(), json.JSONDecoder(), []
    at = text.index("[") + 1
    while True:
        while text[at] in " \t\r\n,":
            at += 1
        if text[at] == "]":
            break
        _, end = decoder.raw_decode(text, at)
        items.append(text[at:end].encode())
        at = end
    return items


def page(name: str, next_token: str | None) -> Page:
    answer = exchange(name)
    return Page(answer, array_items(answer.body), next_token)


@dataclass
class FixtureSource:
    """Serves the named answers; ``fail_after``: raise SourceUnavailable once that many
    pages were served (a run stopped midway). ``calls`` records what was asked."""

    orders: tuple[str, ...] = DAY2_ORDERS
    trash: tuple[str, ...] = EMPTY_TRASH
    products: tuple[str, ...] = DAY2_PRODUCTS
    variation_pages: dict[str, tuple[str, ...]] = field(default_factory=lambda: DAY2_VARIATIONS)
    lookups: dict[str, str] = field(default_factory=lambda: dict(LOOKUPS))
    fail_after: int | None = None
    platform: str = "woocommerce"
    served: int = 0
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def _pages(self, names: tuple[str, ...], start: str | None) -> AsyncIterator[Page]:
        first = int(start) - 1 if start else 0
        for i in range(first, len(names)):
            if self.fail_after is not None and self.served >= self.fail_after:
                raise SourceUnavailable("the stand-in stopped (as a killed run would)")
            self.served += 1
            yield page(names[i], str(i + 2) if i + 1 < len(names) else None)

    def orders_changed(
        self, since: datetime, until: datetime | None, start: str | None = None
    ) -> AsyncIterator[Page]:
        self.calls.append(("orders", since, until, start))
        return self._pages(self.orders, start)

    def orders_trashed(self, start: str | None = None) -> AsyncIterator[Page]:
        self.calls.append(("trash", start))
        return self._pages(self.trash, start)

    async def order(self, external_id: str) -> Exchange:
        self.calls.append(("order", external_id))
        return exchange(self.lookups.get(external_id, NEVER_EXISTED))

    def products_changed(self, since: datetime, start: str | None = None) -> AsyncIterator[Page]:
        self.calls.append(("products", since, start))
        return self._pages(self.products, start)

    def variations(self, product_id: str) -> AsyncIterator[Page]:
        self.calls.append(("variations", product_id))
        return self._pages(self.variation_pages.get(product_id, ()), None)


def store_connection(user_id: UUID, high_water: datetime | None = None) -> StoreConnection:
    """A user's connection to the stand-in store (credentials the stand-in never checks)."""
    return StoreConnection(
        user_id=user_id,
        platform="woocommerce",
        base_url=STORE_URL,
        key="ck_stand_in",
        secret="cs_stand_in",
        high_water=high_water,
        last_run_at=None,
        last_error=None,
        failures=0,
    )
