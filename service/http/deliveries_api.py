"""The delivery log over HTTP: ``GET /api/deliveries`` (filtered, cursor-paged, newest first)
and ``GET /api/deliveries/{delivery_id}``.

Authenticated with the API key like the rest of the query API; a user sees only their own
deliveries. Log rows are written in the background (service/intake/delivery_log.py): before
reading, a request has this process write what it has queued, so a delivery answered by this
process is in the answer to a query that follows it.
"""

from __future__ import annotations

from aiohttp import web

from aggregates.values import PLATFORMS
from service.audit import deliveries
from service.http.errors import InvalidParameterError, NotFoundError
from service.http.freshness import own_deliveries_logged
from service.http.keys import POOL
from service.http.params import (
    MAX_INT,
    MAX_KEY_LENGTH,
    authenticate,
    int_param,
    respond,
    time_param,
)
from service.intake.delivery_rows import LOG_OUTCOMES
from service.store.db import connection

DEFAULT_LIMIT = 100


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None and ("\x00" in value or len(value) > MAX_KEY_LENGTH):
        raise InvalidParameterError(f"{name} must be at most {MAX_KEY_LENGTH} characters")
    return value


def _query(request: web.Request) -> deliveries.DeliveryQuery:
    platform = _text(request, "platform")
    if platform is not None and platform not in PLATFORMS:
        raise InvalidParameterError(f"platform must be one of {', '.join(sorted(PLATFORMS))}")
    outcome = _text(request, "outcome")
    if outcome is not None and outcome not in LOG_OUTCOMES:
        raise InvalidParameterError(f"outcome must be one of {', '.join(sorted(LOG_OUTCOMES))}")
    return deliveries.DeliveryQuery(
        outcome=outcome,
        platform=platform,
        topic=_text(request, "topic"),
        received_from=time_param(request, "from"),
        received_to=time_param(request, "to"),
        external_id=_text(request, "external_id"),
    )


async def list_deliveries(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
    query = _query(request)
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, deliveries.MAX_LIMIT)
    cursor = _text(request, "cursor")
    await own_deliveries_logged(request)
    async with connection(request.app[POOL]) as conn:
        try:
            page = await deliveries.list_deliveries(conn, user_id, query, cursor, limit)
        except deliveries.InvalidCursorError as err:
            raise InvalidParameterError(str(err)) from None
    return respond({"deliveries": page.items, "next_cursor": page.next_cursor})


async def get_delivery(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
    raw = request.match_info["delivery_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and 0 < int(raw) <= MAX_INT):
        raise NotFoundError("no such delivery")
    await own_deliveries_logged(request)
    async with connection(request.app[POOL]) as conn:
        found = await deliveries.get_delivery(conn, user_id, int(raw))
    if found is None:
        raise NotFoundError("no such delivery")
    return respond(found)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/deliveries", list_deliveries)
    app.router.add_get("/api/deliveries/{delivery_id}", get_delivery)
