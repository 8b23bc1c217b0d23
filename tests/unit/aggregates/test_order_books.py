"""The store's own stock bookkeeping and the trash, as pure tests of the order aggregate.

WooCommerce keeps, on each line of a stock-managed product, how much of it the store holds
out (``_reduced_stock``) and how much refunds put back (``_restock_refunded_items``); a
deletion notice sends the order to the trash. These are small ledgers written out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import permutations
from typing import Any

from aggregates.order import Order
from aggregates.values import Delivery, OrderLine, Refund
from tests.builders import delivery
from tests.unit.aggregates.test_order import USER, line, names, run, snapshot, stock

COFFEE, GIFT = line("11", 2), line("18", 1)
DAY = datetime(2026, 1, 1, tzinfo=UTC)  # snapshot(at=n) is modified n seconds into it


def kept(held: int | None, restocked: int | None = None, of: OrderLine = COFFEE) -> OrderLine:
    return replace(of, reduced_stock=held, restocked=restocked)


def _restores(events: list[Any]) -> list[tuple[str, int, str, str | None]]:
    return [
        (e.product_ref, e.quantity, e.reason, e.refund_id)
        for e in events
        if isinstance(e, Order.StockRestored)
    ]


def test_each_line_holds_out_what_the_store_says_and_a_line_without_it_none():
    _, events, _ = run(("a", snapshot(lines=(kept(2), GIFT), at=1)))
    assert stock(events) == {"woocommerce:11": -2}  # the gift card: not counted by the store


def test_without_the_bookkeeping_the_status_rules_decide():
    _, events, _ = run(("a", snapshot(lines=(COFFEE, GIFT), at=1)))
    assert stock(events) == {"woocommerce:11": -2, "woocommerce:18": -1}


def test_a_restocking_refund_gives_back_what_the_store_put_back_and_names_the_refund():
    refunded = snapshot(
        status="refunded",
        lines=(kept(0, 2), GIFT),
        at=2,
        refunds=[_refund("27")],
    )
    _, events, outcomes = run(("a", snapshot(lines=(kept(2), GIFT), at=1)), ("b", refunded))
    assert outcomes == ["recorded", "updated"]
    assert stock(events) == {}
    assert _restores(events) == [("woocommerce:11", 2, "restocked by refund 27", "27")]


def test_a_refund_without_restock_keeps_the_stock_out():
    partial = snapshot(lines=(kept(2), GIFT), at=2, refunds=[_refund("28")])
    _, events, _ = run(("a", snapshot(lines=(kept(2), GIFT), at=1)), ("b", partial))
    assert stock(events) == {"woocommerce:11": -2}


def test_a_restock_shown_with_two_new_refunds_names_both_and_neither_id():
    both = snapshot(lines=(kept(0, 2),), at=2, refunds=[_refund("27"), _refund("29")])
    _, events, _ = run(("a", snapshot(lines=(kept(2),), at=1)), ("b", both))
    assert _restores(events) == [("woocommerce:11", 2, "restocked by refunds 27, 29", None)]


def test_a_restock_whose_refund_came_before_says_a_refund():
    # The refund reached the ledger in a late, older snapshot; the restock, in a newer one.
    refund = [_refund("27")]
    steps = (
        ("a", snapshot(lines=(kept(2),), at=3)),
        ("b", snapshot(lines=(kept(2),), at=1, refunds=refund)),
        ("c", snapshot(status="refunded", lines=(kept(1, 1),), at=4, refunds=refund)),
    )
    _, events, _ = run(*steps)
    assert _restores(events) == [("woocommerce:11", 1, "restocked by a refund", None)]


def test_a_cancellation_removes_the_bookkeeping_and_the_status_gives_the_stock_back():
    cancelled = snapshot(status="cancelled", lines=(COFFEE,), at=2)
    _, events, _ = run(("a", snapshot(lines=(kept(2),), at=1)), ("b", cancelled))
    assert stock(events) == {}
    assert _restores(events) == [("woocommerce:11", 2, "status cancelled", None)]


def test_an_older_snapshot_with_the_bookkeeping_changes_no_stock():
    newer = snapshot(status="refunded", lines=(kept(0, 2),), at=5, refunds=[_refund("27")])
    _, events, outcomes = run(("a", newer), ("b", snapshot(lines=(kept(2),), at=1)))
    assert outcomes == ["recorded", "stale"]
    assert stock(events) == {}


def notice(body: str, second: int) -> Delivery:
    """A deletion notice that reached us ``second`` seconds into the day of the snapshots."""
    return replace(delivery(body), received_at=DAY + timedelta(seconds=second))


def test_a_woocommerce_deletion_shows_the_trash_until_the_restore():
    order, events, _ = run(("a", snapshot(at=1)))
    assert order.receive_deletion(notice("gone", 5)) == "deleted"
    assert (order.platform_status, order.deleted, order.status) == ("trash", True, "sale")
    assert order.receive_deletion(notice("gone", 6)) == "duplicate"  # a retry
    back = snapshot(status="processing", at=9)
    assert order.receive(delivery("back"), back, restored=True) == "restored"
    assert (order.platform_status, order.deleted) == ("processing", False)
    later = list(order.collect_events())
    assert names(later) == [
        "OrderReceived",
        "DeletedOnPlatform",
        "SaleStatusChanged",
        "OrderReceived",
        "RestoredOnPlatform",
        "SaleStatusChanged",
    ]
    assert later[0].platform_status == "trash"  # what the notice said: the trash
    assert stock(events + later) == {"woocommerce:42": -2, "woocommerce:71": -1}


def test_the_same_notice_after_a_restore_deletes_again():
    """WooCommerce sends the same bytes, ``{"id": N}``, for every deletion of an order."""
    order, _, _ = run(("a", snapshot(at=1)))
    order.receive_deletion(notice("gone", 5))
    order.receive(delivery("back"), snapshot(at=9), restored=True)
    assert order.receive_deletion(notice("gone", 12)) == "deleted"
    assert (order.platform_status, order.deleted) == ("trash", True)


def test_a_snapshot_modified_after_the_notice_came_shows_its_status():
    order, _, _ = run(("a", snapshot(at=1)))
    order.receive_deletion(notice("gone", 5))
    order.receive(delivery("older"), snapshot(status="completed", at=3))
    assert order.platform_status == "trash"  # built before the notice: still in the trash
    order.receive(delivery("newer"), snapshot(status="completed", at=7))
    assert (order.platform_status, order.deleted) == ("completed", True)  # marked until restored


def _trash_outcome(steps: list[tuple[str, Any]]) -> tuple[Any, ...]:
    order = Order.open(USER, "woocommerce", "100")
    for kind, value in steps:
        if kind == "notice":
            order.receive_deletion(value)
        else:
            order.receive(delivery(kind), value)
    moved = tuple(sorted(stock(order.collect_events()).items()))
    return (order.status, order.platform_status, order.deleted, moved)


def test_the_trash_does_not_depend_on_arrival_order():
    before, after = snapshot(status="completed", at=3), snapshot(status="completed", at=8)
    for a_notice_at, shown in ((5, "trash"), (10, "trash"), (2, "completed")):
        steps = [("a", snapshot(at=1)), ("b", before), ("notice", notice("gone", a_notice_at))]
        seen = {_trash_outcome(list(order)) for order in permutations(steps)}
        assert seen == {("sale", shown, True, (("woocommerce:42", -2), ("woocommerce:71", -1)))}
    steps = [("a", snapshot(at=1)), ("b", after), ("notice", notice("gone", 5))]
    assert {_trash_outcome(list(order))[1] for order in permutations(steps)} == {"completed"}


def test_a_shopify_deletion_is_for_good_and_shows_no_trash():
    order, _, _ = run(("a", snapshot("shopify", "sale", at=1)))
    assert order.receive_deletion(notice("gone", 5)) == "deleted"
    assert (order.platform_status, order.deleted) == ("sale", True)


def test_replay_keeps_the_trash():
    order, events, _ = run(("a", snapshot(at=1)))
    order.receive_deletion(notice("gone", 5))
    copy = None
    for e in events + list(order.collect_events()):
        copy = e.mutate(copy)
    assert copy == order
    assert copy is not None and copy.trash_after == DAY + timedelta(seconds=5)


def _refund(refund_id: str) -> Refund:
    return Refund(refund_id, Decimal("30.00"), (), None)
