"""Benchmark: what the live projection runner costs per commit, against a baseline tree.

Each run is a child process on a fresh scratch database, importing the project from one tree
(this checkout, or ``--base``: say ``git worktree add /tmp/lr-base COMMIT``): it starts that
tree's ``ProjectionRunner`` over every projection, waits until it is active, warms it with
20 orders, then appends WooCommerce orders made by the aggregates, one order a commit
(OrderReceived, SaleRecorded, a StockDeducted per line; every tenth cancelled too), in
three ways:

- ``webhooks``: one commit at a time, each followed by ``wait_for`` its last event, as a
  webhook's answer waits;
- ``stream``: four writers appending as fast as they can while the runner applies;
- ``backlog``: the commits appended first, then a runner started to apply them all.

Each prints commits/s and events/s (to the runner having applied the last commit), the
statements the runner's connections send per commit (queries counted with asyncpg's
``add_query_logger``, plus COPYs, which the logger does not see), the shared reads per
commit (the baseline has none: each projection reads for itself) and the runner's CPU per
commit: the process's CPU less what the same commits cost the writer alone, measured after.
Rounds alternate the two trees; min / median / max over the rounds are printed. Run through
./scripts/bench-live [--base PATH] [--rounds 3] [--webhooks 300] [--stream 1000]
[--backlog 2000].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg

HERE = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _import_tree(tree: Path) -> None:
    """Import the project from ``tree`` (before the checkout the venv has installed)."""
    sys.path.insert(0, str(tree))


def _order_events(user_id: UUID, n: int) -> list[Any]:
    from aggregates.order import Order
    from aggregates.values import Customer, Delivery, OrderLine, OrderSnapshot

    def snapshot(status: str, platform_status: str, seconds: int) -> OrderSnapshot:
        five, ten, half = Decimal("5.00"), Decimal("10.00"), Decimal("5.50")
        lines = (
            OrderLine("1", str(40 + n % 50), None, None, "item", 2, five, ten),
            OrderLine("2", "7", str(700 + n % 20), None, "variant", 1, half, half),
        )
        return OrderSnapshot(
            *("woocommerce", str(n), status, platform_status),
            Customer("Ana Ruiz", "ana@example.com"),
            lines,
            *(Decimal("15.50"), Decimal("0"), Decimal("0"), Decimal("0"), Decimal("15.50")),
            *("EUR", "bacs", None, T0 + timedelta(seconds=seconds)),
        )

    def delivery() -> Delivery:
        sha = secrets.token_hex(32)
        return Delivery("order.created", None, None, None, None, {}, T0, "unverified", sha)

    order = Order.open(user_id, "woocommerce", str(n))
    order.receive(delivery(), snapshot("sale", "processing", n))
    if n % 10 == 0:
        order.receive(delivery(), snapshot("cancelled", "cancelled", n + 1))
    return list(order.collect_events())


class Counts:
    """Statements the runner's connections send: queries (the logger's) and COPYs."""

    def __init__(self) -> None:
        self.queries = 0
        self.copies = 0
        self.connections: set[int] = set()

    def watch(self, conn: Any) -> None:
        self.connections.add(id(conn))
        conn.add_query_logger(self._logged)

    def _logged(self, _: Any) -> None:
        self.queries += 1

    def instrument(self) -> None:
        """Every connection ``asyncpg.connect`` makes from now on is watched (the runner
        opens its own), and every COPY on a watched one counted."""
        connect, copy = asyncpg.connect, asyncpg.Connection.copy_records_to_table
        counts = self

        async def watched_connect(*args: Any, **kwargs: Any) -> Any:
            conn = await connect(*args, **kwargs)
            counts.watch(conn)
            return conn

        async def counted_copy(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if id(conn) in counts.connections:
                counts.copies += 1
            return await copy(conn, *args, **kwargs)

        asyncpg.connect = watched_connect  # type: ignore[assignment]
        asyncpg.Connection.copy_records_to_table = counted_copy  # type: ignore[method-assign]


class _Bench:
    """One child's database, writers, counters and runner."""

    def __init__(self, url: str) -> None:
        from projections.registry import all_projections
        from service.store.eventstore import EventStore

        self.url = url
        self.projections = all_projections
        self.store = EventStore()
        self.counts = Counts()
        self.counts.instrument()
        self.user_id = uuid4()
        self.appended = 0

    async def open(self) -> None:
        self.writers = await asyncpg.create_pool(self.url, min_size=4, max_size=4)
        self.pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=2, init=_init(self.counts)
        )

    async def close(self) -> None:
        await self.pool.close()
        await self.writers.close()

    async def append(self, n: int) -> int:
        events = _order_events(self.user_id, n)
        async with self.writers.acquire() as conn, conn.transaction():
            ids = await self.store.append(conn, events)
        self.appended += len(ids)
        return int(ids[-1])

    async def start(self) -> tuple[Any, asyncio.Task[None]]:
        from service.projecting.runner import ProjectionRunner

        runner = ProjectionRunner(self.pool, self.store, self.projections(), self.url, 1.0)
        task = asyncio.create_task(runner.run())
        names = {p.name for p in self.projections()}
        for _ in range(600):
            if runner.active == names:
                break
            await asyncio.sleep(0.05)
        return runner, task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _child(url: str, mode: str, orders: int) -> dict[str, Any]:
    from service.projecting import runner as runner_module

    bench = _Bench(url)
    await bench.open()
    numbers = range(1000, 1000 + orders)
    try:
        runner, task = await bench.start()
        for n in range(20):  # warm: prepared statements, caches
            assert await runner.wait_for(await bench.append(n), 10)
        appended = bench.appended
        if mode == "backlog":  # appended first, then a runner started to apply them
            await _stop(task)
            last = max([await bench.append(n) for n in numbers])
        await asyncio.sleep(0.5)
        counts = bench.counts.queries + bench.counts.copies
        reads = getattr(runner, "reads", 0)
        cpu, started = time.process_time(), time.perf_counter()
        if mode == "backlog":
            runner, task = await bench.start()
            reads = 0
            assert await runner.wait_for(last, 600), "the runner did not catch up"
        elif mode == "webhooks":  # one at a time, each waited for
            for n in numbers:
                assert await runner.wait_for(await bench.append(n), 10), "it fell behind"
        else:  # four writers, as fast as they go
            ends = await asyncio.gather(*(_write(bench, numbers[w::4]) for w in range(4)))
            assert await runner.wait_for(max(ends), 600), "it fell behind"
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        reads = getattr(runner, "reads", 0) - reads
        statements = bench.counts.queries + bench.counts.copies - counts
        events = bench.appended - appended
        await _stop(task)
        # What the writer alone costs in this process: the same commits, no runner.
        writer_cpu = time.process_time()
        if mode != "backlog":
            await _write(bench, range(100_000, 100_000 + min(orders, 200)))
        writer_cpu = (time.process_time() - writer_cpu) / min(orders, 200)
    finally:
        await bench.close()
    runner_cpu = cpu / orders - (writer_cpu if mode != "backlog" else 0)
    return {
        "runner": runner_module.__file__,
        "commits_per_s": orders / elapsed,
        "events_per_s": events / elapsed,
        "statements_per_commit": statements / orders,
        "runner_cpu_ms_per_commit": 1000 * runner_cpu,
        # The shared reads of the log (the baseline has none: each projection reads its own).
        "reads_per_commit": reads / orders,
    }


