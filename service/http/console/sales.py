"""The sales pages: the list (filters, search, pagination, totals per currency)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from aggregates.values import PLATFORMS
from projections.sales_search import SaleFilter, sales_totals, search_sales
from service.http.console.auth import require_user
from service.http.console.render import render
from service.http.errors import InvalidParameterError
from service.http.freshness import own_writes_applied
from service.http.keys import POOL
from service.http.params import MAX_KEY_LENGTH, decode_cursor, encode_cursor
from service.store.db import connection

PAGE_SIZE = 25
STATUSES = ("pending", "sale", "cancelled", "refunded")
FILTER_FIELDS = ("platform", "status", "from", "to", "q")


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidParameterError(f"{name} must be one of {', '.join(allowed)}")
    return value


def _day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name) or None
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a date: YYYY-MM-DD") from None


def _start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def sale_filter(request: web.Request) -> SaleFilter:
    """The filters of the query string; a day range is whole UTC days, both ends included."""
    text = (request.query.get("q") or "").strip() or None
    if text is not None and (len(text) > MAX_KEY_LENGTH or "\x00" in text):
        raise InvalidParameterError("the search is too long")
    since, until = _day(request, "from"), _day(request, "to")
    if since and until and until < since:
        raise InvalidParameterError("the range ends before it starts")
    return SaleFilter(
        platform=_choice(request, "platform", PLATFORMS),
        status=_choice(request, "status", STATUSES),
        since=_start(since),
        until=_start(until + timedelta(days=1)) if until and until < date.max else None,
        text=text,
    )


def _after(request: web.Request) -> tuple[datetime, UUID] | None:
    raw = decode_cursor(request)
    if raw is None:
        return None
    try:
        when, sale_id = raw
        return datetime.fromisoformat(when).astimezone(UTC), UUID(sale_id)
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterError("cursor is not one this console issued") from None


def _link(request: web.Request, **extra: str) -> str:
    kept = {k: request.query[k] for k in FILTER_FIELDS if request.query.get(k)}
    query = urlencode({**kept, **extra})
    return f"{request.path}?{query}" if query else request.path


async def sales_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    where = sale_filter(request)
    after = _after(request)
    await own_writes_applied(request, user_id)
    async with connection(request.app[POOL]) as conn:
        items, next_after = await search_sales(conn, user_id, where, limit=PAGE_SIZE, after=after)
        totals = await sales_totals(conn, user_id, where)
    next_link = None
    if next_after is not None:
        cursor = encode_cursor([next_after[0].isoformat(), str(next_after[1])])
        next_link = _link(request, cursor=cursor or "")
    context: dict[str, Any] = {
        "items": items,
        "totals": totals,
        "query": {k: request.query.get(k, "") for k in FILTER_FIELDS},
        "platforms": PLATFORMS,
        "statuses": STATUSES,
        "next_link": next_link,
        "first_link": _link(request) if after is not None else None,
    }
    return await render(request, "sales.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/sales", sales_page)
