"""The reconcile page: the ledger's stock beside the platform's own counts (what ``ledger
stock reconcile`` shows), and applying them, confirmed first.

The confirmation lists what will be applied and sends each discrepancy's key (which names
the platform's report); applying takes only the discrepancies that still have one of those
keys, so what changed meanwhile is not applied unseen. Each report is applied once, by its
key (service/audit/adjustments.py): sending the form again adjusts nothing more.
"""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from service.accounts import users
from service.audit import adjustments
from service.http.console.auth import require_user
from service.http.console.render import render
from service.http.console.stock import ref_path
from service.http.freshness import own_writes_applied
from service.http.keys import POOL, RUNNER, SETTINGS, STORE
from service.http.params import MAX_INT, int_param
from service.store.db import connection

RESULTS = ("adjusted", "duplicate", "refused")


async def _found(request: web.Request) -> list[adjustments.Discrepancy]:
    user_id = await require_user(request)
    await own_writes_applied(request, user_id)
    return await adjustments.discrepancies(request.app[POOL], user_id)


def _rows(found: list[adjustments.Discrepancy]) -> list[dict[str, object]]:
    return [{"d": d, "path": ref_path(d.product_ref), "by": d.by, "key": d.key} for d in found]


async def reconcile_page(request: web.Request) -> web.StreamResponse:
    found = await _found(request)
    done = {r: int_param(request, r, 0, 0, MAX_INT) for r in RESULTS}
    context = {"rows": _rows(found), "done": done if "adjusted" in request.query else None}
    return await render(request, "reconcile.html", {**context, "confirm": False})


async def confirm_page(request: web.Request) -> web.StreamResponse:
    found = await _found(request)
    return await render(
        request, "reconcile.html", {"rows": _rows(found), "done": None, "confirm": True}
    )


async def apply(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    chosen = {k for k in (await request.post()).getall("key", []) if isinstance(k, str)}
    pool = request.app[POOL]
    await own_writes_applied(request, user_id)
    found = [d for d in await adjustments.discrepancies(pool, user_id) if d.key in chosen]
    async with connection(pool) as conn:
        name = await users.name_of(conn, user_id)
    done = await adjustments.reconcile(pool, request.app[STORE], user_id, found, f"console:{name}")
    last = max((a.notification_id for a in done if a.notification_id is not None), default=None)
    runner = request.app[RUNNER]
    if runner is not None and last is not None:
        await runner.wait_for(last, request.app[SETTINGS].read_your_writes_timeout)
    counts: Counter[str] = Counter(a.status for a in done)
    query = "&".join(f"{r}={counts[r]}" for r in RESULTS)
    raise web.HTTPSeeOther(f"/console/reconcile?{query}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/reconcile", reconcile_page)
    app.router.add_get("/console/reconcile/confirm", confirm_page)
    app.router.add_post("/console/reconcile", apply)
