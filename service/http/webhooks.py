"""The three webhook endpoints. Thin: read, hand to the intake, answer in JSON."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from service.adapters.headers import delivery_headers
from service.adapters.registry import PLATFORMS
from service.http.errors import BodyTimeoutError, IncompleteBodyError
from service.http.keys import DELIVERY_LOG, DELIVERY_OBSERVERS, INTAKE, SETTINGS
from service.intake.delivery import SpooledDelivery
from service.intake.delivery_rows import log_row
from service.intake.errors import IntakeFullError
from service.intake.ingest import KEPT, RECORDED, Answer
from service.intake.observed import finished, notify

log = logging.getLogger(__name__)

# What the platform hears, for every outcome. Only a signature refusal is not a 2xx: a body
# we could not use is kept (202), and refusing it would only make the platform disable the
# webhook for what comes next; a delivery sent with a wrong signature must not look
# accepted. WooCommerce counts only an exact 200 as a successful ping.
STATUSES: dict[str, int] = {
    **dict.fromkeys(RECORDED, 200),
    **dict.fromkeys(KEPT, 202),
    "not_kept": 202,
    "invalid_signature": 401,
    "ping": 200,
}


def http_status(answer: Answer) -> int:
    """The status for an answer's outcome; an outcome without one is a bug (KeyError)."""
    return STATUSES[answer.outcome]


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


async def _receive(request: web.Request, platform: str, endpoint: str) -> web.Response:
    started = time.perf_counter()
    body = await _read(request, platform)
    adapter = PLATFORMS[platform]
    kind = "ping" if adapter.is_ping(request.headers, body) else endpoint
    headers = delivery_headers(request.headers, adapter.HEADER_PREFIX)
    try:
        answer = await request.app[INTAKE].receive(
            request.match_info["token"], platform, kind, headers, body
        )
    except IntakeFullError as err:
        if err.delivery is not None:  # refused, it is still a delivery: logged and counted
            _log(request, err.delivery, None, endpoint, 503, started)
            refused = Answer("unavailable", {"error": "unavailable"}, delivery=err.delivery)
            _observe(request, err.delivery, kind, refused, 503, started)
        raise
    status = http_status(answer)
    if answer.delivery is not None:
        _log(request, answer.delivery, answer, endpoint, status, started)
        _observe(request, answer.delivery, kind, answer, status, started)
    return web.json_response(answer.body, status=status)


def _log(
    request: web.Request,
    delivery: SpooledDelivery,
    answer: Answer | None,
    endpoint: str,
    status: int,
    started: float,
) -> None:
    """Queue the delivery's log row (written in the background: no round trip here)."""
    took = (time.perf_counter() - started) * 1000
    row = log_row(delivery, answer, endpoint=endpoint, status=status, duration_ms=took)
    request.app[DELIVERY_LOG].add(row)


def _observe(
    request: web.Request,
    delivery: SpooledDelivery,
    kind: str,
    answer: Answer,
    status: int,
    started: float,
) -> None:
    """Tell the delivery observers (metrics, the delivery log line) what was answered."""
    latency = time.perf_counter() - started
    done = finished(
        delivery.user_id, delivery.platform, kind, delivery.headers, answer, status, latency
    )
    observers = request.app[DELIVERY_OBSERVERS]
    notify(observers, done)


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
