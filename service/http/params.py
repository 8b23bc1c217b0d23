"""What the query and audit APIs share: authentication, answers, and reading parameters.

Every parameter that cannot be used is an ``invalid_parameter`` (400), never a 500: numbers
are ASCII digits within a bigint, times carry an offset, cursors are ones this API issued.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from projections import encoding
from service.accounts import users
from service.http.errors import InvalidParameterError, NotFoundError, UnauthorizedError
from service.http.keys import POOL
from service.store.db import connection

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
# No key we store is longer (ids are at most 64 characters, SKU references 268).
MAX_KEY_LENGTH = 300


def respond(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=encoding.dumps(data), status=status, content_type="application/json")


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
    return in_utc(value, name)


def in_utc(value: datetime, name: str) -> datetime:
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
    return base64.urlsafe_b64encode(encoding.dumps(position)).decode()


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
