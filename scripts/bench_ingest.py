"""Benchmark: webhook ingestion, side by side with the library and a bare aiohttp ceiling.

Each round, on fresh scratch databases of the server ``--server`` names (dropped at the end):

1. the service (``ledger serve``, its own process, a user made with ``ledger users create``)
   under wrk at 16 and at 64 connections (closed loop): requests/s, new orders/s, latency,
   non-2xx; afterwards the projection lag (from the service's last answer, which its access
   log dates, since wrk stops waiting for the requests in flight when its time is up, until
   every projection_positions row reaches max(notification_id) and the spool is empty) and
   whether the sales are exactly the unique order ids sent; CPU ms per webhook of the
   service and of its PostgreSQL backends;
2. the open-loop sender at fixed rates (latency from the scheduled send, see
   bench_openloop.py), and the highest rate whose p99 is within 50 ms with no error;
3. an overload: twice the capacity measured at 64 connections, for 30 s: answers within 5 s,
   non-2xx, time to drain, and no acknowledged order lost;
4. the eventsourcing library's ``Application`` saving the same deliveries (bench_library.py),
   then the bare aiohttp handler (bench_ceiling.py) under the same wrk load at 64
   connections; ratios ours/library and ours/ceiling from this round's own runs.

Before the rounds, once: round trips per webhook, counted in process (bench_trips.py). Every
run's order ids are its own (run k of a round numbers its orders from k * 10,000,000).
Writes var/bench/ingest-<time>.json and .png (latency against rate) and prints one table.
Exits 1 when a run lost or invented a sale. Run through ./scripts/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import bench_report
import bench_service as sut
import bench_trips
import orjson
from bench_load import Webhook, highest_rate_within, load_template, order_stream, summarize

from service.store.db import drop_database, ensure_database

OUT = sut.ROOT / "var" / "bench"
WRK_THREADS = 2
P99_LIMIT_MS = 50.0
OVERLOAD_LIMIT_S = 5.0  # Shopify's wait for an answer; WooCommerce's is longer


class Round:
    """One round's service, scratch database and results."""

    def __init__(self, args: argparse.Namespace, number: int, workdir: Path) -> None:
        self.args, self.number, self.workdir = args, number, workdir
        self.template = load_template()
        self.url = sut.scratch_url(args.server, f"r{number}")
        self.runs = 0
        self.access = sut.AccessLog(workdir / "service.log")
        self.posted = 0  # webhooks sent to the service so far
        self.pace: float | None = None  # requests/s of the last closed-loop run
        self.result: dict[str, Any] = {"round": number, "load_average_start": sut.load_average()}

    def stream(self, count: int) -> tuple[list[Webhook], int]:
        self.runs += 1
        first = self.runs * 10_000_000
        seed = self.number * 1000 + self.runs
        return order_stream(self.template, max(count, 1), first_id=first, seed=seed), first

    async def run(self) -> dict[str, Any]:
        await ensure_database(self.url)
        try:
            await self._ours()
        finally:
            await drop_database(self.url)
        await self._baselines()
        ours = self.result["closed"]["64"]["requests_per_s"]
        self.result["ours_over_library"] = ours / self.result["library"]["rate"]
        self.result["ours_over_ceiling"] = ours / self.result["ceiling"]["requests_per_s"]
        self.result["load_average_end"] = sut.load_average()
        return self.result

    async def _ours(self) -> None:
        sut.run_ledger(["db", "migrate"], self.url)
        user = orjson.loads(sut.run_ledger(["users", "create", "bench", "--json"], self.url))
        self.user_id = user["user_id"]
        service = sut.start_service(self.url, self.workdir, {})
        self.monitor = await asyncpg.connect(self.url)
        try:
            await service.wait_ready()
            self.service = service
            self.hook = f"{service.base}/api/webhook/woocommerce/{user['webhook_token']}"
            self.result["rss_idle_mib"] = sut.rss_mib(service.proc.pid)
            await self._closed_runs()
            await self._open_runs()
            self.result["rss_end_mib"] = sut.rss_mib(service.proc.pid)
        finally:
            await self.monitor.close()
            service.stop()

    async def answered(self, sent: int, within: float) -> tuple[float | None, Counter[int]]:
        """Wait until the service has answered all ``sent`` webhooks of a run: when (None:
        not within ``within`` s), and the statuses it answered them with."""
        before = Counter(self.access.statuses)
        self.posted += sent
        when = await self.access.wait_for(self.posted, within)
        if when is None:
            self.posted = self.access.answered()  # some never reached it: count from here
        return when, self.access.statuses - before

    async def caught_up(self, since: float, sent: int) -> float | None:
        """The projection lag from ``since`` (see bench_service.caught_up_after), waiting at
        most for a minute more than twice the time the ``sent`` webhooks take at the last
        closed-loop pace: a spool filled under overload drains at that pace."""
        within = 60 + 2 * sent / max(self.pace or 1.0, 1.0)
        return await sut.caught_up_after(self.monitor, since, self.workdir, within)

    async def _closed_runs(self) -> None:
        await self.closed(16, min(3.0, self.args.duration))  # a warm-up, not reported
        self.result["closed"] = {}
        for connections in (16, 64):
            run = await self.closed(connections, self.args.duration)
            self.result["closed"][str(connections)] = run

    def closed_count(self, seconds: float) -> int:
        """Deliveries to prepare for a closed-loop run: three times the last run's pace, at
        most ``--max-rate`` a second (a run that outpaces them wraps round: repeats, counted)."""
        top = self.args.max_rate
        return int((min(top, 3 * self.pace) if self.pace else top) * seconds) + 500

    async def closed(self, connections: int, seconds: float) -> dict[str, Any]:
        stream, first = self.stream(self.closed_count(seconds))
        prefix = self.workdir / f"wrk-{self.runs}"
        slices = sut.wrk_files(prefix, stream, WRK_THREADS)
        monitor_pid = await self.monitor.fetchval("SELECT pg_backend_pid()")
        meter = sut.CpuMeter(self.service.proc.pid, urlsplit(self.url).path[1:], monitor_pid)
        wrk = await asyncio.to_thread(sut.run_wrk, self.hook, prefix, slices, connections, seconds)
        # What the baselines send: the same deliveries (the library), the same files (wrk).
        self.sent, self.files = wrk.pop("sent_webhooks"), (prefix, slices)
        # wrk leaves the requests in flight when its time is up: the last answer is the
        # service's, read from its access log.
        last_answer, statuses = await self.answered(len(self.sent), 3 * seconds + 30)
        service_cpu, postgres_cpu = meter.spent()
        lag = None
        if last_answer is not None:
            lag = await self.caught_up(last_answer, len(self.sent))
        unique = {w.order_id for w in self.sent}
        sales = await sut.sales_between(self.monitor, self.user_id, first, first + 10_000_000)
        requests, elapsed = wrk["requests"], wrk["duration_us"] / 1e6
        answered = statuses.total()
        self.pace = requests / elapsed
        return {
            "connections": connections,
            "seconds": elapsed,
            "requests": requests,
            "requests_per_s": requests / elapsed,
            # The share of new orders among what was sent, at the rate answers came.
            "new_orders_per_s": requests / elapsed * len(unique) / max(len(self.sent), 1),
            "latency_ms": {k: v / 1000 for k, v in wrk["latency_us"].items()},
            # Counted by the service: also the answers wrk no longer waited for.
            "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "answered_after_the_run": answered - requests,
            "socket_errors": sum(v for k, v in wrk["errors"].items() if k != "status"),
            "sent": len(self.sent),
            "repeats_sent": len(self.sent) - len(unique),
            "unique_ids_sent": len(unique),
            "sales": len(sales),
            "sales_match": sales == unique,
            "projection_lag_s": lag,
            # From the start of the run to its last answer, over the webhooks answered.
            "cpu_ms_per_webhook": {
                "service": service_cpu * 1000 / max(answered, 1),
                "postgres": postgres_cpu * 1000 / max(answered, 1),
            },
        }

    async def _open_runs(self) -> None:
        """The fixed rates, then the overload at twice the 64-connection capacity. A fixed
        rate above the overload's is skipped (unless ``--all-rates``): the overload run is
        that test, and a backlog of minutes would only delay the rest."""
        a = self.args
        capacity = self.result["closed"]["64"]["requests_per_s"]
        overload_rate = round(2 * capacity)
        self.result["open"] = []
        for rate in a.rates:
            if rate > overload_rate and not a.all_rates:
                skipped = f"above twice the capacity ({overload_rate}/s)"
                self.result["open"].append({"rate": rate, "skipped": skipped})
            else:
                self.result["open"].append(await self.open_loop(rate, a.open_duration))
        done = [r for r in self.result["open"] if "skipped" not in r]
        runs = [(r["rate"], r["latency_ms"]["p99"], r["errors"]) for r in done]
        self.result["highest_rate_p99_within_50ms"] = highest_rate_within(runs, P99_LIMIT_MS)
        overload = await self.open_loop(overload_rate, a.overload_duration)
        overload["capacity_per_s"] = capacity
        self.result["overload"] = overload

    async def open_loop(self, rate: float, seconds: float) -> dict[str, Any]:
        stream, first = self.stream(int(rate * seconds))
        path = self.workdir / f"open-{self.runs}.txt"
        sut.write_stream(path, stream)
        sent = await sut.run_open_loop(self.hook, path, rate)
        # A request the sender gave up on is still answered by the service, later.
        served, statuses = await self.answered(len(stream), 3 * seconds + 30)
        last_answer = max(sent["last_answer"], served or 0.0)
        lag = await self.caught_up(last_answer, len(stream))
        ok = [200 <= s < 300 for s in sent["status"]]
        acked = {w.order_id for w, good in zip(stream, ok, strict=True) if good}
        sales = await sut.sales_between(self.monitor, self.user_id, first, first + 10_000_000)
        latencies = sent["latency_ms"]
        return {
            "rate": rate,
            "seconds": seconds,
            "sent": len(stream),
            "latency_ms": summarize(latencies),
            "errors": len(ok) - sum(ok),
            "non_2xx": sum(1 for s in sent["status"] if s > 0 and not 200 <= s < 300),
            "timeouts": sent["status"].count(0),
            "outcomes": dict(Counter(sent["outcome"])),
            "service_statuses": {str(k): v for k, v in sorted(statuses.items())},
            "answered_within_5s": sum(1 for v in latencies if v <= OVERLOAD_LIMIT_S * 1000),
            "send_lag_ms": sent["send_lag_ms"],
            "last_answer_after_last_send_s": last_answer - sent["last_due"],
            "projection_lag_s": lag,
            "drain_s": None if lag is None else last_answer - sent["last_due"] + lag,
            # Only once caught up: before, an order may still be on its way from the spool.
            "acknowledged_lost": None if lag is None else len(acked - sales),
            "acknowledged_not_recorded": len(acked - sales),
            "sales_not_sent": len(sales - {w.order_id for w in stream}),
        }

    async def _baselines(self) -> None:
        """The library saves the deliveries our 64-connection run sent (the first
        ``--library-max``); the ceiling is sent that run's files, by wrk at 64 connections."""
        path = self.workdir / "library.txt"
        sut.write_stream(path, self.sent[: self.args.library_max])
        library_url = sut.scratch_url(self.args.server, f"lib{self.number}")
        await ensure_database(library_url)
        try:
            self.result["library"] = await sut.run_library(library_url, path)
        finally:
            await drop_database(library_url)
        ceiling = sut.start_ceiling(self.workdir)
        try:
            await ceiling.wait_ready()
            url = f"{ceiling.base}/api/webhook/woocommerce/whk_ceiling"
            prefix, slices = self.files
            seconds = self.args.duration
            wrk = await asyncio.to_thread(sut.run_wrk, url, prefix, slices, 64, seconds)
        finally:
            ceiling.stop()
        self.result["ceiling"] = {
            "requests_per_s": wrk["requests"] / (wrk["duration_us"] / 1e6),
            "latency_ms": {k: v / 1000 for k, v in wrk["latency_us"].items()},
            "non_2xx": wrk["errors"]["status"],
        }


