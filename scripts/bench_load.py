"""The ingestion benchmark's pure parts: the order stream it sends, and its latency maths.

The stream is WooCommerce order deliveries shaped like the real store's (the template is
``woocommerce-live/017-order.created.body``, a WooCommerce 10.0.2 checkout, and its headers):
unique order ids, 1 to 5 lines over a catalogue of 5,000 products, each line with the
store's ``_reduced_stock`` bookkeeping, totals that add up. About a tenth of the deliveries
are redeliveries of an order already sent: the same bytes under ``order.updated``, which is
what the real store does (each checkout sends ``order.updated`` and ``order.created`` with
identical bodies). No I/O here but reading the template: ``scripts/bench_ingest.py`` writes
the stream to files for wrk and the open-loop sender, and tests/unit check the stream's laws.
"""

from __future__ import annotations

import math
import os
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
# ../shared/fixtures beside the project, as the tests find it (LEDGER_FIXTURES: elsewhere).
FIXTURES = Path(os.environ.get("LEDGER_FIXTURES") or ROOT.parent / "shared" / "fixtures")
TEMPLATE = FIXTURES / "woocommerce-live" / "017-order.created.body"
CATALOGUE = 5000
REDELIVERY = 0.1
SHIPPING = Decimal("5.00")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# What the real store sends with every delivery (its Host, length, signature and the
# "Connection: close" of WordPress's HTTP client left out: the sender sets its own).
HEADERS = {
    "User-Agent": "WooCommerce/10.0.2 Hookshot (WordPress/6.8.3)",
    "Accept": "*/*",
    "Content-Type": "application/json",
    "X-WC-Webhook-Source": "http://127.0.0.1:34082/",
    "X-WC-Webhook-Resource": "order",
}
# The store's two order webhooks: a first delivery comes from "created", its repeat from
# "updated" (another webhook of the same store, so another X-WC-Webhook-ID).
TOPICS = {False: ("order.created", "created", "1"), True: ("order.updated", "updated", "2")}


@dataclass(frozen=True)
class Webhook:
    """One delivery of the stream: the order it is for, whether it repeats one already
    sent, its delivery id, and its body."""

    order_id: int
    redelivery: bool
    delivery_id: str
    body: bytes

    def headers(self) -> dict[str, str]:
        topic, event, webhook_id = TOPICS[self.redelivery]
        return {
            **HEADERS,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": webhook_id,
            "X-WC-Webhook-Delivery-ID": self.delivery_id,
        }

    def line(self) -> bytes:
        """The stream file's line: id, 0/1 redelivery, delivery id, body (JSON has no raw
        tab or newline), tab-separated."""
        head = f"{self.order_id}\t{int(self.redelivery)}\t{self.delivery_id}\t".encode()
        return head + self.body + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Webhook:
        order_id, redelivery, delivery_id, body = line.rstrip(b"\n").split(b"\t", 3)
        return cls(int(order_id), redelivery == b"1", delivery_id.decode(), body)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(orjson.loads(path.read_bytes()))


def price(product_id: int) -> Decimal:
    """A product's unit price: fixed per product, 1.00 to 99.99."""
    return Decimal(100 + product_id * 7919 % 9900) / 100