async def _write(bench: _Bench, numbers: range) -> int:
    last = 0
    for n in numbers:
        last = await bench.append(n)
    return last


def _init(counts: Counts) -> Any:
    async def init(conn: Any) -> None:
        counts.watch(conn)

    return init


async def _fresh_database(server: str) -> str:
    from service.projecting.rebuild import prepare_database
    from service.store.db import ensure_database

    url = server.rsplit("/", 1)[0] + f"/ledger_bench_live_{secrets.token_hex(3)}"
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        await prepare_database(conn)
    finally:
        await conn.close()
    return url


async def _drop(url: str) -> None:
    from service.store.db import drop_database

    await drop_database(url)


def _run(tree: Path, url: str, mode: str, orders: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--tree", str(tree), "--url", url]
    command += ["--orders", str(orders)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _summary(values: list[float]) -> str:
    return f"{min(values):8.1f} {statistics.median(values):8.1f} {max(values):8.1f}"


def main(args: argparse.Namespace) -> None:
    _import_tree(HERE)
    trees = {"new": HERE} | ({"base": Path(args.base).resolve()} if args.base else {})
    modes = {"webhooks": args.webhooks, "stream": args.stream, "backlog": args.backlog}
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for label in order:
            for mode, orders in modes.items():
                url = asyncio.run(_fresh_database(args.server))
                try:
                    result = _run(trees[label], url, mode, orders)
                finally:
                    asyncio.run(_drop(url))
                results.setdefault((label, mode), []).append(result)
                print(f"round {round_ + 1} {label:<4} {mode:<8} {json.dumps(result)}", flush=True)
    print(f"\n{'':<14} {'metric':<24} {'min':>8} {'median':>8} {'max':>8}")
    metrics = ("commits_per_s", "events_per_s", "statements_per_commit")
    metrics += ("runner_cpu_ms_per_commit", "reads_per_commit")
    for (label, mode), runs in sorted(results.items()):
        for metric in metrics:
            values = [r[metric] for r in runs]
            print(f"{label:<4} {mode:<9} {metric:<24} {_summary(values)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", help="a PostgreSQL URL (its database is ignored)")
    parser.add_argument("--base", help="the tree of the baseline (e.g. a git worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--webhooks", type=int, default=300, help="orders, one wait each")
    parser.add_argument("--stream", type=int, default=1000, help="orders, four writers")
    parser.add_argument("--backlog", type=int, default=2000, help="orders, then a runner")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--orders", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _import_tree(Path(arguments.tree))
        print(json.dumps(asyncio.run(_child(arguments.url, arguments.child, arguments.orders))))
    else:
        main(arguments)
