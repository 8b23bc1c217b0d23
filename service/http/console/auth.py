"""Signing in with the API key, signing out, the language switch, and who is signed in.

A sign-in lasts LEDGER_SESSION_HOURS and ends early when the API key is rotated. Failed
attempts are limited per client address and per key prefix (429 with Retry-After).
"""

from __future__ import annotations

import time
from urllib.parse import quote
from uuid import UUID

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from service.accounts import users
from service.http.console import i18n
from service.http.console.render import LANG_FIELD, render
from service.http.keys import POOL, SETTINGS, SIGN_IN_LIMITER
from service.store.db import connection

USER = "user_id"
SIGNED_IN_AT = "signed_in_at"
HOME = "/console/sales"
LOGIN = "/console/login"
# Enough of a key to tell guesses at one key apart from guesses at any ("key_" + 8).
KEY_PREFIX_LENGTH = 12
MAX_KEY_LENGTH = 200
# A console path is short; a longer "next" would make a Location header clients refuse.
MAX_NEXT_LENGTH = 2000


def safe_next(raw: object) -> str:
    """Where to go after a form: a console path of ours, never another site."""
    if (
        isinstance(raw, str)
        and len(raw) <= MAX_NEXT_LENGTH
        and raw.startswith("/console")
        and not raw.startswith("//")
    ):
        if "\\" not in raw and "\n" not in raw and "\r" not in raw:
            return raw
    return HOME


async def signed_in_user(request: web.Request) -> UUID | None:
    """The signed-in user, or None when nobody is, the sign-in is older than the session
    lifetime, or the API key was rotated since."""
    session = await get_session(request)
    raw, at = session.get(USER), session.get(SIGNED_IN_AT)
    if not isinstance(raw, str) or not isinstance(at, int | float):
        return None
    lifetime = request.app[SETTINGS].session_lifetime.total_seconds()
    try:
        user_id = UUID(raw)
    except ValueError:
        return None
    if time.time() - at > lifetime:
        forget_user(session)
        return None
    async with connection(request.app[POOL]) as conn:
        exists, rotated = await users.api_key_rotated_at(conn, user_id)
    if not exists or (rotated is not None and rotated.timestamp() > at):
        forget_user(session)
        return None
    return user_id


def forget_user(session: Session) -> None:
    """Sign the session out, keeping its language."""
    session.pop(USER, None)
    session.pop(SIGNED_IN_AT, None)


async def require_user(request: web.Request) -> UUID:
    """The signed-in user; anyone else is sent to sign in, and brought back after."""
    had_user = USER in await get_session(request)
    user_id = await signed_in_user(request)
    if user_id is None:
        ended = "&expired=1" if had_user else ""
        raise web.HTTPSeeOther(f"{LOGIN}?next={quote(request.path_qs, safe='/')}{ended}")
    return user_id


async def to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(HOME)


async def login_page(request: web.Request) -> web.StreamResponse:
    goes = safe_next(request.query.get("next"))
    if await signed_in_user(request) is not None:
        raise web.HTTPSeeOther(goes)
    message = None
    if request.query.get("expired"):
        message = "login.expired"
    elif request.query.get("signed_out"):
        message = "login.signed_out"
    return await _login(request, message, goes)


async def _login(
    request: web.Request,
    message: str | None,
    goes: str,
    status: int = 200,
    retry_after: int = 0,
) -> web.Response:
    context = {"message": message, "wait": retry_after, "next": goes}
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return await render(request, "login.html", context, status=status, headers=headers)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    goes = safe_next(form.get("next"))
    raw = form.get("api_key")
    key = raw.strip() if isinstance(raw, str) else ""
    limiter = request.app[SIGN_IN_LIMITER]
    names = (f"address:{request.remote}", f"key:{key[:KEY_PREFIX_LENGTH]}")
    wait = limiter.retry_after(*names)
    if wait:
        return await _login(request, "login.limited", goes, 429, wait)
    user_id = None
    if key and len(key) <= MAX_KEY_LENGTH and "\x00" not in key:
        async with connection(request.app[POOL]) as conn:
            user_id = await users.user_for_api_key(conn, key)
    if user_id is None:
        limiter.failed(*names)
        return await _login(request, "login.failed", goes, 401)
    old = await get_session(request)
    lang = old.get(LANG_FIELD)
    session = await new_session(request)  # a fresh session (and CSRF token) per sign-in
    session[USER] = str(user_id)
    session[SIGNED_IN_AT] = time.time()
    if lang in i18n.LANGUAGES:
        session[LANG_FIELD] = lang
    raise web.HTTPSeeOther(goes)


async def sign_out(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    lang = session.get(LANG_FIELD)
    session.invalidate()
    if lang in i18n.LANGUAGES:
        session[LANG_FIELD] = lang
    raise web.HTTPSeeOther(f"{LOGIN}?signed_out=1")


async def switch_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    session = await get_session(request)
    if form.get(LANG_FIELD) in i18n.LANGUAGES:
        session[LANG_FIELD] = form[LANG_FIELD]
    raise web.HTTPSeeOther(safe_next(form.get("next")))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", to_console)
    app.router.add_get("/console", to_console)
    app.router.add_get(LOGIN, login_page)
    app.router.add_post(LOGIN, sign_in)
    app.router.add_post("/console/logout", sign_out)
    app.router.add_post("/console/language", switch_language)
