"""The WooCommerce client against a stand-in that checks OAuth as the real store does."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from service.backfill.source import CredentialsRejected, Page, SourceError, SourceUnavailable
from service.http.pull import open_source
from service.http.pull.transport import MAX_ANSWER_BYTES, RetryPolicy
from service.settings import Settings
from tests.integration.pull.conftest import KEY, POLICY, SECRET, connection
from tests.standins.common import Fault, hang, server_error, too_many_requests
from tests.standins.woocommerce import WooCommerceStandIn, fixture

LONG_AGO = datetime(2026, 11, 24, tzinfo=UTC)
DAY_TWO = [29, 30, 31]


def _source(standin: WooCommerceStandIn, secret: str = SECRET, policy: RetryPolicy = POLICY):
    store = connection("woocommerce", standin.url, KEY, secret)
    return open_source(store, Settings(), policy=policy)


async def _pages(iterator) -> list[Page]:
    return [page async for page in iterator]


def _ids(pages: list[Page]) -> list[int]:
    return [json.loads(item)["id"] for page in pages for item in page.items]


def _query(recorded) -> dict[str, list[str]]:
    return parse_qs(urlsplit(recorded.path_qs).query)


async def test_a_signed_scan_is_accepted_and_returns_every_order_oldest_change_first(woo):
    async with _source(woo) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None))
    assert _ids(pages) == [26, 19, 20, 21, 22, 23, 24, 29, 30, 31]
    (page,) = pages
    assert page.exchange.status == 200 and page.next is None
    assert page.items == [e.body for e in woo.orders]  # the store's exact bytes
    (request,) = woo.requests
    query = _query(request)
    assert query["oauth_signature_method"] == ["HMAC-SHA256"]
    assert query["per_page"] == ["100"] and query["dates_are_gmt"] == ["true"]
    assert query["orderby"] == ["modified"] and query["order"] == ["asc"]
    assert query["modified_after"] == ["2026-11-24T00:00:00"]
    assert "Authorization" not in request.headers
    assert "oauth" not in page.exchange.url and SECRET not in page.exchange.url
    assert page.exchange.url.startswith(f"{woo.url}/wp-json/wc/v3/orders?")


async def test_pages_follow_the_page_numbers_not_the_link_urls(woo_paged):
    async with _source(woo_paged) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None))
    assert [p.next for p in pages] == ["2", "3", "4", None]
    ids = _ids(pages)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 10
    assert [_query(r)["page"] for r in woo_paged.requests] == [["1"], ["2"], ["3"], ["4"]]
    for request in woo_paged.requests:  # never the Link's extra parameters
        assert "context" not in _query(request) and "status[0]" not in _query(request)
    assert len({_query(r)["oauth_nonce"][0] for r in woo_paged.requests}) == 4
    link = pages[0].exchange.headers["Link"]  # kept as evidence, its credentials redacted
    assert "oauth_signature=REDACTED" in link and "oauth_consumer_key=REDACTED" in link
    assert KEY not in link


async def test_a_scan_resumes_from_its_page(woo_paged):
    async with _source(woo_paged) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None, start="3"))
    assert _ids(pages) == [24, 29, 30, 31]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (datetime(2026, 12, 1, 8, 57, 36, tzinfo=UTC), DAY_TWO),  # as in 046
        (datetime(2026, 12, 1, 8, 57, 38, tzinfo=UTC), [30, 31]),  # 29's own second: exclusive
        (datetime(2026, 12, 1, 8, 57, 37, 900_000, tzinfo=UTC), DAY_TWO),  # rounded down
        (datetime(2026, 12, 1, 9, 57, 36, tzinfo=UTC).astimezone(), DAY_TWO[:0]),
    ],
)
async def test_modified_after_is_exclusive_and_second_precise(woo, since, expected):
    async with _source(woo) as source:
        assert _ids(await _pages(source.orders_changed(since, None))) == expected


async def test_until_bounds_the_scan(woo):
    since = datetime(2026, 12, 1, 8, 9, 0, tzinfo=UTC)
    until = datetime(2026, 12, 1, 8, 57, 39, tzinfo=UTC)
    async with _source(woo) as source:
        assert _ids(await _pages(source.orders_changed(since, until))) == [22, 23, 24, 29]


async def test_the_trash_is_seen_only_by_its_own_scan(woo):
    woo.trash_order(20)
    async with _source(woo) as source:
        changed = _ids(await _pages(source.orders_changed(LONG_AGO, None)))
        trashed = await _pages(source.orders_trashed())
    assert 20 not in changed
    assert _ids(trashed) == [20]
    assert json.loads(trashed[0].items[0])["status"] == "trash"
    assert _query(woo.requests[-1])["status"] == ["trash"]


async def test_an_order_deleted_for_good_is_a_404_exchange_with_the_store_s_bytes(woo):
    async with _source(woo) as source:
        gone = await source.order("25")
        there = await source.order("19")
    assert gone.status == 404
    assert gone.body == fixture("026")
    assert gone.url == f"{woo.url}/wp-json/wc/v3/orders/25"
    assert there.status == 200 and json.loads(there.body)["id"] == 19


@pytest.mark.parametrize("body", [fixture("041"), b"<html><body>404 Not Found</body></html>", b""])
async def test_a_404_not_the_store_s_invalid_id_answer_is_a_source_error(woo, body):
    woo.fail_next(Fault(404, body=body))
    async with _source(woo) as source:
        with pytest.raises(SourceError, match="HTTP 404, but not its own answer"):
            await source.order("25")
        assert (await source.order("25")).status == 404  # 026: the store's own


async def test_products_changed_and_the_variations_of_a_variable_product(woo):
    async with _source(woo) as source:
        products = await _pages(
            source.products_changed(datetime(2026, 12, 1, 8, 57, 36, tzinfo=UTC))
        )
        variations = await _pages(source.variations("15"))
    assert sorted(_ids(products)) == [11, 12, 14, 15]
    assert sorted(_ids(variations)) == [16, 17]
    assert b"[" + b",".join(variations[0].items) + b"]" == fixture("052")


async def test_a_wrong_secret_is_credentials_rejected_in_one_line_without_the_secret(woo):
    async with _source(woo, secret="cs_wrong_secret_value") as source:
        with pytest.raises(CredentialsRejected) as caught:
            await source.order("19")
    message = str(caught.value)
    assert "\n" not in message
    assert "ck_1234\u2026" in message and "ledger connect" in message
    assert KEY not in message and "cs_wrong" not in message and SECRET not in message
    assert len(woo.requests) == 1  # refused credentials are not retried


async def test_an_injected_401_is_credentials_rejected(woo):
    woo.fail_next(Fault(401, body=fixture("012")))
    async with _source(woo) as source:
        with pytest.raises(CredentialsRejected):
            await _pages(source.orders_trashed())


async def test_a_429_waits_what_retry_after_says(woo):
    woo.fail_next(too_many_requests("1"))
    async with _source(woo) as source:
        exchange = await source.order("19")
    assert exchange.status == 200
    first, second = woo.requests
    assert second.at - first.at >= 0.95  # a bound on the recorded times, not a sleep here


async def test_5xx_answers_back_off_then_succeed_each_attempt_signed_anew(woo):
    woo.fail_next(server_error(503), server_error(500))
    async with _source(woo) as source:
        exchange = await source.order("19")
    assert exchange.status == 200
    times = [r.at for r in woo.requests]
    assert len(times) == 3
    # Exponential with jitter: at least half of base, then half of twice the base.
    assert times[1] - times[0] >= POLICY.backoff_base * 0.5
    assert times[2] - times[1] >= POLICY.backoff_base * 2 * 0.5
    assert len({_query(r)["oauth_nonce"][0] for r in woo.requests}) == 3


async def test_a_hang_times_out_and_is_retried(woo):
    woo.fail_next(hang(10))
    async with _source(woo, policy=replace(POLICY, timeout=0.2)) as source:
        exchange = await source.order("19")
    assert exchange.status == 200 and len(woo.requests) == 2


async def test_retries_exhausted_is_source_unavailable(woo):
    woo.fail_next(*[server_error(502)] * (POLICY.retries + 1))
    async with _source(woo) as source:
        with pytest.raises(SourceUnavailable) as caught:
            await _pages(source.orders_changed(LONG_AGO, None))
    message = str(caught.value)
    assert "\n" not in message and f"after {POLICY.retries + 1} attempts" in message
    assert "HTTP 502" in message and SECRET not in message and "oauth" not in message
    assert len(woo.requests) == POLICY.retries + 1


async def test_a_store_that_does_not_answer_at_all_is_source_unavailable(woo):
    url = woo.url
    await woo.close()  # nothing listens there any more
    async with open_source(
        connection("woocommerce", url, KEY, SECRET), Settings(), policy=POLICY
    ) as source:
        with pytest.raises(SourceUnavailable) as caught:
            await source.order("19")
    assert "no answer" in str(caught.value) and url in str(caught.value)
    assert "oauth" not in str(caught.value)


@pytest.mark.parametrize(
    "base_url", ["shop.example", "ftp://shop.example", "http://u:p@shop.example", "http://s/?a=1"]
)
async def test_a_store_url_that_cannot_be_requested_is_a_source_error(base_url):
    store = connection("woocommerce", base_url, KEY, SECRET)
    with pytest.raises(SourceError) as caught:
        async with open_source(store, Settings(), policy=POLICY):
            pass
    assert "https://HOST" in str(caught.value) and "u:p" not in str(caught.value)


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "shop..example"])
async def test_a_host_no_request_can_name_is_a_source_error_not_a_unicode_error(host):
    store = connection("woocommerce", f"http://{host}", KEY, SECRET)
    async with open_source(store, Settings(), policy=POLICY) as source:
        with pytest.raises(SourceError, match="not a URL that can be requested") as caught:
            await source.order("19")
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)


async def test_a_store_that_ignores_the_page_number_ends_the_scan(woo):
    one = Fault(200, {"X-WP-TotalPages": "5"}, b"[" + woo.orders[0].body + b"]")
    woo.fail_next(one, one)
    async with _source(woo) as source:
        with pytest.raises(SourceError, match="page before"):
            await _pages(source.orders_changed(LONG_AGO, None))
    assert len(woo.requests) == 2


async def test_a_fault_can_aim_at_one_page(woo_paged):
    woo_paged.fail_matching(lambda r: r.query.get("page") == "3", server_error(503))
    async with _source(woo_paged) as source:
        pages = await _pages(source.orders_changed(LONG_AGO, None))
    assert len(_ids(pages)) == 10
    assert [_query(r)["page"][0] for r in woo_paged.requests] == ["1", "2", "3", "3", "4"]


async def test_the_default_bound_is_16_mib(woo):
    assert POLICY.max_body == MAX_ANSWER_BYTES == 16 * 1024 * 1024
    woo.fail_next(Fault(200, body=b"[" + b" " * MAX_ANSWER_BYTES + b"]"))
    async with _source(woo) as source:
        with pytest.raises(SourceError, match=f"more than {MAX_ANSWER_BYTES} bytes"):
            await _pages(source.orders_changed(LONG_AGO, None))


async def test_an_answer_beyond_the_bound_is_a_source_error_not_kept_in_memory(woo):
    async with _source(woo, policy=replace(POLICY, max_body=1000)) as source:
        with pytest.raises(SourceError, match="more than 1000 bytes"):
            await _pages(source.orders_changed(LONG_AGO, None))
        assert (await source.order("25")).status == 404  # 95 bytes: within it
