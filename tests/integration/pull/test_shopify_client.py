"""The Shopify client against a stand-in built from the Admin REST API's documented shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from service.backfill.source import CredentialsRejected, Page, SourceError, SourceUnavailable
from service.http.pull import open_source
from service.settings import Settings
from tests.integration.pull.conftest import POLICY, TOKEN, connection
from tests.standins.common import Fault, server_error, too_many_requests
from tests.standins.shopify import NOT_FOUND, ShopifyStandIn

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _source(standin: ShopifyStandIn, token: str = TOKEN):
    store = connection("shopify", standin.url, None, token)
    return open_source(store, Settings(shopify_api_version="2025-01"), policy=POLICY)


async def _pages(iterator) -> list[Page]:
    return [page async for page in iterator]


def _ids(pages: list[Page]) -> list[int]:
    return [json.loads(item)["id"] for page in pages for item in page.items]


def _query(recorded) -> dict[str, list[str]]:
    return parse_qs(urlsplit(recorded.path_qs).query)


async def test_orders_are_paged_by_the_link_header_s_page_info(shop):
    async with _source(shop) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None))
    ids = _ids(pages)
    assert sorted(ids) == sorted(r.id for r in shop.orders) and len(set(ids)) == len(ids)
    assert len(pages) == 2 and pages[0].next is not None and pages[-1].next is None
    first, second = shop.requests
    assert urlsplit(first.path_qs).path == "/admin/api/2025-01/orders.json"
    assert _query(first) == {
        "status": ["any"],
        "updated_at_min": ["2000-01-01T00:00:00+00:00"],
        "limit": ["250"],
    }
    assert _query(second) == {"limit": ["250"], "page_info": [pages[0].next]}
    assert first.headers["X-Shopify-Access-Token"] == TOKEN
    for page in pages:  # exact slices of the answer, under its "orders" member
        assert all(item in page.exchange.body for item in page.items)
        assert TOKEN not in page.exchange.url and TOKEN not in str(page.exchange.headers)


async def test_a_scan_resumes_from_its_page_info(shop):
    async with _source(shop) as source:
        first = await _pages(source.orders_changed(LONG_AGO, None))
        resumed = await _pages(source.orders_changed(LONG_AGO, None, start=first[0].next))
    assert _ids(resumed) == _ids(first[1:])


async def test_updated_at_min_filters(shop):
    since = datetime(2025, 1, 1, tzinfo=UTC)
    async with _source(shop) as source:
        ids = _ids(await _pages(source.orders_changed(since, None)))
    assert sorted(ids) == sorted(r.id for r in shop.orders if r.updated_at >= since)
    assert 0 < len(ids) < len(shop.orders)


async def test_one_order_and_an_unknown_one(shop):
    known = shop.orders[0]
    async with _source(shop) as source:
        found = await source.order(str(known.id))
        missing = await source.order("1")
    assert found.status == 200 and json.loads(found.body)["order"]["id"] == known.id
    assert missing.status == 404 and missing.body == NOT_FOUND


@pytest.mark.parametrize("body", [b"<html>404 Not Found</html>", b'{"errors":"Not Found!"}'])
async def test_a_404_not_shopify_s_not_found_is_a_source_error(shop, body):
    shop.fail_next(Fault(404, body=body))
    async with _source(shop) as source:
        with pytest.raises(SourceError, match="HTTP 404, but not its own answer"):
            await source.order("1")


async def test_no_trash_and_no_variations_listing_and_products_changed(shop):
    async with _source(shop) as source:
        assert await _pages(source.orders_trashed()) == []
        assert await _pages(source.variations("632910392")) == []
        products = await _pages(source.products_changed(LONG_AGO))
    assert sorted(_ids(products)) == sorted(p.id for p in shop.products)
    assert urlsplit(shop.requests[0].path_qs).path.endswith("/products.json")


async def test_a_wrong_token_is_credentials_rejected_in_one_line_without_it(shop):
    async with _source(shop, token="shpat_wrong_token_value") as source:
        with pytest.raises(CredentialsRejected) as caught:
            await _pages(source.orders_changed(LONG_AGO, None))
    message = str(caught.value)
    assert "\n" not in message and "shpat" not in message and "access token" in message
    assert "127.0.0.1" in message and len(shop.requests) == 1


async def test_a_429_waits_its_fractional_retry_after(shop):
    shop.fail_next(too_many_requests("0.3"))
    async with _source(shop) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None))
    assert len(pages) == 2
    first, second = shop.requests[:2]
    assert second.at - first.at >= 0.29
    assert _query(first) == _query(second)  # the same request again, not a next page


async def test_5xx_beyond_the_bound_is_source_unavailable(shop):
    shop.fail_next(*[server_error(503)] * (POLICY.retries + 1))
    async with _source(shop) as source:
        with pytest.raises(SourceUnavailable) as caught:
            await source.order(str(shop.orders[0].id))
    assert "HTTP 503" in str(caught.value) and TOKEN not in str(caught.value)


async def test_a_403_names_the_scopes_to_check(shop):
    shop.fail_next(Fault(403, body=b'{"errors":"[API] This action requires merchant approval"}'))
    async with _source(shop) as source:
        with pytest.raises(CredentialsRejected, match="read_orders"):
            await source.order(str(shop.orders[0].id))
