"""The Integrations tab: each endpoint's webhook URL (token masked; reveal, copy), the docs'
curl test filled in, signing secrets, bound stores, store API connections and their
backfills (the forms: store_api.py), the last delivery, and rotations.

The token appears in a page only as the answer to a POST with the CSRF token: a reveal, or
a rotation (the new URL, shown once). GET pages show it masked.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web
from aiohttp_session import get_session

from aggregates.values import PLATFORMS
from service.accounts import bindings, connections, users
from service.accounts import secrets as signing
from service.audit.deliveries import last_deliveries
from service.http.console import auth
from service.http.console.render import render
from service.http.freshness import own_deliveries_logged, own_writes_applied
from service.http.keys import POOL, SETTINGS, TOKEN_SEALER
from service.store.db import connection

PATH = "/console/settings/integrations"
# (platform, endpoint, path with the token): the three webhook routes (service/http/webhooks.py).
ENDPOINTS = (
    ("woocommerce", "order", "/api/webhook/woocommerce/{token}"),
    ("woocommerce", "product", "/api/webhook/woocommerce/{token}/producto"),
    ("shopify", "order", "/api/webhook/shopify/{token}"),
)
MASK = "••••••••"
# The test from the SmartPyme docs, as the README gives it.
CURL_TEST = """curl -X POST {url} \\
  -H "Content-Type: application/json" \\
  -d '{{
    "id": 9999,
    "status": "processing",
    "billing": {{"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}},
    "line_items": [{{"product_id": 42, "name": "Sample Product", "quantity": 1, "total": "19.99"}}],
    "total": "19.99",
    "payment_method": "stripe"
  }}'"""
# What a redirect back to the tab may announce (?done=...): a fixed list, never free text.
DONE = (
    "secret_set",
    "secret_cleared",
    "unbound",
    "not_bound",
    "connected",
    "disconnected",
    "not_connected",
    "backfill_started",
    "backfill_running",
)


def base_url(request: web.Request) -> str:
    """LEDGER_PUBLIC_URL, else the scheme and host this request came to."""
    configured = request.app[SETTINGS].public_url
    return configured or f"{request.scheme}://{request.host}"


def masked(token: str | None) -> str:
    """The token with all but its prefix and last four characters hidden."""
    tail = token[-4:] if token else ""
    return f"{users.TOKEN_PREFIX}{MASK}{tail}"


def endpoints(base: str, token: str | None, revealed: bool, last: dict[Any, Any]) -> list[Any]:
    shown = token if revealed and token else masked(token)
    items = []
    for platform, endpoint, path in ENDPOINTS:
        url = base + path.format(token=shown)
        items.append(
            {
                "id": f"{platform}-{endpoint}",
                "platform": platform,
                "endpoint": endpoint,
                "url": url,
                "curl": CURL_TEST.format(url=url)
                if (platform, endpoint) == ENDPOINTS[0][:2]
                else None,
                "last": last.get((platform, endpoint)),
            }
        )
    return items


async def _platforms(conn: asyncpg.Connection, user_id: UUID) -> list[dict[str, Any]]:
    status = await signing.secret_status(conn, user_id)
    bound = await bindings.bindings_for(conn, user_id)
    linked = await connections.connection_status(conn, user_id)
    return [
        {
            "platform": p,
            "secret_set_at": status.get(p, {}).get("set_at"),
            "previous_valid_until": status.get(p, {}).get("previous_valid_until"),
            "bound": bound.get(p),
            "connection": linked.get(p),
        }
        for p in PLATFORMS
    ]


async def tab(
    request: web.Request, user_id: UUID, *, reveal: bool = False, rotated: bool = False
) -> web.Response:
    """The tab; with ``reveal`` (or just ``rotated``) the real token is in it, this once."""
    await own_writes_applied(request, user_id)
    await own_deliveries_logged(request)  # the last delivery includes this process's newest
    async with connection(request.app[POOL]) as conn:
        token = await users.revealed_token(conn, user_id, request.app[TOKEN_SEALER])
        platforms = await _platforms(conn, user_id)
        last = await last_deliveries(conn, user_id)
    revealed = (reveal or rotated) and token is not None
    done = request.query.get("done")
    context = {
        "endpoints": endpoints(base_url(request), token, revealed, last),
        "platforms": platforms,
        "revealed": revealed,
        "rotated": rotated,
        "revealable": token is not None,
        "reveal_failed": reveal and token is None,
        "done": done if done in DONE else None,
    }
    return await render(request, "integrations.html", context)


async def integrations_page(request: web.Request) -> web.StreamResponse:
    return await tab(request, await auth.require_user(request))


async def reveal(request: web.Request) -> web.StreamResponse:
    return await tab(request, await auth.require_user(request), reveal=True)


async def _confirmed(request: web.Request, what: str) -> web.Response | None:
    """The confirmation page, unless this POST is the confirmed one."""
    if (await request.post()).get("confirm") == "yes":
        return None
    return await render(request, "confirm.html", {"what": what})


async def rotate_token(request: web.Request) -> web.StreamResponse:
    user_id = await auth.require_user(request)
    if (page := await _confirmed(request, "token")) is not None:
        return page
    async with connection(request.app[POOL]) as conn:
        name = await users.name_of(conn, user_id)
        assert name is not None, "a signed-in user exists"
        await users.rotate(conn, name, "token", request.app[TOKEN_SEALER])
    return await tab(request, user_id, rotated=True)


async def rotate_api_key(request: web.Request) -> web.StreamResponse:
    user_id = await auth.require_user(request)
    if (page := await _confirmed(request, "api_key")) is not None:
        return page
    async with connection(request.app[POOL]) as conn:
        name = await users.name_of(conn, user_id)
        assert name is not None, "a signed-in user exists"
        key = await users.rotate(conn, name, "api_key")
    auth.forget_user(await get_session(request))  # the old key signed this session in
    return await render(request, "new_api_key.html", {"api_key": key})


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, integrations_page)
    app.router.add_post(PATH + "/reveal", reveal)
    app.router.add_post(PATH + "/rotate-token", rotate_token)
    app.router.add_post(PATH + "/rotate-api-key", rotate_api_key)
