"""Round trips per webhook, counted in process for scripts/bench_ingest.py.

The service's app (``create_app``) runs on a port of this process, its pool handing every new
connection to ``add_query_logger`` (the ``pool_init`` hook of create_app), and deliveries are
sent one at a time, so the queries between a request and its answer are that request's. Each
logged query is one round trip: asyncpg sends a statement with its parameters and a Sync and
waits once, and a statement's first prepare (one more, per connection) is paid during the
warm-up, before counting. The pool's reset of a released connection (``SELECT
pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;``) is a round trip too.

The request path is counted with the projection runner off (the answer's read-your-writes
wait then has nothing to wait for; with the runner on it only asks the database when another
process holds a projection, which is not the case here). The runner's round trips are counted
after it, through ``ProjectionRunner.catch_up`` on the same pool (the batch a live runner
applies after each wake-up): once for all deliveries together (batched) and once after each
delivery (what an idle service does per delivery); the pool's resets are left out there,
since a live runner keeps its own connection.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from bench_load import Webhook, load_template, order_stream

from projections.registry import all_projections
from service.accounts.users import create_user
from service.http.app import create_app
from service.http.keys import POOL, STORE
from service.projecting.rebuild import prepare_database
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.db import drop_database, ensure_database

RESET = "SELECT pg_advisory_unlock_all()"


class QueryLog:
    """Every query the pool's connections send, in order."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    async def attach(self, conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda q: self.queries.append(q.query))

    def since(self, mark: int) -> list[str]:
        return self.queries[mark:]


def _shape(query: str) -> str:
    return " ".join(query.split())[:70]


async def _post(session: aiohttp.ClientSession, url: str, webhook: Webhook) -> str:
    async with session.post(url, data=webhook.body, headers=webhook.headers()) as resp:
        body = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"round-trip count: answer {resp.status} {body}")
        return str(body["status"])


async def count(database_url: str, new: int = 200, warm: int = 30) -> dict[str, Any]:
    await ensure_database(database_url)
    try:
        return await _count(database_url, new, warm)
    finally:
        await drop_database(database_url)


async def _count(database_url: str, new: int, warm: int) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        await prepare_database(conn)
        user = await create_user(conn, "bench")
    finally:
        await conn.close()
    log = QueryLog()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-trips-") as spool:
        base = Settings.from_env({"DATABASE_URL": database_url})
        settings = dataclasses.replace(
            base, run_projections=False, token_cache_refresh=3600.0, spool_dir=Path(spool)
        )
        runner = web.AppRunner(create_app(settings, pool_init=log.attach), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/api/webhook/woocommerce/{user.webhook_token}"
        try:
            return await _measure(runner.app, url, log, new, warm)
        finally:
            await runner.cleanup()


async def _measure(
    app: web.Application, url: str, log: QueryLog, new: int, warm: int
) -> dict[str, Any]:
    stream = order_stream(load_template(), warm + new + 40, first_id=1, seed=7, lag=5)
    per: dict[bool, list[int]] = {False: [], True: []}
    shapes: dict[bool, Counter[str]] = {False: Counter(), True: Counter()}
    outcomes: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for webhook in stream[:warm]:
            await _post(session, url, webhook)
        for webhook in stream[warm:]:
            mark = len(log.queries)
            outcomes[await _post(session, url, webhook)] += 1
            queries = log.since(mark)
            per[webhook.redelivery].append(len(queries))
            shapes[webhook.redelivery].update(_shape(q) for q in queries)
        runner = ProjectionRunner(app[POOL], app[STORE], all_projections(), "", 1.0)
        batched = await _runner_trips(runner, log)
        one_by_one = []
        for webhook in order_stream(load_template(), 20, first_id=10**6, seed=8, redelivery=0):
            await _post(session, url, webhook)
            one_by_one.append(await _runner_trips(runner, log))
    new_orders, repeats = per[False], per[True]
    return {
        "new_order": sum(new_orders) / len(new_orders),
        "redelivery": sum(repeats) / len(repeats) if repeats else None,
        "new_orders_counted": len(new_orders),
        "redeliveries_counted": len(repeats),
        "outcomes": dict(outcomes),
        "new_order_statements": _per(shapes[False], len(new_orders)),
        "redelivery_statements": _per(shapes[True], len(repeats)),
        "runner_batched": batched / len(stream),
        "runner_one_by_one": sum(one_by_one) / len(one_by_one),
        "projections": len(runner.projections),
    }


async def _runner_trips(runner: ProjectionRunner, log: QueryLog) -> int:
    mark = len(log.queries)
    await runner.catch_up()
    return sum(1 for q in log.since(mark) if not q.startswith(RESET))


def _per(shapes: Counter[str], n: int) -> dict[str, float]:
    return {shape: round(c / n, 2) for shape, c in shapes.most_common()} if n else {}