async def main(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_start": sut.load_average(),
        "settings": {k: v for k, v in vars(args).items() if k != "server"},
    }
    print(f"load average {report['load_average_start']}; counting round trips ...", flush=True)
    report["round_trips"] = await bench_trips.count(sut.scratch_url(args.server, "trips"))
    report["rounds"] = []
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="ledger-bench-") as workdir:
            print(f"round {number} of {args.rounds} ...", flush=True)
            report["rounds"].append(await Round(args, number, Path(workdir)).run())
    report["load_average_end"] = sut.load_average()
    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / f"ingest-{started.strftime('%Y%m%dT%H%M%SZ')}"
    report["chart"] = bench_report.chart(report, stem.with_suffix(".png"))
    stem.with_suffix(".json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(bench_report.table(report))
    print(f"\nwritten: {stem.with_suffix('.json')}  {report['chart']}")
    return 0 if bench_report.verified(report) else 1


# (full, --quick): seconds of each closed-loop run, of each fixed rate, of the overload.
DURATIONS = {
    "duration": (15.0, 5.0),
    "open_duration": (10.0, 4.0),
    "overload_duration": (30.0, 10.0),
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--server", required=True, help="a PostgreSQL URL (its database is not used)")
    add("--rounds", type=int, default=1, help="rounds, each ours + library + ceiling")
    add("--quick", action="store_true", help="shorter runs: 5 s, 4 s per rate, 10 s overload")
    add("--duration", type=float, help="seconds of each closed-loop run (15; quick 5)")
    add("--open-duration", type=float, help="seconds of each fixed rate (10; quick 4)")
    add("--overload-duration", type=float, help="seconds of the overload (30; quick 10)")
    add(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        help="fixed rates, per s",
        default=[50.0, 200.0, 500.0, 1000.0],
    )
    add("--all-rates", action="store_true", help="run even rates above twice the capacity")
    add("--max-rate", type=float, default=1500, help="closed loop: deliveries prepared per s")
    add("--library-max", type=int, help="deliveries the library saves at most (4000; quick 1000)")
    args = parser.parse_args(argv)
    for name, (full, quick) in DURATIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.library_max is None:
        args.library_max = 1000 if args.quick else 4000
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
