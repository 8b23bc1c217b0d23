"""The Integrations tab's store API forms: connect a store's API (WooCommerce: URL, consumer
key and secret; Shopify: shop domain and Admin API access token), disconnect it, and run its
backfill now, in the background.

The credential is read from the form, sealed with the server key and kept; it is never put
back into a page, a redirect or an error (the errors say what is wrong with it, never what it
was). Like every console POST, these need the session's CSRF token (security.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aggregates.values import PLATFORMS
from service.accounts import connections, store_urls, users
from service.http.console import auth
from service.http.console.integrations import PATH
from service.http.errors import InvalidParameterError
from service.http.keys import BACKFILL_SCHEDULE, KEYRING, POOL
from service.store.db import connection

_SHAPE_ERRORS = (
    store_urls.InvalidStoreUrlError,
    store_urls.InvalidShopDomainError,
    store_urls.InvalidConsumerKeyError,
    store_urls.InvalidStoreSecretError,
)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be text")
    return value


async def _form(request: web.Request) -> tuple[Any, Any, str, str]:
    """The form, the signed-in user's id and name, and the form's platform."""
    user_id = await auth.require_user(request)
    form = await request.post()
    platform = form.get("platform")
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise InvalidParameterError("platform must be woocommerce or shopify")
    async with connection(request.app[POOL]) as conn:
        name = await users.name_of(conn, user_id)
    assert name is not None, "a signed-in user exists"
    return form, user_id, name, platform


def _back(done: str, platform: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PATH}?done={done}#platform-{platform}")


def _shapes(form: Any, platform: str) -> tuple[str, str | None, str]:
    try:
        if platform == "woocommerce":
            base_url = store_urls.store_url(_text(form, "url"))
            key: str | None = store_urls.consumer_key(_text(form, "key"))
        else:
            base_url, key = store_urls.shop_url(_text(form, "shop")), None
        secret = store_urls.store_secret(_text(form, "secret"), "secret")
    except _SHAPE_ERRORS as exc:
        # The docstring says what is wrong; the exception's own text names the field only.
        raise InvalidParameterError(" ".join((type(exc).__doc__ or "").split())) from None
    return base_url, key, secret


async def connect(request: web.Request) -> web.StreamResponse:
    form, _, name, platform = await _form(request)
    base_url, key, secret = _shapes(form, platform)
    async with connection(request.app[POOL]) as conn:
        await connections.connect_store(
            conn, name, platform, base_url, key, secret, request.app[KEYRING]
        )
    raise _back("connected", platform)


async def disconnect(request: web.Request) -> web.StreamResponse:
    _, _, name, platform = await _form(request)
    async with connection(request.app[POOL]) as conn:
        removed = await connections.disconnect_store(conn, name, platform)
    raise _back("disconnected" if removed else "not_connected", platform)


async def backfill_now(request: web.Request) -> web.StreamResponse:
    _, user_id, _, platform = await _form(request)
    async with connection(request.app[POOL]) as conn:
        connected = platform in await connections.connection_status(conn, user_id)
    if not connected:
        raise _back("not_connected", platform)
    started = request.app[BACKFILL_SCHEDULE].start_now(user_id, platform)
    raise _back("backfill_started" if started else "backfill_running", platform)


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH + "/connect", connect)
    app.router.add_post(PATH + "/disconnect", disconnect)
    app.router.add_post(PATH + "/backfill", backfill_now)
