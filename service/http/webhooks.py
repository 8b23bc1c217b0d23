"""The three webhook endpoints. Thin: read, hand to the intake, answer in JSON."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from service.adapters import shopify, woocommerce
from service.adapters.headers import delivery_headers
from service.http.errors import BodyTimeoutError, IncompleteBodyError
from service.http.keys import INTAKE, SETTINGS

log = logging.getLogger(__name__)

_PREFIXES = {"woocommerce": woocommerce.HEADER_PREFIX, "shopify": shopify.HEADER_PREFIX}


async def _read(request: web.Request, platform: str) -> bytes:
    """The whole body, within ``LEDGER_BODY_READ_TIMEOUT``: a body that never finishes
    arriving must not hold its connection (and a worker) for ever."""
    try:
        return await asyncio.wait_for(request.read(), request.app[SETTINGS].body_read_timeout)
    except TimeoutError:
        log.info("a %s webhook body did not arrive in time: answered 408", platform)
        raise BodyTimeoutError() from None
    except ConnectionResetError:
        # Nothing to answer and nothing lost: the platform did not finish sending.
        log.info("a %s webhook client went away before sending the whole body", platform)
        raise IncompleteBodyError() from None


async def _receive(request: web.Request, platform: str, kind: str) -> web.Response:
    body = await _read(request, platform)
    if platform == "woocommerce" and woocommerce.is_ping(request.headers, body):
        kind = "ping"
    headers = delivery_headers(request.headers, _PREFIXES[platform])
    answer = await request.app[INTAKE].receive(
        request.match_info["token"], platform, kind, headers, body
    )
    return web.json_response(answer.body, status=answer.http_status)


async def woocommerce_order(request: web.Request) -> web.Response:
    return await _receive(request, "woocommerce", "order")


async def woocommerce_product(request: web.Request) -> web.Response:
    return await _receive(request, "woocommerce", "product")


async def shopify_order(request: web.Request) -> web.Response:
    return await _receive(request, "shopify", "order")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/webhook/woocommerce/{token}", woocommerce_order)
    app.router.add_post("/api/webhook/woocommerce/{token}/producto", woocommerce_product)
    app.router.add_post("/api/webhook/shopify/{token}", shopify_order)
