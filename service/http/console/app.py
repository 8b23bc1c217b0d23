"""The console's wiring: templates, the console middleware, its static files and routes.

Added to the one app by service/http/app.py's create_app; each page group adds its routes
here (docs/console.md: how a page is added).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from service.accounts import sealing
from service.http.console import (
    auth,
    deliveries,
    integration_forms,
    integrations,
    products,
    reconcile,
    sale,
    sales,
    stock,
    store_api,
)
from service.http.console.ratelimit import AttemptLimiter
from service.http.console.security import console_middleware
from service.http.keys import SESSION_KEY, SETTINGS, SIGN_IN_LIMITER

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


async def _session_key_ctx(app: web.Application) -> AsyncIterator[None]:
    """The session key, loaded (var/session.key made once when missing) at the start, never
    by create_app."""
    app[SESSION_KEY] = sealing.master_key(app[SETTINGS])
    yield


def setup_console(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app[SIGN_IN_LIMITER] = AttemptLimiter()
    app.cleanup_ctx.append(_session_key_ctx)
    app.middlewares.append(console_middleware(app[SETTINGS]))
    app.router.add_static("/console/static", STATIC)
    auth.add_routes(app)
    sales.add_routes(app)
    sale.add_routes(app)
    integrations.add_routes(app)
    integration_forms.add_routes(app)
    store_api.add_routes(app)
    stock.add_routes(app)
    products.add_routes(app)
    deliveries.add_routes(app)
    reconcile.add_routes(app)
