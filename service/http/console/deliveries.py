"""The delivery log pages: the list (outcome, platform, topic and date filters, cursor
paging, a notice per platform gone silent), one delivery in detail, and for a quarantined
one its inbox entry with reprocess and dismiss (each confirmed on a page of its own first,
so that plain HTML forms suffice).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from aggregates.values import PLATFORMS
from service.audit import deliveries
from service.http.console.auth import require_user
from service.http.console.render import render
from service.http.console.stock import ref_path
from service.http.errors import InvalidParameterError, NotFoundError
from service.http.freshness import own_deliveries_logged
from service.http.keys import INTAKE, POOL, SETTINGS
from service.http.params import MAX_INT, MAX_KEY_LENGTH
from service.intake import inbox
from service.intake.delivery_rows import LOG_OUTCOMES
from service.intake.inbox_reprocess import reprocess_entry
from service.store.db import connection

PAGE_SIZE = 50
FILTERS = ("outcome", "platform", "topic", "from", "to")
OUTCOMES = tuple(sorted(LOG_OUTCOMES))
ACTIONS = ("reprocess", "dismiss")
NOTICES = ("recorded", "still", "dismissed")


def _text(request: web.Request, name: str) -> str | None:
    value = (request.query.get(name) or "").strip() or None
    if value is not None and ("\x00" in value or len(value) > MAX_KEY_LENGTH):
        raise InvalidParameterError(f"{name} must be at most {MAX_KEY_LENGTH} characters")
    return value


def _day(request: web.Request, name: str, end: bool = False) -> datetime | None:
    """A whole UTC day of the query string: its first moment, or with ``end`` its last."""
    raw = request.query.get(name) or None
    if raw is None:
        return None
    try:
        start = datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a date: YYYY-MM-DD") from None
    if not end:
        return start
    try:
        return start + timedelta(days=1, microseconds=-1)
    except OverflowError:  # the last day there is: no end at all
        return None


def _query(request: web.Request) -> deliveries.DeliveryQuery:
    platform, outcome = _text(request, "platform"), _text(request, "outcome")
    if platform is not None and platform not in PLATFORMS:
        raise InvalidParameterError(f"platform must be one of {', '.join(PLATFORMS)}")
    if outcome is not None and outcome not in LOG_OUTCOMES:
        raise InvalidParameterError(f"outcome must be one of {', '.join(OUTCOMES)}")
    # A day range is whole UTC days, both ends included.
    since, until = _day(request, "from"), _day(request, "to", end=True)
    if since and until and until < since:
        raise InvalidParameterError("the range ends before it starts")
    return deliveries.DeliveryQuery(
        outcome=outcome,
        platform=platform,
        topic=_text(request, "topic"),
        received_from=since,
        received_to=until,
    )


def silent(last: dict[tuple[str, str], dict[str, Any]], hours: float, now: datetime) -> list[Any]:
    """Each platform the user has had deliveries from whose newest is older than ``hours``:
    (platform, whole hours since, that delivery's time)."""
    newest: dict[str, datetime] = {}
    for (platform, _), item in last.items():
        at = datetime.fromisoformat(item["received_at"])
        newest[platform] = max(at, newest.get(platform, at))
    found = []
    for platform, at in sorted(newest.items()):
        since = (now - at).total_seconds() / 3600
        if since >= hours:
            found.append({"platform": platform, "hours": int(since), "at": at})
    return found


async def deliveries_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    query = _query(request)
    cursor = _text(request, "cursor")
    await own_deliveries_logged(request)
    async with connection(request.app[POOL]) as conn:
        try:
            found = await deliveries.list_deliveries(conn, user_id, query, cursor, PAGE_SIZE)
        except deliveries.InvalidCursorError:
            raise InvalidParameterError("cursor is not one this console issued") from None
        last = await deliveries.last_deliveries(conn, user_id)
    hours = request.app[SETTINGS].silent_after.total_seconds() / 3600
    kept = {k: request.query[k] for k in FILTERS if request.query.get(k)}
    next_link = None
    if found.next_cursor is not None:
        next_link = "/console/deliveries?" + urlencode({**kept, "cursor": found.next_cursor})
    context = {
        "items": found.items,
        "query": {k: request.query.get(k, "") for k in FILTERS},
        "outcomes": OUTCOMES,
        "platforms": PLATFORMS,
        "silent": silent(last, hours, datetime.now(UTC)),
        "next_link": next_link,
        "first_link": ("/console/deliveries?" + urlencode(kept)) if cursor else None,
    }
    return await render(request, "deliveries.html", context)


def _delivery_id(request: web.Request) -> int:
    raw = request.match_info["delivery_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and 0 < int(raw) <= MAX_INT):
        raise NotFoundError("no such delivery")
    return int(raw)


async def _found(request: web.Request, user_id: Any) -> tuple[dict[str, Any], Any]:
    """The user's delivery of the path and its inbox entry (None: it has none, or no more)."""
    delivery_id = _delivery_id(request)
    await own_deliveries_logged(request)
    async with connection(request.app[POOL]) as conn:
        item = await deliveries.get_delivery(conn, user_id, delivery_id)
        if item is None:
            raise NotFoundError("no such delivery")
        entry = None
        if item["inbox_id"] is not None:
            entry = await inbox.get_entry(conn, user_id, item["inbox_id"])
    return item, entry


async def delivery_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    item, entry = await _found(request, user_id)
    notice = request.query.get("done")
    context = {
        "d": item,
        "entry": entry,
        "product_path": ref_path(item["product_ref"]) if item["product_ref"] else None,
        "headers": sorted((item["headers"] or {}).items()),
        "notice": notice if notice in NOTICES else None,
    }
    return await render(request, "delivery.html", context)


def _action(request: web.Request) -> str:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFoundError("no such action")
    return action


async def _open_entry(request: web.Request, user_id: Any) -> tuple[dict[str, Any], Any]:
    item, entry = await _found(request, user_id)
    if entry is None or entry["state"] != "open":
        raise NotFoundError("this delivery has no open inbox entry (reprocessed or dismissed)")
    return item, entry


async def confirm_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    action = _action(request)
    item, entry = await _open_entry(request, user_id)
    context = {"d": item, "entry": entry, "action": action}
    return await render(request, "delivery_confirm.html", context)


async def post_action(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    action = _action(request)
    item, entry = await _open_entry(request, user_id)
    back = f"/console/deliveries/{item['id']}"
    pool = request.app[POOL]
    if action == "dismiss":
        async with connection(pool) as conn:
            await inbox.dismiss(conn, user_id, inbox_id=entry["inbox_id"], pings=False)
        raise web.HTTPSeeOther(f"{back}?done=dismissed")
    async with connection(pool) as conn:
        found = await inbox.open_quarantined(conn, user_id, entry["inbox_id"])
    if not found:  # reprocessed or dismissed by someone else a moment ago
        raise web.HTTPSeeOther(back)
    [(inbox_id, delivery)] = found
    again = await reprocess_entry(pool, request.app[INTAKE].ingestor, inbox_id, delivery)
    raise web.HTTPSeeOther(f"{back}?done={'recorded' if again.recorded else 'still'}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/deliveries", deliveries_page)
    app.router.add_get("/console/deliveries/{delivery_id}", delivery_page)
    app.router.add_get("/console/deliveries/{delivery_id}/{action}", confirm_page)
    app.router.add_post("/console/deliveries/{delivery_id}/{action}", post_action)
