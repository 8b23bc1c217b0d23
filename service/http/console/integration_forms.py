"""The Integrations tab's forms for signing secrets and store bindings.

A secret is read from the form and stored; it is never put back into a page, a redirect or
an error (the errors say what is wrong with it, never what it was).
"""

from __future__ import annotations

from aiohttp import web

from aggregates.values import PLATFORMS
from service.accounts import bindings, users
from service.accounts import secrets as signing
from service.http.console import auth
from service.http.console.integrations import PATH
from service.http.errors import InvalidParameterError
from service.http.keys import KEYRING, POOL, SETTINGS
from service.store.db import connection

_SECRET_ERRORS = (
    signing.EmptySecretError,
    signing.SecretTooLongError,
    signing.SecretNotTextError,
)


async def _platform_form(request: web.Request) -> tuple[str, str]:
    """The signed-in user's name and the form's platform."""
    user_id = await auth.require_user(request)
    platform = (await request.post()).get("platform")
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise InvalidParameterError("platform must be woocommerce or shopify")
    async with connection(request.app[POOL]) as conn:
        name = await users.name_of(conn, user_id)
    assert name is not None, "a signed-in user exists"
    return name, platform


def _back(done: str, platform: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PATH}?done={done}#platform-{platform}")


async def set_secret(request: web.Request) -> web.StreamResponse:
    name, platform = await _platform_form(request)
    secret = (await request.post()).get("secret")
    if not isinstance(secret, str):
        raise InvalidParameterError("the signing secret must be text")
    try:
        async with connection(request.app[POOL]) as conn:
            await signing.set_secret(
                conn,
                name,
                platform,
                secret.strip(),
                request.app[SETTINGS].secret_grace,
                request.app[KEYRING],
            )
    except _SECRET_ERRORS as exc:
        # The docstring says what is wrong; the exception's own text names the user only.
        raise InvalidParameterError((type(exc).__doc__ or "").strip()) from None
    raise _back("secret_set", platform)


async def clear_secret(request: web.Request) -> web.StreamResponse:
    name, platform = await _platform_form(request)
    async with connection(request.app[POOL]) as conn:
        await signing.clear_secret(conn, name, platform, request.app[SETTINGS].secret_grace)
    raise _back("secret_cleared", platform)


async def unbind(request: web.Request) -> web.StreamResponse:
    name, platform = await _platform_form(request)
    async with connection(request.app[POOL]) as conn:
        was_bound = await bindings.unbind(conn, name, platform)
    raise _back("unbound" if was_bound else "not_bound", platform)


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH + "/secret", set_secret)
    app.router.add_post(PATH + "/secret/clear", clear_secret)
    app.router.add_post(PATH + "/unbind", unbind)