def order_body(template: dict[str, Any], order_id: int, rng: random.Random) -> bytes:
    """One order snapshot: the template with this order's id, customer, lines and totals
    (the template's nested values are shared, never changed: only replaced)."""
    when = (T0 + timedelta(seconds=order_id % 10_000_000)).strftime("%Y-%m-%dT%H:%M:%S")
    key = f"wc_order_{rng.getrandbits(48):012x}"
    lines = [
        _line(template["line_items"][0], n, pid, rng.randint(1, 3))
        for n, pid in enumerate(rng.sample(range(1, CATALOGUE + 1), rng.randint(1, 5)), 1)
    ]
    subtotal = sum((Decimal(line["total"]) for line in lines), Decimal("0.00"))
    items = ", ".join(f"{line['name']} &times; {line['quantity']}" for line in lines)
    shipping = template["shipping_lines"][0]
    item_meta = {**shipping["meta_data"][0], "value": items, "display_value": items}
    link = template["_links"]["self"][0]
    href = link["href"].rsplit("/", 1)[0] + f"/{order_id}"
    email = f"customer{rng.randrange(100_000)}@example.test"
    doc = {
        **template,
        "id": order_id,
        "number": str(order_id),
        "order_key": key,
        "cart_hash": f"{rng.getrandbits(128):032x}",
        "date_created": when,
        "date_created_gmt": when,
        "date_modified": when,
        "date_modified_gmt": when,
        "shipping_total": str(SHIPPING),
        "total": str(subtotal + SHIPPING),
        "billing": {**template["billing"], "email": email},
        "line_items": lines,
        "shipping_lines": [{**shipping, "meta_data": [item_meta]}],
        "payment_url": f"http://127.0.0.1:34082/?page_id=7&order-pay={order_id}"
        f"&pay_for_order=true&key={key}",
        "_links": {**template["_links"], "self": [{**link, "href": href}]},
    }
    return orjson.dumps(doc)


def _line(template: dict[str, Any], n: int, product_id: int, quantity: int) -> dict[str, Any]:
    total = str(price(product_id) * quantity)
    held = str(quantity)  # what the store holds out of stock for the line
    meta = {"key": "_reduced_stock", "value": held, "display_key": "_reduced_stock"}
    return {
        **template,
        "id": n,
        "name": f"Product {product_id}",
        "product_id": product_id,
        "quantity": quantity,
        "subtotal": total,
        "total": total,
        "meta_data": [{"id": n, **meta, "display_value": held}],
        "sku": f"SKU-{product_id:05d}",
        # WooCommerce writes a line's unit price as a JSON number (the adapter ignores it).
        "price": float(price(product_id)),
    }


def order_stream(
    template: dict[str, Any],
    count: int,
    *,
    first_id: int,
    seed: int,
    redelivery: float = REDELIVERY,
    lag: int = 100,
) -> list[Webhook]:
    """``count`` deliveries: new orders numbered from ``first_id``, and, with probability
    ``redelivery``, a repeat of an order first sent at least ``lag`` deliveries earlier (so
    that, sent in order by many connections, the original has already been answered)."""
    rng = random.Random(seed)
    sent: list[Webhook] = []
    stream: list[Webhook] = []
    for _ in range(count):
        delivery_id = f"{rng.getrandbits(128):032x}"
        if len(sent) > lag and rng.random() < redelivery:
            original = sent[rng.randrange(len(sent) - lag)]
            stream.append(Webhook(original.order_id, True, delivery_id, original.body))
            continue
        order_id = first_id + len(sent)
        webhook = Webhook(order_id, False, delivery_id, order_body(template, order_id, rng))
        sent.append(webhook)
        stream.append(webhook)
    return stream


# --- latency maths ---------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0 to 100) of values sorted ascending."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summarize(latencies: Iterable[float]) -> dict[str, float]:
    """Count, p50, p99 and max of some latencies (any unit: the same comes out)."""
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p99": percentile(ordered, 99),
        "max": float(ordered[-1]) if ordered else math.nan,
    }


def spread(values: Iterable[float | None]) -> dict[str, float] | None:
    """Min, median and max over rounds (rounds without the value left out)."""
    known = sorted(v for v in values if v is not None and not math.isnan(v))
    if not known:
        return None
    return {"min": known[0], "median": statistics.median(known), "max": known[-1]}


def highest_rate_within(runs: Iterable[tuple[float, float, int]], p99_limit: float) -> float | None:
    """The highest of (rate, p99, errors) runs with p99 within the limit and no error."""
    good = [rate for rate, p99, errors in runs if p99 <= p99_limit and errors == 0]
    return max(good) if good else None
