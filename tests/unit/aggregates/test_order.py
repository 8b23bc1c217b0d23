"""The order rules as pure tests: which deliveries are sales, and what moves stock."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.ids import order_id
from aggregates.lifecycle import stored_key
from aggregates.order import Order
from aggregates.values import Customer, OrderLine, OrderSnapshot, SaleStatus
from tests.builders import delivery

USER = UUID("00000000-0000-4000-8000-000000000001")

WOO_STATUS = {
    "pending": "pending",
    "failed": "pending",
    "checkout-draft": "pending",
    "on-hold": "sale",
    "processing": "sale",
    "completed": "sale",
    "cancelled": "cancelled",
    "refunded": "refunded",
}


def line(product: str | None, qty: int, variation: str | None = None, sku: str | None = None):
    return OrderLine(
        None,
        product,
        variation,
        sku,
        f"item {product}",
        qty,
        Decimal("2.50"),
        Decimal("2.50") * qty,
    )


LINES = (line("42", 2), line("7", 1, variation="71"), line(None, 1))


def snapshot(
    platform: str = "woocommerce",
    status: str = "processing",
    lines=LINES,
    ext: str = "100",
    at: int | None = None,
    refunds=(),
) -> OrderSnapshot:
    mapped: SaleStatus = WOO_STATUS[status] if platform == "woocommerce" else status  # type: ignore[assignment]
    return OrderSnapshot(
        platform=platform,  # type: ignore[arg-type]
        external_id=ext,
        status=mapped,
        platform_status=status,
        customer=Customer("Ana", None),
        lines=lines,
        subtotal=Decimal("7.50"),
        shipping=Decimal("0"),
        tax=Decimal("0"),
        discount=Decimal("0"),
        total=Decimal("7.50"),
        currency="EUR",
        payment_method=None,
        created_at=None,
        modified_at=None
        if at is None
        else datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=at),
        refunds=tuple(refunds),
    )


def run(*steps: tuple[str, OrderSnapshot]) -> tuple[Order, list[Any], list[str]]:
    order = Order.open(USER, steps[0][1].platform, steps[0][1].external_id)
    outcomes = [order.receive(delivery(body), snap) for body, snap in steps]
    return order, list(order.collect_events()), outcomes


def stock(events: list[Any]) -> dict[str, int]:
    moved: Counter[str] = Counter()
    for e in events:
        if isinstance(e, Order.StockDeducted):
            moved[e.product_ref] -= e.quantity
        elif isinstance(e, Order.StockRestored):
            moved[e.product_ref] += e.quantity
    return {ref: n for ref, n in moved.items() if n}


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_ids_are_deterministic_and_per_user():
    assert order_id(USER, "woocommerce", "1") == order_id(USER, "woocommerce", "1")
    assert order_id(USER, "woocommerce", "1") != order_id(uuid4(), "woocommerce", "1")
    assert order_id(USER, "woocommerce", "1") != order_id(USER, "shopify", "1")
    assert Order.open(USER, "woocommerce", "100").id == order_id(USER, "woocommerce", "100")


def test_a_processing_order_is_a_sale_and_deducts_each_product_line():
    _, events, outcomes = run(("a", snapshot()))
    assert outcomes == ["recorded"]
    assert names(events) == [
        "Opened",
        "OrderReceived",
        "SaleRecorded",
        "StockDeducted",
        "StockDeducted",
    ]
    assert stock(events) == {"woocommerce:42": -2, "woocommerce:71": -1}
    deducted = events[4]
    assert (deducted.product_id, deducted.variation_id, deducted.line_index) == ("7", "71", 1)
    assert all(e.receipt_version == 2 for e in events[2:])


def test_statuses_that_are_not_sales_yet_move_nothing():
    for status in ("pending", "failed", "checkout-draft"):
        _, events, outcomes = run(("a", snapshot(status=status)))
        assert outcomes == ["received"]
        assert names(events) == ["Opened", "OrderReceived", "DetailsNoted", "StatusNoted"]
        assert events[3].platform_status == status


def test_cancelled_first_is_a_cancelled_sale_without_stock():
    _, events, _ = run(("a", snapshot(status="cancelled")))
    assert names(events) == ["Opened", "OrderReceived", "SaleRecorded"]
    assert events[2].status == "cancelled"


def test_refunded_first_keeps_stock_deducted():
    _, events, _ = run(("a", snapshot(status="refunded")))
    assert events[2].status == "refunded"
    assert stock(events) == {"woocommerce:42": -2, "woocommerce:71": -1}


def test_cancelling_a_sale_restores_once_and_reopening_deducts_again():
    _, events, outcomes = run(
        ("a", snapshot(at=1)),
        ("b", snapshot(status="cancelled", at=2)),
        ("c", snapshot(status="cancelled", at=3)),
        ("d", snapshot(status="processing", at=4)),
    )
    # A newer body that changes nothing is still the newest snapshot: never a "duplicate".
    assert outcomes == ["recorded", "updated", "updated", "updated"]
    restored = [e for e in events if isinstance(e, Order.StockRestored)]
    assert [(e.product_ref, e.quantity) for e in restored] == [
        ("woocommerce:42", 2),
        ("woocommerce:71", 1),
    ]
    assert stock(events) == {"woocommerce:42": -2, "woocommerce:71": -1}


def test_a_refund_status_alone_does_not_restock():
    _, events, outcomes = run(("a", snapshot()), ("b", snapshot(status="refunded")))
    assert outcomes == ["recorded", "updated"]
    assert stock(events) == {"woocommerce:42": -2, "woocommerce:71": -1}


def test_the_same_body_twice_records_nothing_new():
    _order, events, outcomes = run(("a", snapshot()), ("a", snapshot()))
    assert outcomes == ["recorded", "duplicate"]
    assert names(events).count("OrderReceived") == 1


def test_every_shopify_order_deducts_even_cancelled_and_custom_lines_do_not():
    lines = (line("632910392", 1, variation="39072856"), line(None, 3), line(None, 2, sku="X1"))
    _, events, _ = run(("a", snapshot("shopify", "cancelled", lines)))
    assert events[2].status == "cancelled"
    assert stock(events) == {"shopify:39072856": -1, "shopify:sku:X1": -2}


def test_replay_rebuilds_the_same_aggregate():
    order, events, _ = run(("a", snapshot()), ("b", snapshot(status="cancelled")))
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy == order


STATUSES = st.sampled_from(sorted(WOO_STATUS))


def _facts(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (type(e).__name__, {k: v for k, v in vars(e).items() if k != "timestamp"}) for e in events
    ]


@settings(max_examples=200, deadline=None)
@given(statuses=st.lists(STATUSES, min_size=1, max_size=6), data=st.data())
def test_repeating_deliveries_changes_nothing(statuses: list[str], data: st.DataObject):
    """Any repetition of the same deliveries (a retry arrives after its original, maybe after
    later ones too) gives the same ledger as each delivered once."""
    distinct = [(f"body-{i}", snapshot(status=s)) for i, s in enumerate(statuses)]
    noisy = list(distinct)
    for _ in range(data.draw(st.integers(min_value=0, max_value=8))):
        original = data.draw(st.sampled_from(distinct))
        first = noisy.index(original)
        noisy.insert(data.draw(st.integers(min_value=first + 1, max_value=len(noisy))), original)
    once = run(*distinct)[1]
    repeated = run(*noisy)[1]
    assert _facts(repeated) == _facts(once)
    # Stock out of the warehouse is never more than one order's worth, nor negative.
    assert stock(repeated).get("woocommerce:42", 0) in (0, -2)


def test_an_older_snapshot_is_stale_and_the_same_bytes_a_duplicate():
    _, _, outcomes = run(
        ("a", snapshot(status="completed", at=5)),
        ("b", snapshot(status="processing", at=1)),
        ("a", snapshot(status="completed", at=5)),
    )
    assert outcomes == ["recorded", "stale", "duplicate"]


def test_snapshots_without_a_time_are_ordered_by_arrival():
    """A hand-written body (the curl test) sent again with other content is the newer one,
    whatever the sha256 of either."""
    for first, second in (("aaaa", "ffff"), ("ffff", "aaaa")):
        order, _, outcomes = run(
            (first, snapshot(status="processing")), (second, snapshot(status="cancelled"))
        )
        assert outcomes == ["recorded", "updated"]
        assert order.status == "cancelled"
    # And one with a time is newer than any without.
    order, _, outcomes = run(("a", snapshot(at=1)), ("b", snapshot(status="cancelled")))
    assert (outcomes, order.status) == (["recorded", "stale"], "sale")


def test_an_unsigned_event_id_never_hides_a_new_body():
    """Shopify's X-Shopify-Event-Id is a header, not signed: a cancelled order body under an
    event id already seen is still read."""
    order = Order.open(USER, "shopify", "100")
    sent = replace(delivery("paid"), event_id="ev-1", webhook_id="wh-1")
    order.receive(sent, snapshot("shopify", "sale", at=1))
    again = replace(delivery("cancelled"), event_id="ev-1", webhook_id="wh-1")
    assert order.receive(again, snapshot("shopify", "cancelled", at=2)) == "updated"
    assert order.status == "cancelled"


def test_a_correction_stored_before_arrival_order_reads_in_todays_form():
    """A correction of an older version stored a timeless snapshot's key with its sha256:
    replayed, it names that snapshot's arrival, so later timeless snapshots stay newer."""
    sha = "ab" * 32
    old = (datetime.min.replace(tzinfo=UTC), 4, sha)
    assert stored_key(list(old), {2: sha, 5: "cd" * 32}) == (old[0], 0, f"{2:020d}")
    timed = (datetime(2026, 1, 1, tzinfo=UTC), 4, sha)
    assert stored_key(list(timed), {}) == timed
    assert stored_key(None, {}) is None
