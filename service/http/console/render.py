"""Rendering a console page: the template with what every page shows (language, CSRF
token, navigation), money and times in the reader's language."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session
from babel.dates import format_datetime

from service.http.console import i18n

CSRF_FIELD = "csrf"
LANG_FIELD = "lang"

# Every page of the console, in the order of the navigation: (path, message key).
NAV = (
    ("/console/sales", "nav.sales"),
    ("/console/stock", "nav.stock"),
    ("/console/products", "nav.products"),
    ("/console/deliveries", "nav.deliveries"),
    ("/console/reconcile", "nav.reconcile"),
    ("/console/settings/integrations", "nav.integrations"),
)


def csrf_token(session: Session) -> str:
    """The session's CSRF token, made on first use (an anonymous visitor gets one too: the
    sign-in form has it)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def language(request: web.Request, session: Session) -> str:
    chosen = session.get(LANG_FIELD)
    return i18n.choose(request.headers.get("Accept-Language", ""), chosen)


def when(lang: str, value: datetime | str | None) -> str:
    """A moment in UTC, written the reader's way."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(
        format_datetime(value.astimezone(UTC), "medium", tzinfo=UTC, locale=i18n.LOCALES[lang])
    )


def _section(path: str) -> str | None:
    for target, _ in NAV:
        if path == target or path.startswith(target + "/"):
            return target
    return None


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    session = await get_session(request)
    lang = language(request, session)
    page = {
        "lang": lang,
        "t": functools.partial(i18n.translate, lang),
        "money": functools.partial(i18n.money, lang),
        "when": functools.partial(when, lang),
        "csrf": csrf_token(session),
        "here": request.path_qs,
        "section": _section(request.path),
        "signed_in": "user_id" in session,
        "nav": NAV,
        "languages": i18n.LANGUAGES,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, page, status=status)
    if headers:
        response.headers.update(headers)
    return response
