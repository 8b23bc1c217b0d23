"""The ingestion benchmark's pure parts (scripts/bench_load.py): the order stream it sends
and its latency maths. Nothing here is timed."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from scripts import bench_load
from scripts.bench_load import Webhook, highest_rate_within, order_stream, percentile, spread
from service.adapters import woocommerce
from service.adapters.body import parse_json


@pytest.fixture(scope="module")
def stream() -> list[Webhook]:
    return order_stream(bench_load.load_template(), 3000, first_id=500, seed=11, lag=50)


def test_new_orders_are_numbered_once_each_from_the_first_id(stream: list[Webhook]) -> None:
    new = [w.order_id for w in stream if not w.redelivery]
    assert new == list(range(500, 500 + len(new)))


def test_about_a_tenth_are_redeliveries_of_an_order_sent_earlier(stream: list[Webhook]) -> None:
    first_seen = {}
    for position, w in enumerate(stream):
        if not w.redelivery:
            first_seen[w.order_id] = (position, w.body)
            continue
        position_then, body = first_seen[w.order_id]
        assert w.body == body  # the same bytes, as the store resends them
        assert position - position_then > 50
    share = sum(w.redelivery for w in stream) / len(stream)
    assert 0.08 < share < 0.12


def test_every_delivery_has_its_own_delivery_id_and_the_topic_of_its_kind(
    stream: list[Webhook],
) -> None:
    assert len({w.delivery_id for w in stream}) == len(stream)
    topics = {w.redelivery: w.headers()["X-WC-Webhook-Topic"] for w in stream}
    assert topics == {False: "order.created", True: "order.updated"}


def test_the_adapter_reads_each_order_as_a_sale_whose_total_adds_up(
    stream: list[Webhook],
) -> None:
    for w in stream[:300]:
        doc = parse_json(w.body, None)  # as the service parses a body: exact decimals
        snapshot = woocommerce.order_from_json(doc)
        assert snapshot.external_id == str(w.order_id)
        assert snapshot.status == "sale"
        assert 1 <= len(snapshot.lines) <= 5
        products = [line.product_id for line in snapshot.lines]
        assert len(set(products)) == len(products)
        assert all(1 <= int(p) <= bench_load.CATALOGUE for p in products if p)
        lines = sum((line.total for line in snapshot.lines), Decimal(0))
        assert snapshot.total == lines + bench_load.SHIPPING


def test_a_stream_is_the_same_for_the_same_seed_and_has_no_repeats_when_asked() -> None:
    template = bench_load.load_template()
    once = order_stream(template, 200, first_id=1, seed=3)
    again = order_stream(template, 200, first_id=1, seed=3)
    assert once == again
    assert not any(
        w.redelivery for w in order_stream(template, 200, first_id=1, seed=3, redelivery=0)
    )


def test_a_stream_line_reads_back_as_the_same_delivery(stream: list[Webhook]) -> None:
    assert [Webhook.from_line(w.line()) for w in stream[:50]] == stream[:50]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert math.isnan(percentile([], 50))
    assert bench_load.summarize([3.0, 1.0, 2.0]) == {"count": 3, "p50": 2, "p99": 3, "max": 3}


def test_spread_over_rounds_leaves_out_rounds_without_the_value() -> None:
    assert spread([3.0, None, 1.0, 2.0, 10.0]) == {"min": 1, "median": 2.5, "max": 10}
    assert spread([None, math.nan]) is None


def test_the_highest_rate_within_the_limit_needs_no_errors() -> None:
    runs = [(50.0, 12.0, 0), (200.0, 40.0, 0), (500.0, 45.0, 3), (1000.0, 900.0, 0)]
    assert highest_rate_within(runs, 50) == 200
    assert highest_rate_within([(50.0, 51.0, 0)], 50) is None
