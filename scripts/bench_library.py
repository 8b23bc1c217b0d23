"""The library baseline of scripts/bench_ingest.py: the eventsourcing library's own
``Application`` on PostgreSQL saving the same orders, in process, from 8 threads.

Each delivery of the stream is parsed with orjson (as our service does), its order is looked
up by a deterministic id (uuid5 of the order id), and a new one is saved as an aggregate of
three events (``Created``, ``SaleRecorded``, ``StockDeducted``) in one transaction by the
library's PostgreSQL recorder (which, like our store, takes the table's EXCLUSIVE lock); a
repeat is found in the repository and saves nothing, and a copy saved meanwhile by another
thread fails on the event table's key and counts as a repeat. No HTTP, no raw-body
table, no projections: the store alone, as the library gives it.

Run in its own process (bench_ingest.py does) against a scratch database of its own; prints
one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from bench_load import Webhook  # scripts/ is on sys.path: this file's folder
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

NAMESPACE = uuid5(NAMESPACE_URL, "https://pyme-ledger.invalid/bench/library")


class LibraryOrder(Aggregate):
    """One WooCommerce order: opened, its sale recorded, its stock deducted."""

    @staticmethod
    def create_id(external_id: str) -> UUID:
        return uuid5(NAMESPACE, external_id)

    @event("Created")
    def __init__(self, external_id: str, body_sha256: str) -> None:
        self.external_id = external_id
        self.body_sha256 = body_sha256

    @event("SaleRecorded")
    def record_sale(self, customer: str, total: str, currency: str, lines: list[Any]) -> None:
        self.total = total
        self.lines = lines

    @event("StockDeducted")
    def deduct_stock(self, movements: list[Any]) -> None:
        self.movements = movements


class LibraryLedger(Application[UUID]):
    """Its events go to ``libraryledger_events``, a table the library creates."""


def save(app: LibraryLedger, webhook: Webhook) -> str:
    doc = orjson.loads(webhook.body)
    order_id = LibraryOrder.create_id(str(doc["id"]))
    try:
        app.repository.get(order_id)
    except AggregateNotFoundError:
        pass
    else:
        return "duplicate"
    order = LibraryOrder(str(doc["id"]), hashlib.sha256(webhook.body).hexdigest())
    lines = [
        {"product_id": li["product_id"], "quantity": li["quantity"], "total": li["total"]}
        for li in doc["line_items"]
    ]
    order.record_sale(doc["billing"]["email"], doc["total"], doc["currency"], lines)
    order.deduct_stock(
        [{"ref": f"woocommerce:{li['product_id']}", "by": -li["quantity"]} for li in lines]
    )
    try:
        app.save(order)
    except IntegrityError:
        return "duplicate"
    return "recorded"


def environment(url: str, threads: int) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_POOL_SIZE": str(threads),  # a connection per thread, none waits for one
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the library's scratch database")
    parser.add_argument("--bodies", required=True, type=Path, help="a stream file")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with args.bodies.open("rb") as f:
        webhooks = [Webhook.from_line(line) for line in f]
    app = LibraryLedger(env=environment(args.url, args.threads))
    save(app, webhooks[0])  # connects and creates the table, outside the timing
    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        outcomes = list(pool.map(lambda w: save(app, w), webhooks[1:]))
    elapsed = time.perf_counter() - started
    app.close()
    result = {
        "deliveries": len(outcomes),
        "recorded": outcomes.count("recorded"),
        "duplicates": outcomes.count("duplicate"),
        "elapsed_s": elapsed,
        "rate": len(outcomes) / elapsed,
    }
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
