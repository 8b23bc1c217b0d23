"""The query API: each user's own sales, stock, catalogue, inbox and lookups.

Authenticated with the user's API key (``Authorization: Bearer KEY``), never the webhook
token. Pages are keyset cursors, opaque to callers.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from projections import lookup, products, sales, stock
from service import inbox, users
from service.db import connection
from service.errors import InvalidParameterError, NotFoundError, UnauthorizedError
from service.keys import POOL

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
# No key we store is longer (ids are at most 64 characters, SKU references 268).
MAX_KEY_LENGTH = 300


def _default(obj: Any) -> Any:
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(type(obj).__qualname__)


def respond(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=_default), status=status, content_type="application/json"
    )


async def authenticate(request: web.Request) -> UUID:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError()
    async with connection(request.app[POOL]) as conn:
        user_id = await users.user_for_api_key(conn, key.strip())
    if user_id is None:
        raise UnauthorizedError()
    return user_id


# No position or count we store is larger: a bigint.
MAX_INT = 2**63 - 1


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter from ``low`` to ``high``; ASCII digits only, and no
    longer than the largest bigint (so 5,000 digits are refused before they are parsed)."""
    raw = request.query.get(name, str(default))
    ok = raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_INT))
    if not ok or not low <= int(raw) <= high:
        raise InvalidParameterError(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def limit_param(request: web.Request) -> int:
    return int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def time_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidParameterError(f"{name} must be an ISO 8601 date or time") from None
    if value.tzinfo is None:
        raise InvalidParameterError(f"{name} must carry a UTC offset, e.g. 2026-01-31T00:00Z")
    return _in_utc(value, name)


def _in_utc(value: datetime, name: str) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidParameterError(f"{name} is out of range") from None


def text_param(request: web.Request, name: str) -> str:
    """A path segment used as a key; one no row can have (NUL, absurd length) finds nothing."""
    value = request.match_info[name]
    if "\x00" in value or len(value) > MAX_KEY_LENGTH:
        raise NotFoundError(f"no such {name.replace('_', ' ')}")
    return value


def encode_cursor(position: Any) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(position, default=_default)).decode()


def decode_cursor(request: web.Request) -> Any:
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(raw.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidParameterError("cursor is not one this API issued") from None


def uuid_param(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFoundError(f"no such {name.replace('_', ' ')}") from None


async def list_sales(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
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
        return _in_utc(datetime.fromisoformat(when), "cursor"), UUID(sale_id)
    except (TypeError, ValueError):
        raise InvalidParameterError("cursor is not one this API issued") from None


async def get_sale(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
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
    user_id = await authenticate(request)
    after = _text_cursor(decode_cursor(request))
    raw = request.query.get("tracked")
    if raw is not None and raw not in _TRACKED:
        raise InvalidParameterError("tracked must be true or false")
    async with connection(request.app[POOL]) as conn:
        items, next_after = await stock.list_stock(
            conn,
            user_id,
            limit=limit_param(request),
            after=after,
            tracked=None if raw is None else _TRACKED[raw],
        )
    return respond({"items": items, "next_cursor": encode_cursor(next_after)})


async def get_stock(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
    async with connection(request.app[POOL]) as conn:
        item = await stock.get_stock(conn, user_id, text_param(request, "product_ref"))
    if item is None:
        raise NotFoundError("no stock is recorded for this product")
    return respond(item)


async def list_products(request: web.Request) -> web.Response:
    user_id = await authenticate(request)
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
    user_id = await authenticate(request)
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
    # Imported here: its handlers build on this module's authentication and answers.
    from service import api_audit

    api_audit.add_routes(app)
