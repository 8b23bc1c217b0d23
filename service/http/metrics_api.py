"""GET /metrics: the Prometheus text exposition of this process's series.

Disabled (404 ``metrics_disabled``) unless ``LEDGER_METRICS_TOKEN`` is set; then it asks for
``Authorization: Bearer TOKEN`` (compared in constant time; 401 otherwise). The series are
those of this process: with ``--workers N`` each worker has its own.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from projections.registry import all_projections
from service.http.errors import ApiError, UnauthorizedError
from service.http.keys import INTAKE, METRICS, POOL, SETTINGS, STORE
from service.metrics import sample


class MetricsDisabledError(ApiError):
    """Metrics are disabled: set LEDGER_METRICS_TOKEN to enable GET /metrics."""

    status = 404
    code = "metrics_disabled"


class MetricsUnauthorizedError(UnauthorizedError):
    """The metrics token is required: send Authorization: Bearer LEDGER_METRICS_TOKEN."""


def _check(request: web.Request) -> None:
    expected = request.app[SETTINGS].metrics_token
    if expected is None:
        raise MetricsDisabledError()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode()
    ):
        raise MetricsUnauthorizedError(headers={"WWW-Authenticate": "Bearer"})


async def metrics(request: web.Request) -> web.Response:
    _check(request)
    app = request.app
    names = [p.name for p in all_projections()]
    found = await sample.take(app[POOL], app[STORE], app[INTAKE].spool, names)
    series = app[METRICS]
    series.sampled.sample = found
    body = generate_latest(series.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
