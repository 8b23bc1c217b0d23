"""The ledger's law for orders: the same deliveries, in any order and with any repetitions,
end in the same sale (status, totals, refunds) and the same stock.

Histories are consistent, as a real store produces them: snapshots of one order taken at
increasing times, each showing every refund made so far; Shopify refunds are also delivered
on their own. They are built from the real fixtures and from generated orders. WooCommerce
histories come with the store's own stock bookkeeping on the lines (``_reduced_stock``, kept
as WooCommerce keeps it) or without it, as older stores send them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.order import Order
from aggregates.values import Delivery, OrderLine, OrderSnapshot, Refund, RefundLine
from service.adapters import shopify, woocommerce
from service.adapters.body import parse_json
from tests import builders
from tests.builders import FIXTURES

USER = UUID("00000000-0000-4000-8000-0000000000aa")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
WOO_PATHS = [
    ["pending", "processing", "completed"],
    ["pending", "processing", "cancelled"],
    ["checkout-draft", "pending", "on-hold", "processing", "refunded"],
    ["processing", "cancelled", "processing", "completed"],
    ["pending", "failed", "pending", "processing"],
    ["on-hold", "shipped", "completed"],
    ["processing", "shipped"],
    ["processing", "pending"],
    ["on-hold", "failed"],
    ["pending", "cancelled"],
    ["processing", "trash"],
]
WOO_STATUS = {
    "processing": "sale",
    "on-hold": "sale",
    "completed": "sale",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "pending": "pending",
    "failed": "pending",
    "checkout-draft": "pending",
}


def _woo_fixture(name: str) -> OrderSnapshot:
    body = (FIXTURES / "woocommerce" / name).read_bytes()
    return woocommerce.order_from_json(parse_json(body))


def _shopify_fixture() -> OrderSnapshot:
    raw = json.loads(
        (FIXTURES / "shopify" / "shopify-order-shopify-rest-example-450789469.json").read_text()
    )["order"]
    return shopify.order_from_json(parse_json(json.dumps(raw).encode()))


BASES = [
    _woo_fixture("woocommerce-order-restapidocs-v3-727.json"),
    _woo_fixture("woocommerce-order-restapidocs-v3-723-completed-refunds.json"),
    _woo_fixture("woocommerce-order-erpnext-webhook-signed.json"),
]
SHOPIFY_BASE = _shopify_fixture()

Step = tuple[str, Delivery, Any]  # (kind, delivery, snapshot or refund)


def _delivery(tag: str, event_id: str | None = None) -> Delivery:
    sha = hashlib.sha256(tag.encode()).hexdigest()
    return builders.delivery(sha, T0, delivery_id=event_id, webhook_id=event_id, event_id=event_id)


def _lines(draw: st.DrawFn) -> tuple[OrderLine, ...]:
    count = draw(st.integers(min_value=1, max_value=3))
    return tuple(
        OrderLine(
            str(900 + i),
            str(draw(st.integers(1, 4))),
            None,
            None,
            f"item {i}",
            draw(st.integers(1, 3)),
            Decimal("5.00"),
            Decimal("5.00"),
        )
        for i in range(count)
    )


class StoreBooks:
    """WooCommerce's own stock bookkeeping of one order, line by line, as the store keeps it:
    set when the order reduces stock, lowered by a restocking refund, removed when a
    cancellation (or a return to pending) restores it, kept through ``failed`` (core restores
    stock only on cancelled and pending); never on a line whose product the store does not
    count (``managed``)."""

    REDUCES = ("processing", "on-hold", "completed")
    RESTORES = ("cancelled", "pending")

    def __init__(self, managed: list[bool]) -> None:
        self.managed = managed
        self.held: list[int | None] = [None] * len(managed)
        self.restocked = [0] * len(managed)

    def lines(self, lines: tuple[OrderLine, ...]) -> tuple[OrderLine, ...]:
        return tuple(
            replace(line, reduced_stock=held, restocked=back if managed and back else None)
            for line, managed, held, back in zip(
                lines, self.managed, self.held, self.restocked, strict=True
            )
        )

    def status(self, status: str, lines: tuple[OrderLine, ...]) -> None:
        if status in self.REDUCES and not any(h is not None for h in self.held):
            self.held = [
                line.quantity - back if managed else None
                for line, managed, back in zip(lines, self.managed, self.restocked, strict=True)
            ]
        elif status in self.RESTORES:
            self.held = [None] * len(lines)

    def restock(self, index: int) -> bool:
        """A refund puts one item of a line back; False if the line holds none out."""
        held = self.held[index]
        if not held:
            return False
        self.held[index], self.restocked[index] = held - 1, self.restocked[index] + 1
        return True

    def edit(self, lines: tuple[OrderLine, ...]) -> None:
        """The merchant replaced the lines; a reduced order reduces the new ones."""
        reduced = any(h is not None for h in self.held)
        self.managed = [self.managed[i % len(self.managed)] for i in range(len(lines))]
        self.held = [
            line.quantity if reduced and m else None
            for line, m in zip(lines, self.managed, strict=True)
        ]
        self.restocked = [0] * len(lines)


@st.composite
def woo_history(draw: st.DrawFn, books_kept: bool | None = None) -> list[Step]:
    """A WooCommerce order's snapshots; ``books_kept``: with the store's bookkeeping (its
    first line's product always stock-managed), without, or either (None)."""
    base = draw(st.sampled_from(BASES))
    if draw(st.booleans()):
        base = replace(base, lines=_lines(draw))
    if books_kept is None:
        books_kept = draw(st.booleans())
    managed = [True] + [draw(st.booleans()) for _ in base.lines[1:]]
    books = StoreBooks(managed) if books_kept else None
    path = draw(st.sampled_from(WOO_PATHS))
    refunds: list[Refund] = []
    steps: list[Step] = []
    # Checkouts often move two statuses within a second (not drawn with the bookkeeping: its
    # property below takes the last snapshot as the newest).
    same_second = not books_kept and draw(st.booleans())
    for i, status in enumerate(path):
        if status in ("completed", "refunded", "cancelled") and draw(st.booleans()):
            refunds.append(Refund(str(700 + i), Decimal("1.50"), (), None))
            if books is not None and draw(st.booleans()):  # "restock refunded items"
                for index in draw(st.lists(st.integers(0, len(base.lines) - 1), max_size=3)):
                    books.restock(index)
        at = T0 + timedelta(seconds=0 if same_second and i < 2 else i)
        if i and draw(st.booleans()):  # the merchant edits the order: lines change
            base = replace(base, lines=_lines(draw))
            if books is not None:
                books.edit(base.lines)
        lines = base.lines
        if books is not None:
            books.status(status, lines)
            lines = books.lines(lines)
        snap = replace(
            base,
            lines=lines,
            status=WOO_STATUS.get(status),
            platform_status=status,
            modified_at=at,
            refunds=tuple(refunds),
        )
        steps.append(("snapshot", _delivery(f"woo-{i}-{status}"), snap))
    return steps


@st.composite
def shopify_history(draw: st.DrawFn) -> list[Step]:
    base = SHOPIFY_BASE
    ids = [line.line_id for line in base.lines]
    refunds: list[Refund] = []
    steps: list[Step] = []
    left = {line.line_id: line.quantity for line in base.lines}
    for i in range(draw(st.integers(min_value=1, max_value=4))):
        if i and draw(st.booleans()):
            line_id = draw(st.sampled_from(ids))
            quantity = min(left[line_id], 1)
            restock_type = draw(
                st.sampled_from(["return", "cancel", "legacy_restock", "no_restock"])
            )
            lines = (
                (
                    RefundLine(
                        line_id,
                        None,
                        None,
                        None,
                        quantity,
                        restock_type != "no_restock",
                        restock_type,
                    ),
                )
                if quantity
                else ()
            )
            left[line_id] -= quantity
            refund = Refund(str(5000 + i), Decimal("10.00"), lines, None)
            refunds.append(refund)
            steps.append(("refund", _delivery(f"refund-{i}", f"ev-r{i}"), refund))
        status = "cancelled" if i == 3 else "sale"
        if i and draw(st.booleans()):  # an order edit adds a line
            extra = OrderLine(
                str(990 + i), "77", "7701", None, "added", 1, Decimal("1"), Decimal("1")
            )
            base = replace(base, lines=(*base.lines, extra))
            ids.append(extra.line_id)
            left[extra.line_id] = 1
        snap = replace(
            base, status=status, modified_at=T0 + timedelta(minutes=i), refunds=tuple(refunds)
        )
        steps.append(("snapshot", _delivery(f"shop-{i}", f"ev-{i}"), snap))
    return steps


def _deliver(steps: list[Step]) -> tuple[Order, list[Any]]:
    first = steps[0][2]
    platform = (
        "shopify" if isinstance(first, Refund) or first.platform == "shopify" else "woocommerce"
    )
    order = Order.open(USER, platform, "450789469" if platform == "shopify" else first.external_id)
    for kind, delivery, value in steps:
        if kind == "refund":
            order.receive_refund(delivery, value)
        else:
            order.receive(delivery, value)
    return order, list(order.collect_events())


def _projected(order: Order, events: list[Any]) -> dict[str, Any]:
    """What the read models would show: the sale, its refunds, and stock per product."""
    stock: Counter[str] = Counter()
    for e in events:
        if isinstance(e, Order.StockDeducted):
            stock[e.product_ref] -= e.quantity
        elif isinstance(e, Order.StockRestored):
            stock[e.product_ref] += e.quantity
    return {
        "status": (order.status, order.platform_status),
        "sale": order.details if order.is_sale else None,
        "refunded": sum((r.amount for r in order.refunds.values()), Decimal(0)),
        "refund_ids": sorted(order.refunds),
        "stock": {ref: n for ref, n in stock.items() if n},
    }


def _arrangement(draw: st.DrawFn, steps: list[Step]) -> list[Step]:
    shuffled = draw(st.permutations(steps))
    repeats = draw(st.lists(st.sampled_from(steps), max_size=4))
    noisy = list(shuffled)
    for step in repeats:
        noisy.insert(draw(st.integers(0, len(noisy))), step)
    return noisy


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=st.one_of(woo_history(), shopify_history()))
def test_any_order_and_repetition_gives_the_same_ledger(data: st.DataObject, history):
    in_order = _projected(*_deliver(history))
    arranged = data.draw(st.builds(lambda: None))  # keep Hypothesis' output readable
    del arranged
    mixed = _projected(*_deliver(_arrangement(data.draw, history)))
    assert mixed == in_order
    # Stock out never exceeds what the order sold, never goes negative.
    for ref, moved in mixed["stock"].items():
        assert moved < 0, (ref, moved)


def _held_by_the_store(history: list[Step]) -> dict[str, int]:
    """What the store says it holds out, per product, after the history: the bookkeeping of
    its last snapshot, the one it built last."""
    _, _, last = history[-1]
    held: Counter[str] = Counter()
    for line in last.lines:
        ref = line.product_ref(last.platform)
        if ref and line.reduced_stock:
            held[ref] -= line.reduced_stock
    return dict(held)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), history=woo_history(books_kept=True))
def test_a_sale_holds_out_what_the_store_books_say(data: st.DataObject, history):
    """The ledger's stock for an order is exactly what the newest snapshot's bookkeeping says
    the store holds out (nothing, once a cancellation removed it), whatever order the
    deliveries came in."""
    order, events = _deliver(_arrangement(data.draw, history))
    assert _projected(order, events)["stock"] == _held_by_the_store(history)
