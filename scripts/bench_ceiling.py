"""The ceiling of scripts/bench_ingest.py: a bare aiohttp handler that reads a webhook body,
parses it with orjson and answers a small JSON, with nothing behind it (no database, no
access log). What any aiohttp service on this machine can answer at most.

Run as: python scripts/bench_ceiling.py PORT (bench_ingest.py starts and stops it).
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web

ANSWER = b'{"status":"recorded"}'


async def webhook(request: web.Request) -> web.Response:
    orjson.loads(await request.read())
    return web.Response(body=ANSWER, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/webhook/woocommerce/{token}", webhook)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
