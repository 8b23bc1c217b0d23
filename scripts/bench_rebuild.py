"""Benchmark: rebuild throughput over a generated history, against the library's runner.

Generates a history (default 1,000,000 events) in a scratch database: WooCommerce orders made
by the aggregates (Opened, OrderReceived, SaleRecorded, a StockDeducted per line; every
tenth order later cancelled: OrderReceived, SaleStatusChanged, a StockRestored per line),
a catalogue delivery per product and a stock adjustment every hundred orders. Worker
processes run the aggregates and the mapper; the parent COPYs the stored events in.

Then, each in a fresh child process (so each peak RSS is its own):
- ``ledger``'s rebuild of every projection over the whole history: events/s, peak RSS;
- eventsourcing's own ``ProjectionRunner`` with an equivalent stock projection (a level per
  product upserted with its tracking record in one transaction), reading our
  ``stored_events`` table through the library's PostgreSQL recorder and mapper, over the
  first ``--slice`` events of the same history;
and prints the ratio of the two stock rates. Run through ./scripts/bench-rebuild.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregates.order import Order
from aggregates.product import Product
from aggregates.stock_adjustment import StockAdjustment
from aggregates.values import (
    Customer,
    Delivery,
    OrderLine,
    OrderSnapshot,
    ProductSnapshot,
)
from projections.registry import all_projections
from service.projecting.rebuild import prepare_database, rebuild
from service.store.db import drop_database, ensure_database
from service.store.eventstore import EventStore
from service.store.transcoder import create_mapper, value_transcodings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 2000  # orders per worker task and per COPY transaction
STOCK_TOPICS = ("StockDeducted", "StockRestored", "StockAdjusted")


def _delivery() -> Delivery:
    return Delivery(
        "order.created", None, None, None, None, {}, T0, "unverified", secrets.token_hex(32)
    )


def _snapshot(n: int, status: str, platform_status: str, seconds: int) -> OrderSnapshot:
    five, ten, half = Decimal("5.00"), Decimal("10.00"), Decimal("5.50")
    lines = (
        OrderLine("1", str(40 + n % 50), None, None, "item", 2, five, ten),
        OrderLine("2", "7", str(700 + n % 20), None, "variant", 1, half, half),
    )
    return OrderSnapshot(
        "woocommerce",
        str(n),
        status,
        platform_status,
        Customer("Ana Ruiz", "ana@example.com"),
        lines,
        Decimal("15.50"),
        Decimal("0"),
        Decimal("0"),
        Decimal("0"),
        Decimal("15.50"),
        "EUR",
        "bacs",
        None,
        T0 + timedelta(seconds=seconds),
    )


def _order_events(user_id: UUID, n: int) -> list:
    order = Order.open(user_id, "woocommerce", str(n))
    order.receive(_delivery(), _snapshot(n, "sale", "processing", n))
    if n % 10 == 0:
        order.receive(_delivery(), _snapshot(n, "cancelled", "cancelled", n + 1))
    events = list(order.collect_events())
    if n % 100 == 0:
        adjustment = StockAdjustment.open(user_id, f"count-{n}")
        adjustment.adjust(f"woocommerce:{40 + n % 50}", 3, "shelf count", "cli:bench")
        events += adjustment.collect_events()
    return events


def _catalogue_events(user_id: UUID) -> list:
    events = []
    for pid in [*range(40, 90), *range(700, 720)]:
        product = Product.open(user_id, "woocommerce", str(pid))
        snapshot = ProductSnapshot(
            "woocommerce",
            str(pid),
            f"Product {pid}",
            f"SKU-{pid}",
            Decimal("5.00"),
            "simple",
            None,
            "yes",
            100,
            "publish",
            T0,
        )
        product.update(_delivery(), snapshot)
        events += product.collect_events()
    return events


def _stored(args: tuple[str, int]) -> list[tuple]:
    """A worker's chunk: CHUNK orders from ``start``, as stored-event rows."""
    user, start = args
    user_id, mapper = UUID(user), create_mapper()
    events = _catalogue_events(user_id) if start == 0 else []
    for n in range(start, start + CHUNK):
        events += _order_events(user_id, n)
    stored = (mapper.to_stored_event(e) for e in events)
    return [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored]


