"""The query API: each user's own sales, stock, catalogue, inbox and lookups.

Authenticated with the user's API key (``Authorization: Bearer KEY``), never the webhook
token. Pages are keyset cursors, opaque to callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from projections import lookup, products, sales, stock_queries
from service.http.errors import InvalidParameterError, NotFoundError
from service.http.freshness import reader
from service.http.keys import POOL
from service.http.params import (
    MAX_INT,
    MAX_KEY_LENGTH,
    authenticate,
    decode_cursor,
    encode_cursor,
    in_utc,
    limit_param,
    respond,
    text_param,
    time_param,
    uuid_param,
)
from service.intake import inbox
from service.store.db import connection


async def list_sales(request: web.Request) -> web.Response:
    user_id = await reader(request)
    platform = request.query.get("platform") or None
    if platform not in (None, "woocommerce", "shopify"):
        raise InvalidParameterError("platform must be woocommerce or shopify")
    after = _sales_cursor(decode_cursor(request))
    async with connection(request.app[POOL]) as conn:
        items, next_after = await sales.list_sales(
            conn,
            user_id,
            limit=limit_param(request),
            after=after,
            platform=platform,
            since=time_param(request, "from"),
            until=time_param(request, "to"),
        )
    return respond({"items": items, "next_cursor": encode_cursor(next_after)})


def _sales_cursor(raw: Any) -> tuple[datetime, UUID] | None:
    if raw is None:
        return None
    try:
        when, sale_id = raw
        if not (isinstance(when, str) and isinstance(sale_id, str)):
            raise TypeError
        return in_utc(datetime.fromisoformat(when), "cursor"), UUID(sale_id)
    except (TypeError, ValueError):
        raise InvalidParameterError("cursor is not one this API issued") from None


async def get_sale(request: web.Request) -> web.Response:
    user_id = await reader(request)
    sale_id = uuid_param(request, "sale_id")
    async with connection(request.app[POOL]) as conn:
        sale = await sales.get_sale(conn, user_id, sale_id)
    if sale is None:
        raise NotFoundError("no such sale")
    return respond(sale)


def _text_cursor(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str) and "\x00" not in raw and len(raw) <= MAX_KEY_LENGTH:
        return raw
    raise InvalidParameterError("cursor is not one this API issued")


_TRACKED = {"true": True, "false": False}


async def list_stock(request: web.Request) -> web.Response:
    user_id = await reader(request)
    after = _text_cursor(decode_cursor(request))
    raw = request.query.get("tracked")
    if raw is not None and raw not in _TRACKED:
        raise InvalidParameterError("tracked must be true or false")
    async with connection(request.app[POOL]) as conn:
        items, next_after = await stock_queries.list_stock(
            conn,
            user_id,
            limit=limit_param(request),
            after=after,
            tracked=None if raw is None else _TRACKED[raw],
        )
    return respond({"items": items, "next_cursor": encode_cursor(next_after)})


async def get_stock(request: web.Request) -> web.Response:
    user_id = await reader(request)
    async with connection(request.app[POOL]) as conn:
        item = await stock_queries.get_stock(conn, user_id, text_param(request, "product_ref"))
    if item is None:
        raise NotFoundError("no stock is recorded for this product")
    return respond(item)


async def list_products(request: web.Request) -> web.Response:
    user_id = await reader(request)
    after = _text_cursor(decode_cursor(request))
    async with connection(request.app[POOL]) as conn:
        items, next_after = await products.list_products(
            conn, user_id, limit=limit_param(request), after=after
        )
    return respond({"items": items, "next_cursor": encode_cursor(next_after)})


async def list_inbox(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
    before = decode_cursor(request)
    if before is not None and not (type(before) is int and 0 < before <= MAX_INT):
        raise InvalidParameterError("cursor is not one this API issued")
    async with connection(request.app[POOL]) as conn:
        items, next_before = await inbox.list_entries(
            conn, user_id, limit=limit_param(request), before=before
        )
    return respond({"items": items, "next_cursor": encode_cursor(next_before)})


async def lookup_order(request: web.Request) -> web.Response:
    user_id = await reader(request)
    platform = text_param(request, "platform")
    external_id = text_param(request, "external_id")
    async with connection(request.app[POOL]) as conn:
        found = await lookup.find_order(conn, user_id, platform, external_id)
    if found is None:
        raise NotFoundError("no order with this external id has been received")
    if found["sale_id"] is None:
        raise NotFoundError(
            f"order {external_id} was received but is not a sale (yet): "
            f"its platform status is {found['platform_status']}"
        )
    return respond(found)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/sales", list_sales)
    app.router.add_get("/api/sales/{sale_id}", get_sale)
    app.router.add_get("/api/stock", list_stock)
    app.router.add_get("/api/stock/{product_ref}", get_stock)
    app.router.add_get("/api/products", list_products)
    app.router.add_get("/api/inbox", list_inbox)
    app.router.add_get("/api/lookup/{platform}/orders/{external_id}", lookup_order)
