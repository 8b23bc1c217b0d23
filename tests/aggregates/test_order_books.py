"""The store's own stock bookkeeping and the trash, as pure tests of the order aggregate.

WooCommerce keeps, on each line of a stock-managed product, how much of it the store holds
out (``_reduced_stock``) and how much refunds put back (``_restock_refunded_items``); a
deletion notice sends the order to the trash. These are small ledgers written out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from aggregates.order import Order
from aggregates.values import OrderLine, Refund
from tests.aggregates.test_order import USER, delivery, line, names, run, snapshot, stock

COFFEE, GIFT = line("11", 2), line("18", 1)


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
    assert outcomes == ["recorded", "duplicate"]
    assert stock(events) == {}


def test_a_woocommerce_deletion_shows_the_trash_until_the_restore():
    order, events, _ = run(("a", snapshot(at=1)))
    assert order.receive_deletion(delivery("gone")) == "deleted"
    assert (order.platform_status, order.deleted, order.status) == ("trash", True, "sale")
    assert order.receive_deletion(delivery("gone again")) == "duplicate"
    back = snapshot(status="processing", at=9)
    assert order.receive(delivery("back"), back, restored=True) == "restored"
    assert (order.platform_status, order.deleted) == ("processing", False)
    later = list(order.collect_events())
    assert names(later) == [
        "OrderReceived",
        "DeletedOnPlatform",
        "SaleStatusChanged",
        "OrderReceived",
        "OrderReceived",
        "RestoredOnPlatform",
        "SaleStatusChanged",
    ]
    assert later[0].platform_status == "trash"  # what the notice said: the trash
    assert stock(events + later) == {"woocommerce:42": -2, "woocommerce:71": -1}


def test_a_newer_snapshot_shows_its_status_but_an_older_one_keeps_the_trash():
    order, _, _ = run(("a", snapshot(at=5)))
    order.receive_deletion(delivery("gone"))
    assert order.receive(delivery("older"), snapshot(status="completed", at=3)) == "duplicate"
    assert order.platform_status == "trash"
    order.receive(delivery("newer"), snapshot(status="completed", at=7))
    assert (order.platform_status, order.deleted) == ("completed", True)  # marked until restored


def test_a_deletion_before_any_snapshot_lets_the_first_one_show_its_status():
    order = Order.open(USER, "woocommerce", "100")
    assert order.receive_deletion(delivery("gone")) == "deleted"
    assert order.receive(delivery("a"), snapshot(at=1)) == "recorded"
    assert (order.platform_status, order.deleted) == ("processing", True)


def test_a_shopify_deletion_is_for_good_and_shows_no_trash():
    order, _, _ = run(("a", snapshot("shopify", "sale", at=1)))
    assert order.receive_deletion(delivery("gone")) == "deleted"
    assert (order.platform_status, order.deleted) == ("sale", True)


def test_replay_keeps_the_trash():
    order, events, _ = run(("a", snapshot(at=1)))
    order.receive_deletion(delivery("gone"))
    copy = None
    for e in events + list(order.collect_events()):
        copy = e.mutate(copy)
    assert copy == order
    assert copy is not None and copy.trash_after == order.latest_key


def _refund(refund_id: str) -> Refund:
    return Refund(refund_id, Decimal("30.00"), (), None)
