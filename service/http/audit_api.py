"""The audit API: stock adjustments, stock history, sale traces and the event export.

Thin handlers over service/audit/adjustments.py and service/audit/trace.py; authenticated
like the rest of the query API, and every user sees only their own data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from aiohttp import web

from aggregates.stock_adjustment import (
    MAX_KEY_LENGTH,
    AdjustmentConflictError,
    InvalidAdjustmentError,
)
from projections import stock_queries
from service.accounts import users
from service.audit import adjustments, trace
from service.http.errors import ApiError, InvalidParameterError, NotFoundError
from service.http.freshness import reader
from service.http.keys import POOL, RUNNER, SETTINGS, STORE
from service.http.params import MAX_INT, int_param, respond, text_param, uuid_param
from service.store.db import connection

MAX_PAGE = 1000
DEFAULT_EVENTS_PAGE = 100


class IdempotencyConflictError(ApiError):
    """This Idempotency-Key was already used for a different adjustment."""

    status = 409
    code = "idempotency_conflict"


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"the Idempotency-Key header is required: 1 to {MAX_KEY_LENGTH} characters"
        )
    return key


async def _adjustment_body(request: web.Request) -> tuple[Any, Any, bool]:
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise InvalidParameterError('the body must be JSON: {"by": int, "reason": str}') from None
    if not isinstance(doc, dict):
        raise InvalidParameterError('the body must be a JSON object: {"by": int, "reason": str}')
    create = doc.get("create", False)
    if not isinstance(create, bool):
        raise InvalidParameterError("create must be true or false")
    return doc.get("by"), doc.get("reason"), create


def _product_ref(request: web.Request) -> str:
    """The path's product reference, percent-decoded once; one whose escapes are not UTF-8
    (``woocommerce:%FF``, which the router leaves as it is) names nothing."""
    raw = request.raw_path.split("?", 1)[0].split("/")[3]
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterError("the product reference is not UTF-8 once decoded") from None
    return request.match_info["product_ref"]


async def post_adjustment(request: web.Request) -> web.Response:
    user_id = await reader(request)  # it checks the product's stock exists
    product_ref = _product_ref(request)
    key = _idempotency_key(request)
    by, reason, create = await _adjustment_body(request)
    pool = request.app[POOL]
    async with connection(pool) as conn:
        name = await users.name_of(conn, user_id)
    try:
        done = await adjustments.adjust(
            pool,
            request.app[STORE],
            user_id,
            key,
            product_ref,
            by,
            reason,
            f"api:{name}",
            create=create,
        )
    except InvalidAdjustmentError as exc:
        raise InvalidParameterError(str(exc)) from None
    except adjustments.UnknownProductError:
        raise NotFoundError(
            f'the ledger has never seen {product_ref}: send "create": true to adjust it'
            " all the same"
        ) from None
    except AdjustmentConflictError:
        raise IdempotencyConflictError() from None
    runner = request.app[RUNNER]
    if runner is not None and done.notification_id is not None:
        await runner.wait_for(done.notification_id, request.app[SETTINGS].read_your_writes_timeout)
    async with connection(pool) as conn:
        level = await stock_queries.get_stock(conn, user_id, done.product_ref)
    body = {
        "status": done.status,
        "adjustment_id": str(done.adjustment_id),
        "product_ref": done.product_ref,
        "by": done.by,
        "quantity": None if level is None else level["quantity"],
    }
    return respond(body, status=201 if done.status == "adjusted" else 200)


async def stock_history(request: web.Request) -> web.Response:
    user_id = await reader(request)
    product_ref = text_param(request, "product_ref")
    after = int_param(request, "after", 0, 0, MAX_INT)
    limit = int_param(request, "limit", MAX_PAGE, 1, MAX_PAGE)
    async with connection(request.app[POOL]) as conn:
        found = await trace.stock_history(conn, user_id, product_ref, after=after, limit=limit)
    if found is None:
        raise NotFoundError("no stock is recorded for this product")
    return respond(found)


async def sale_trace(request: web.Request) -> web.Response:
    user_id = await reader(request)
    sale_id = uuid_param(request, "sale_id")
    try:
        async with connection(request.app[POOL]) as conn:
            found = await trace.trace(conn, request.app[STORE], user_id, sale_id)
    except trace.TraceError:
        raise NotFoundError("no such sale") from None
    return respond(found)


async def list_events(request: web.Request) -> web.Response:
    user_id = await reader(request)
    after = int_param(request, "after", 0, 0, MAX_INT)
    limit = int_param(request, "limit", DEFAULT_EVENTS_PAGE, 1, MAX_PAGE)
    async with connection(request.app[POOL]) as conn:
        items, next_after = await trace.export_page(
            conn, request.app[STORE], user_id, after=after, limit=limit
        )
    return respond({"items": items, "next_after": next_after})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/stock/{product_ref}/adjustments", post_adjustment)
    app.router.add_get("/api/stock/{product_ref}/history", stock_history)
    app.router.add_get("/api/sales/{sale_id}/trace", sale_trace)
    app.router.add_get("/api/events", list_events)
