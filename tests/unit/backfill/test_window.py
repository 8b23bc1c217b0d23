"""The backfill's window and receipts, without a database: the default ``since``, the
high-water mark, and a pulled item as the ingest path takes it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from aggregates.values import ANSWER_SHA256, ITEM_OFFSET, PULLED_METHOD, PULLED_STATUS, PULLED_URL
from service.backfill.receipts import PULLED_VIA_API, TOPIC, pulled
from service.backfill.run import default_since
from service.backfill.summary import newer as _newer
from tests.rest_fixtures import array_items, page, store_connection

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_first_run_looks_a_week_back_and_the_next_from_the_high_water_less_ten_minutes():
    assert default_since(store_connection(uuid4()), NOW) == NOW - timedelta(days=7)
    mark = datetime(2026, 12, 1, 8, 57, 40, tzinfo=UTC)
    later = store_connection(uuid4(), high_water=mark)
    assert default_since(later, NOW) == mark - timedelta(minutes=10)


def test_the_high_water_mark_is_the_newest_change_seen_but_never_after_the_run_began():
    early, late = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    assert _newer(None, None, NOW) is None
    assert _newer(early, None, NOW) == early
    assert _newer(early, late, NOW) == late
    assert _newer(late, early, NOW) == late
    assert _newer(early, NOW + timedelta(days=1), NOW) == NOW  # a store clock ahead of ours


def test_a_pulled_item_is_a_backfill_receipt_naming_its_answer_and_no_credential():
    p = page("046-day2-orders-modified-after", None)
    item = p.items[1]
    offset = p.exchange.body.index(item)
    d, delivery = pulled(uuid4(), "woocommerce", p.exchange, item, offset, "order")
    assert (delivery.topic, delivery.verification, d.body) == (TOPIC, PULLED_VIA_API, item)
    assert delivery.body_sha256 == hashlib.sha256(item).hexdigest()
    assert delivery.received_at == p.exchange.received_at
    assert delivery.source is None and delivery.delivery_id is None
    headers = delivery.headers
    assert (headers[PULLED_METHOD], headers[PULLED_STATUS]) == ("GET", "200")
    assert headers[PULLED_URL] == p.exchange.url and "oauth" not in headers[PULLED_URL]
    assert headers[ANSWER_SHA256] == hashlib.sha256(p.exchange.body).hexdigest()
    assert p.exchange.body[int(headers[ITEM_OFFSET]) :].startswith(item)
    assert headers["x-wp-total"] == "3" and "link" not in headers


def test_the_stand_ins_items_are_exact_slices_of_the_answer():
    body = b'[ {"a": "x,]\\"y"}, 2 ,[3, {"b": []}], "caf\xc3\xa9" ]'
    assert array_items(body) == [b'{"a": "x,]\\"y"}', b"2", b'[3, {"b": []}]', b'"caf\xc3\xa9"']
    assert array_items(b"[]") == []
