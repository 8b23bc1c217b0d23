"""The stock pages: levels (search, tracked or not, drift from the platform's count), and a
product's history with its running balance, a chart, and the adjustment form.

The form is idempotent as the API is (POST /api/stock/{ref}/adjustments): each rendering
carries a fresh key in a hidden field, the adjustment's id comes from it, so sending the same
form twice (a double click, a reload of the POST) adjusts once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode
from uuid import UUID

from aiohttp import web
from aiohttp_session import get_session
from markupsafe import Markup

from aggregates.stock_adjustment import AdjustmentConflictError, InvalidAdjustmentError
from projections import stock_queries
from service.accounts import users
from service.audit import adjustments
from service.http.console import i18n
from service.http.console.auth import require_user
from service.http.console.chart import Point, level_chart
from service.http.console.render import language, render, when
from service.http.errors import InvalidParameterError, NotFoundError
from service.http.freshness import own_writes_applied
from service.http.keys import POOL, RUNNER, SETTINGS, STORE
from service.http.params import MAX_INT, MAX_KEY_LENGTH, decode_cursor, encode_cursor, int_param
from service.store.db import connection

PAGE_SIZE = 50
HISTORY_PAGE = 500
TRACKED = {"yes": True, "no": False}
NOTICES = ("adjusted", "duplicate")


def ref_path(product_ref: str) -> str:
    """The console path of a product's stock page (the reference percent-encoded whole)."""
    return "/console/stock/" + quote(product_ref, safe="")


def _search(request: web.Request) -> str | None:
    text = (request.query.get("q") or "").strip() or None
    if text is not None and (len(text) > MAX_KEY_LENGTH or "\x00" in text):
        raise InvalidParameterError(f"the search must be at most {MAX_KEY_LENGTH} characters")
    return text


def _after(request: web.Request) -> str | None:
    raw = decode_cursor(request)
    if raw is None:
        return None
    if isinstance(raw, str) and "\x00" not in raw and len(raw) <= MAX_KEY_LENGTH:
        return raw
    raise InvalidParameterError("cursor is not one this console issued")


async def stock_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    text, after = _search(request), _after(request)
    tracked_raw = request.query.get("tracked") or ""
    if tracked_raw and tracked_raw not in TRACKED:
        raise InvalidParameterError("tracked must be yes or no")
    await own_writes_applied(request, user_id)
    async with connection(request.app[POOL]) as conn:
        items, next_after = await stock_queries.list_stock(
            conn,
            user_id,
            limit=PAGE_SIZE,
            after=after,
            tracked=TRACKED.get(tracked_raw),
            text=text,
        )
    kept = {k: v for k, v in (("q", text or ""), ("tracked", tracked_raw)) if v}
    next_link = None
    if next_after is not None:
        next_link = "/console/stock?" + urlencode({**kept, "cursor": encode_cursor(next_after)})
    for item in items:
        item["path"] = ref_path(item["product_ref"])
    context = {
        "items": items,
        "query": {"q": text or "", "tracked": tracked_raw},
        "next_link": next_link,
        "first_link": ("/console/stock?" + urlencode(kept)) if after is not None else None,
    }
    return await render(request, "stock.html", context)


def product_ref(request: web.Request) -> str:
    """The path's product reference, percent-decoded once; one no product can have (not
    UTF-8 once decoded, NUL, absurdly long) names nothing."""
    raw = request.raw_path.split("?", 1)[0].split("/")[3]
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise NotFoundError("no such product") from None
    ref = request.match_info["product_ref"]
    if "\x00" in ref or len(ref) > MAX_KEY_LENGTH:
        raise NotFoundError("no such product")
    return ref


def _chart(lang: str, title: str, movements: list[dict[str, Any]]) -> Markup:
    points = [Point(datetime.fromisoformat(m["occurred_at"]), m["balance"]) for m in movements]
    if not points:
        return level_chart(points, title, ("", ""))
    return level_chart(points, title, (when(lang, points[0].at), when(lang, points[-1].at)))


async def _detail(
    request: web.Request, user_id: UUID, ref: str, form: dict[str, Any], status: int = 200
) -> web.Response:
    after = int_param(request, "after", 0, 0, MAX_INT)
    async with (
        connection(request.app[POOL]) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        level = await stock_queries.get_stock(conn, user_id, ref)
        if level is None:
            raise NotFoundError("no stock is recorded for this product")
        movements, next_after = await stock_queries.stock_history(
            conn, user_id, ref, after=after, limit=HISTORY_PAGE
        )
    notice = request.query.get("done")
    lang = language(request, await get_session(request))
    context = {
        "level": level,
        "path": ref_path(ref),
        "movements": movements,
        "next_link": f"{ref_path(ref)}?after={next_after}" if next_after else None,
        "first_link": ref_path(ref) if after else None,
        "notice": notice if notice in NOTICES else None,
        "form": {"key": "console:" + secrets.token_urlsafe(18), "by": "", "reason": "", **form},
        "chart": _chart(lang, i18n.translate(lang, "stock.chart", ref=ref), movements),
    }
    return await render(request, "stock_detail.html", context, status=status)


async def stock_detail(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    ref = product_ref(request)
    await own_writes_applied(request, user_id)
    return await _detail(request, user_id, ref, {})


def _by(raw: object) -> int:
    text = raw.strip() if isinstance(raw, str) else ""
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 10):
        raise InvalidAdjustmentError("the amount must be a whole number, like 5 or -3")
    return int(text)


async def post_adjustment(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    ref = product_ref(request)
    form = await request.post()
    values = {k: form.get(k) if isinstance(form.get(k), str) else "" for k in ("by", "reason")}
    key = form.get("key")
    pool = request.app[POOL]
    async with connection(pool) as conn:
        name = await users.name_of(conn, user_id)
    try:
        if not isinstance(key, str):
            raise InvalidAdjustmentError("the form has no key: reload the page and send it again")
        reason = values["reason"].strip() if isinstance(values["reason"], str) else ""
        done = await adjustments.adjust(
            pool, request.app[STORE], user_id, key, ref, _by(values["by"]), reason,
            f"console:{name}",
        )  # fmt: skip
    except InvalidAdjustmentError as exc:
        return await _detail(request, user_id, ref, {**values, "error": str(exc)}, 400)
    except adjustments.UnknownProductError:
        raise NotFoundError("no stock is recorded for this product") from None
    except AdjustmentConflictError:
        # The key of this form was used for another adjustment: a fresh form, nothing done.
        return await _detail(request, user_id, ref, {**values, "conflict": True}, 409)
    runner = request.app[RUNNER]
    if runner is not None and done.notification_id is not None:
        await runner.wait_for(done.notification_id, request.app[SETTINGS].read_your_writes_timeout)
    raise web.HTTPSeeOther(f"{ref_path(ref)}?done={done.status}#history")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/stock", stock_page)
    app.router.add_get("/console/stock/{product_ref}", stock_detail)
    app.router.add_post("/console/stock/{product_ref}/adjustments", post_adjustment)
