"""A sale's page: what it is (customer, lines, amounts, refunds, status history, deletion
marks) and its source: the receipt, the raw body checked again, every event of the order."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from projections import encoding, sales
from service.audit import trace
from service.http.console.auth import require_user
from service.http.console.readable import indent_json
from service.http.console.render import render
from service.http.errors import NotFoundError
from service.http.freshness import own_writes_applied
from service.http.keys import POOL, STORE
from service.http.params import uuid_param
from service.store.db import connection

STATUS_EVENTS = ("SaleRecorded", "SaleStatusChanged", "StatusNoted")
DELETION_EVENTS = ("DeletedOnPlatform", "RestoredOnPlatform", "PlatformDeletionFound")
CORRECTION_EVENTS = ("InterpretationCorrected",)


def _body(receipt: dict[str, Any]) -> str | None:
    """The raw body as it can be read: JSON laid out (exactly as sent), else as it is."""
    body: str | None = receipt.get("body")
    if body is not None and receipt.get("body_encoding") == "utf-8":
        if body.lstrip().startswith(("{", "[")):
            return indent_json(body)
    return body


def _events(traced: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **e,
            "correction": e["event"] in CORRECTION_EVENTS,
            "json": encoding.dumps(e["fields"], indent=True).decode(),
        }
        for e in traced["events"]
    ]


def _history(traced: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The events named, with the fields the page shows (None where an event has none: a
    StatusNoted, before the order was a sale, has a platform status but no status)."""
    return [
        {
            "event": e["event"],
            "notification_id": e["notification_id"],
            "timestamp": e["fields"].get("timestamp"),
            "status": e["fields"].get("status"),
            "platform_status": e["fields"].get("platform_status"),
        }
        for e in traced["events"]
        if e["event"] in names
    ]


async def sale_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    sale_id = uuid_param(request, "sale_id")
    await own_writes_applied(request, user_id)
    async with connection(request.app[POOL]) as conn:
        sale = await sales.get_sale(conn, user_id, sale_id)
        if sale is None:
            raise NotFoundError("no such sale")
        try:
            traced = await trace.trace(conn, request.app[STORE], user_id, sale_id)
        except trace.TraceError:
            raise NotFoundError("no such sale") from None
    receipt = traced["receipt"]
    context = {
        "sale": sale,
        "receipt": receipt,
        "headers": sorted(receipt["delivery"]["headers"].items()),
        "body": _body(receipt),
        "events": _events(traced),
        "statuses": _history(traced, STATUS_EVENTS),
        "deletions": _history(traced, DELETION_EVENTS),
    }
    return await render(request, "sale.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/sales/{sale_id}", sale_page)
