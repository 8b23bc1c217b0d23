"""The pure rules of the API clients: waits, cursors, kept headers, filter dates, settings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, cast
from uuid import uuid4

import pytest

from service.accounts.connections import StoreConnection
from service.adapters.pulling import (
    kept_headers,
    key_prefix,
    next_page_info,
    no_such_order,
    retry_after,
    total_pages,
    wc_time,
)
from service.http.pull.transport import RetryPolicy
from service.http.pull.woocommerce import WooCommerceSource
from service.settings import Settings, SettingsError
from tests.builders import fixture_bytes

NOW = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        ("2.0", 2.0),  # Shopify's form
        (" 0 ", 0.0),
        ("-5", 0.0),
        ("999", 120.0),  # capped
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),  # not delay-seconds: float() would read these
        ("1e3", None),
        ("1_0", None),
    ],
)
def test_retry_after_in_seconds_or_an_http_date_capped(value, expected):
    assert retry_after(value, NOW, cap=120.0) == expected


def test_the_next_page_info_is_read_from_the_rel_next_url_only():
    link = (
        "<https://shop.myshopify.com/admin/api/2025-01/orders.json?limit=250&page_info=prev1>;"
        ' rel="previous", <https://shop.myshopify.com/admin/api/2025-01/orders.json?'
        'limit=250&page_info=next2>; rel="next"'
    )
    assert next_page_info(link) == "next2"
    assert next_page_info(link.split(", ")[0]) is None
    assert next_page_info(None) is None and next_page_info("garbage") is None


def test_kept_headers_redact_the_credentials_a_link_repeats_and_drop_cookies():
    headers = {
        "Link": "<http://s/wp-json/wc/v3/orders?page=2&oauth_consumer_key=ck_live&"
        'oauth_signature=abc%3D&consumer_secret=cs_x>; rel="next"',
        "Set-Cookie": "session=1",
        "X-WP-TotalPages": "4",
    }
    kept = kept_headers(headers)
    assert "Set-Cookie" not in kept and kept["X-WP-TotalPages"] == "4"
    assert (
        "ck_live" not in kept["Link"] and "abc" not in kept["Link"] and "cs_x" not in kept["Link"]
    )
    assert "page=2" in kept["Link"]
    assert (
        total_pages(kept) == 4
        and total_pages({}) is None
        and total_pages({"x-wp-totalpages": "x"}) is None
    )


def test_filter_dates_are_utc_and_second_precise():
    moment = datetime(2026, 12, 1, 9, 57, 37, 900_000, tzinfo=timezone(timedelta(hours=1)))
    assert wc_time(moment) == "2026-12-01T08:57:37"
    assert wc_time(moment, round_up=True) == "2026-12-01T08:57:38"
    assert wc_time(moment.replace(microsecond=0), round_up=True) == "2026-12-01T08:57:37"


def test_a_key_is_shown_by_its_prefix_at_most():
    assert key_prefix("ck_1234abcdef0123456789abcdef0123456789abcd") == "ck_1234\u2026"
    assert key_prefix("ck_1234abcdef") == "ck_1\u2026"  # a short key: a third of it at most
    assert key_prefix("abc") == "a\u2026" and key_prefix(None) == "\u2026"


def test_over_https_the_key_and_secret_go_as_http_basic_and_nothing_is_signed():
    store = StoreConnection(
        uuid4(), "woocommerce", "https://shop.example/", "ck_k", "cs_s", None, None, None, 0
    )
    source = WooCommerceSource(cast(Any, None), store, RetryPolicy())
    url, headers = source._prepare("https://shop.example/wp-json/wc/v3/orders", [("page", "1")])()
    assert url == "https://shop.example/wp-json/wc/v3/orders?page=1"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"ck_k:cs_s").decode()}


def test_over_http_every_attempt_is_signed_with_a_new_nonce():
    store = StoreConnection(
        uuid4(), "woocommerce", "http://shop.example", "ck_k", "cs_s", None, None, None, 0
    )
    prepare = WooCommerceSource(cast(Any, None), store, RetryPolicy())._prepare(
        "http://shop.example/wp-json/wc/v3/orders/1", []
    )
    (first, headers), (second, _) = prepare(), prepare()
    assert headers == {} and "oauth_signature=" in first and first != second
    assert "cs_s" not in first


def test_the_shopify_api_version_setting():
    assert Settings.from_env({}).shopify_api_version == "2025-01"
    env = {"LEDGER_SHOPIFY_API_VERSION": "2025-04"}
    assert Settings.from_env(env).shopify_api_version == "2025-04"
    for bad in ("2025-13", "latest", "2025-1"):
        with pytest.raises(SettingsError, match="LEDGER_SHOPIFY_API_VERSION"):
            Settings.from_env({"LEDGER_SHOPIFY_API_VERSION": bad})


def test_the_backoff_is_exponential_with_jitter_and_capped():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)
    for attempt, ceiling in ((0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)):
        waits = {policy.backoff(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits) and len(waits) > 1


def test_only_a_platform_s_own_not_found_answer_says_no_such_order():
    assert no_such_order(
        "woocommerce", fixture_bytes("woocommerce-rest", "026-order-25-deleted.body")
    )
    assert no_such_order("woocommerce", fixture_bytes("woocommerce-rest", "027-order-999999.body"))
    assert not no_such_order(
        "woocommerce", fixture_bytes("woocommerce-rest", "041-unknown-route.body")
    )
    assert no_such_order("shopify", b'{"errors":"Not Found"}')
    for body in (b"<html>404</html>", b"", b'{"errors":"Not Found"}', b"[" * 100_000):
        assert not no_such_order("woocommerce", body)
    assert not no_such_order("shopify", b'{"errors":"Invalid API key"}')
