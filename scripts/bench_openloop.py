"""Open-loop load for scripts/bench_ingest.py: webhooks sent at fixed times, whatever pace the
answers come at, each latency measured from the time its send was *scheduled*.

A closed loop (wrk) waits for an answer before it sends the next request, so a server that
stalls also stalls its load and hides the queue it would have built (coordinated omission).
Here delivery i is due at start + i / rate; its latency runs from then until its answer, so
time spent waiting for a free connection, or for this process to get round to it, counts
too (how late sends started is reported beside, to tell this process's lag from the
server's). A request unanswered after ``--timeout`` seconds is an error.

Run in its own process (bench_ingest.py does); prints one JSON line: per delivery in stream
order its latency (ms), its HTTP status (0: timed out, -1: another client error) and the
outcome the answer named, and the monotonic times of the first due send, the last due send and
the last answer (CLOCK_MONOTONIC, which other processes on the machine share).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import orjson
from bench_load import Webhook, summarize  # scripts/ is on sys.path: this file's folder


async def _send(
    session: aiohttp.ClientSession, url: str, webhook: Webhook, due: float
) -> tuple[float, int, str, float]:
    started = time.monotonic()
    outcome = ""
    try:
        async with session.post(url, data=webhook.body, headers=webhook.headers()) as resp:
            status = resp.status
            body = await resp.read()
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        outcome = str(doc.get("status") or doc.get("error")) if isinstance(doc, dict) else "?"
    except TimeoutError:
        status, outcome = 0, "timeout"
    except aiohttp.ClientError as exc:
        status, outcome = -1, type(exc).__name__
    return (time.monotonic() - due) * 1000, status, outcome, (started - due) * 1000


async def run(url: str, webhooks: list[Webhook], rate: float, give_up: float, limit: int) -> dict:
    connector = aiohttp.TCPConnector(limit=limit)
    client_timeout = aiohttp.ClientTimeout(total=give_up)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        start = time.monotonic() + 0.2
        tasks = []
        for i, webhook in enumerate(webhooks):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, url, webhook, due)))
        results = await asyncio.gather(*tasks)
    last_due = start + (len(webhooks) - 1) / rate
    latencies = [r[0] for r in results]
    return {
        "rate": rate,
        "first_due": start,
        "last_due": last_due,
        "last_answer": max(last_due + r[0] / 1000 for r in results),
        "latency_ms": [round(v, 3) for v in latencies],
        "status": [r[1] for r in results],
        "outcome": [r[2] for r in results],
        "send_lag_ms": summarize(r[3] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, type=Path, help="a stream file")
    parser.add_argument("--rate", required=True, type=float, help="deliveries per second")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=1000, help="open connections at most")
    args = parser.parse_args()
    with args.bodies.open("rb") as f:
        webhooks = [Webhook.from_line(line) for line in f]
    result = asyncio.run(run(args.url, webhooks, args.rate, args.timeout, args.limit))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
