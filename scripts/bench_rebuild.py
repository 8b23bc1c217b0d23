"""Benchmark: rebuild throughput over a generated history.

Generates a history of WooCommerce orders (five events each: Opened, OrderReceived,
SaleRecorded and two StockDeducted) straight through the aggregates and the event store,
then rebuilds each projection from it and prints events/s and peak memory (ru_maxrss).
Run through ./scripts/bench-rebuild, which sets up the venv and the database.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg

from aggregates.order import Order
from aggregates.values import Customer, Delivery, OrderLine, OrderSnapshot
from projections.registry import all_projections
from service.db import drop_database, ensure_database, migrate
from service.eventstore import EventStore
from service.projection_schemas import rebuild

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _order_events(user_id, n: int) -> list:
    lines = (
        OrderLine("1", str(40 + n % 50), None, None, "item", 2, Decimal("5.00"), Decimal("10.00")),
        OrderLine("2", "7", str(700 + n % 20), None, "variant", 1, Decimal("5.50"), Decimal("5.50")),
    )
    snapshot = OrderSnapshot(
        "woocommerce", str(n), "sale", "processing", Customer("Ana Ruiz", "ana@example.com"),
        lines, Decimal("15.50"), Decimal("0"), Decimal("0"), Decimal("0"), Decimal("15.50"),
        "EUR", "bacs", None, T0 + timedelta(seconds=n),
    )
    delivery = Delivery(
        "order.created", None, None, None, None, {}, T0, "unverified", secrets.token_hex(32)
    )
    order = Order.open(user_id, "woocommerce", str(n))
    order.receive(delivery, snapshot)
    return list(order.collect_events())


async def generate(url: str, events: int) -> int:
    store = EventStore()
    conn = await asyncpg.connect(url)
    user_id = uuid4()
    written, n = 0, 0
    try:
        while written < events:
            batch = []
            for _ in range(2000):
                n += 1
                batch += _order_events(user_id, n)
            async with conn.transaction():
                written += len(await store.append(conn, batch))
            print(f"\rgenerated {written:,} events", end="", flush=True)
    finally:
        await conn.close()
    print()
    return written


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="a PostgreSQL URL (its database is ignored)")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    url = args.server.rsplit("/", 1)[0] + f"/ledger_bench_{secrets.token_hex(3)}"
    await ensure_database(url)
    try:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()
        total = await generate(url, args.events)
        for projection in all_projections():
            started = time.perf_counter()
            progress = await rebuild(url, EventStore(), projection)
            elapsed = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{projection.name:<9} {total:,} events in {elapsed:.1f}s = "
                f"{total / elapsed:,.0f} events/s (applied {progress.done:,}); "
                f"peak RSS {peak:.0f} MiB"
            )
    finally:
        await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())