async def generate(url: str, events: int) -> int:
    conn = await asyncpg.connect(url)
    user, written, started = str(uuid4()), 0, time.perf_counter()
    # At least five events per order: enough chunks whatever the mix; stops once enough.
    starts = range(0, events // 5 + CHUNK, CHUNK)
    try:
        with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
            for rows in pool.map(_stored, [(user, s) for s in starts]):
                async with conn.transaction():
                    await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
                    await conn.copy_records_to_table(
                        "stored_events",
                        records=rows,
                        columns=("originator_id", "originator_version", "topic", "state"),
                    )
                written += len(rows)
                print(f"\rgenerated {written:,} events", end="", flush=True)
                if written >= events:
                    break
        # As a history that has been in place a while is: hint bits set, statistics known
        # (else the first rebuild to read it pays for writing the hint bits).
        await conn.execute("VACUUM (ANALYZE) stored_events")
    finally:
        await conn.close()
    print(f" in {time.perf_counter() - started:.0f}s")
    return written


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_rebuild(url: str, name: str) -> dict:
    projection = next(p for p in all_projections() if p.name == name)
    started = time.perf_counter()
    progress = await rebuild(url, EventStore(), projection)
    return {"elapsed": time.perf_counter() - started, "applied": progress.done}


def _library_classes() -> tuple[type, type, type]:
    """The library-side equivalent of our stock projection (imported only in its child)."""
    from eventsourcing.application import Application
    from eventsourcing.persistence import Tracking
    from eventsourcing.postgres import PostgresTrackingRecorder
    from eventsourcing.projection import Projection
    from eventsourcing.utils import get_topic
    from psycopg.sql import SQL, Identifier

    class Stored(Application):
        """Named so that the library's recorder reads our table: "stored" + "_events"."""

        def register_transcodings(self, transcoder) -> None:
            super().register_transcodings(transcoder)
            for transcoding in value_transcodings():
                transcoder.register(transcoding)

    class StockView(PostgresTrackingRecorder):
        def __init__(self, datastore, **kwargs) -> None:
            super().__init__(datastore, **kwargs)
            table = SQL("{0}.library_stock_levels").format(Identifier(self.datastore.schema))
            self.sql_create_statements.append(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (user_id uuid, product_ref text,"
                    " quantity bigint NOT NULL, PRIMARY KEY (user_id, product_ref))"
                ).format(table)
            )
            self.upsert = SQL(
                "INSERT INTO {0} VALUES (%s, %s, %s) ON CONFLICT (user_id, product_ref)"
                " DO UPDATE SET quantity = {0}.quantity + EXCLUDED.quantity"
            ).format(table)

        def move(self, user_id: UUID, ref: str, delta: int, tracking: Tracking) -> None:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(self.upsert, (user_id, ref, delta), prepare=True)
                self._insert_tracking(curs, tracking)

    class StockProjection(Projection[StockView]):
        name = "library_stock"
        topics = tuple(
            get_topic(c)
            for c in (Order.StockDeducted, Order.StockRestored, StockAdjustment.StockAdjusted)
        )

        def process_event(self, domain_event, tracking: Tracking) -> None:
            e = domain_event
            if isinstance(e, Order.StockDeducted):
                self.view.move(e.user_id, e.product_ref, -e.quantity, tracking)
            elif isinstance(e, Order.StockRestored):
                self.view.move(e.user_id, e.product_ref, e.quantity, tracking)
            elif isinstance(e, StockAdjustment.StockAdjusted):
                self.view.move(e.user_id, e.product_ref, e.by, tracking)

    return Stored, StockView, StockProjection


def run_library(url: str, history: int) -> dict:
    """eventsourcing's ProjectionRunner over the first ``history`` events."""
    from eventsourcing.projection import ProjectionRunner

    stored, view, projection = _library_classes()
    last, applied = asyncio.run(_last_stock_event(url, history))
    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "STORED_CREATE_TABLE": "no",  # our table: the library only reads it
    }
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=stored, projection_class=projection, view_class=view, env=env
    ) as runner:
        runner.wait(last, timeout=3600)
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "applied": applied}


async def _last_stock_event(url: str, history: int) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT max(notification_id), count(*) FROM stored_events WHERE notification_id <= $1"
            " AND split_part(topic, '.', -1) = ANY($2::text[])",
            history,
            list(STOCK_TOPICS),
        )
    finally:
        await conn.close()
    return int(row[0]), int(row[1])


def _child(args: list[str]) -> dict:
    command = [sys.executable, __file__, *args]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _report(label: str, events: int, result: dict) -> float:
    rate = events / result["elapsed"]
    print(
        f"{label:<26} {events:>9,} events in {result['elapsed']:6.1f}s = {rate:>9,.0f} events/s"
        f" (applied {result['applied']:,}); peak RSS {result['peak_mib']:.0f} MiB",
        flush=True,
    )
    return rate


async def main(args: argparse.Namespace) -> None:
    url = args.server.rsplit("/", 1)[0] + f"/ledger_bench_{secrets.token_hex(3)}"
    await ensure_database(url)
    try:
        conn = await asyncpg.connect(url)
        await prepare_database(conn)
        await conn.close()
        total = await generate(url, args.events)
        rates = {}
        wanted = set(args.projections.split(",")) if args.projections else None
        for projection in all_projections():
            if wanted is not None and projection.name not in wanted:
                continue
            result = _child(["--child-rebuild", projection.name, "--url", url])
            rates[projection.name] = _report(f"ours: {projection.name}", total, result)
        history = min(args.slice, total)
        library = _child(["--child-library", str(history), "--url", url])
        library_rate = _report("library ProjectionRunner", history, library)
        if "stock" in rates:
            print(f"stock: ours / library = {rates['stock'] / library_rate:,.1f}x (events/s)")
    finally:
        await drop_database(url)


def _child_main(args: argparse.Namespace) -> None:
    if args.child_rebuild:
        result = asyncio.run(run_rebuild(args.url, args.child_rebuild))
    else:
        result = run_library(args.url, args.child_library)
    print(json.dumps({**result, "peak_mib": _peak_mib()}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", help="a PostgreSQL URL (its database is ignored)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=50_000, help="the library's history")
    parser.add_argument("--projections", help="comma-separated names (default: all)")
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--child-rebuild", help=argparse.SUPPRESS)
    parser.add_argument("--child-library", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child_rebuild or arguments.child_library:
        _child_main(arguments)
    elif not arguments.server:
        parser.error("--server is required")
    else:
        asyncio.run(main(arguments))
