"""What every console request goes through: its session, the CSRF check of every POST, the
security headers, and error pages in HTML.

Sessions are aiohttp-session's encrypted cookies (Fernet), under the service's key
(service/accounts/sealing.py), so a restart keeps everyone signed in. The cookie holds the
user id, when they signed in, the CSRF token and the language: never the API key.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp_session import get_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from service.http.console.render import CSRF_FIELD, render
from service.http.errors import ApiError, error_response
from service.http.keys import SESSION_KEY
from service.settings import Settings

PREFIX = "/console"
COOKIE = "ledger_console"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# No inline script or style anywhere: the pages load our own two files and nothing else.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


# Everything else changes something, so must carry the form's CSRF token.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _sessions(settings: Settings, key: bytes) -> Callable[..., Awaitable[web.StreamResponse]]:
    secure = (settings.public_url or "").startswith("https://")
    storage = EncryptedCookieStorage(
        Fernet(key),
        cookie_name=COOKIE,
        max_age=int(settings.session_lifetime.total_seconds()),
        path=PREFIX,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    return session_middleware(storage)


def console_middleware(settings: Settings) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware of every /console request; the app's SESSION_KEY (set when it starts)
    encrypts the session cookies."""
    made: list[Callable[..., Awaitable[web.StreamResponse]]] = []  # made at the first request

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_console(request.path):
            return await handler(request)

        async def guarded(request: web.Request) -> web.StreamResponse:
            return await _guarded(request, handler)

        try:
            if not made:
                made.append(_sessions(settings, request.app[SESSION_KEY]))
            response = await made[0](request, guarded)
        except web.HTTPException as exc:
            _secure(request, exc)
            raise
        _secure(request, response)
        return response

    return middleware


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
    if not request.path.startswith(PREFIX + "/static/"):
        response.headers["Cache-Control"] = "no-store"


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in SAFE_METHODS and not await _csrf_ok(request):
        return await forbidden(request)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return await render(request, "error.html", {"key": "error.not_found"}, status=404)
    except ApiError as exc:
        return await render(
            request,
            "error.html",
            {"detail": exc.detail},
            status=exc.status,
            headers=exc.headers,
        )


async def _csrf_ok(request: web.Request) -> bool:
    session = await get_session(request)
    expected = session.get(CSRF_FIELD)
    try:
        sent = (await request.post()).get(CSRF_FIELD)
    except (ValueError, HttpProcessingError):  # no form at all (bad multipart, not UTF-8)
        return False
    if not isinstance(expected, str) or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


async def forbidden(request: web.Request) -> web.StreamResponse:
    if wants_json(request):
        return error_response(
            403, "csrf_failed", "The form's CSRF token is missing or wrong; reload and resend."
        )
    return await render(request, "error.html", {"key": "error.csrf"}, status=403)
