"""The API's OpenAPI 3.1 document, and Swagger UI rendering it at /api/docs.

The document is a file, ``openapi.json`` beside this module, rather than built in code: it
is the contract people and tools read (schemathesis loads it as is, a diff of it reads as a
change of the API), and the tests hold it to the code: tests/unit/http/test_openapi.py
checks that its paths are exactly the app's routes, and the schemathesis run in
tests/e2e/http/test_openapi_conformance.py that every answer of the query API matches it.
It is read and checked once, when the app is made, and served as bytes.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package in site-packages (never
copied here). The page is our own: its Content-Security-Policy allows scripts of this origin
only, so Swagger UI is started by a script file of ours (openapi_docs.js), not inline.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from projections import encoding
from service.http.errors import NotFoundError
from service.http.keys import OPENAPI

HERE = Path(__file__).parent
DOCUMENT = HERE / "openapi.json"
PAGE = HERE / "openapi_docs.html"

# What /api/docs/{asset} serves, and nothing else (not the package's own index.html). The
# package's folder is an importlib resource: made a plain Path for FileResponse.
ASSETS: dict[str, Path] = {
    "swagger-ui.css": Path(str(swagger_ui_path / "swagger-ui.css")),
    "swagger-ui-bundle.js": Path(str(swagger_ui_path / "swagger-ui-bundle.js")),
    "openapi_docs.js": HERE / "openapi_docs.js",
}

# Scripts and styles of this origin only; Swagger UI fetches the document and "try it out"
# calls this origin; its icons are data: URIs in its stylesheet.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# The routes that serve the documentation, which the document itself leaves out.
DOCS_ROUTES = frozenset({"/api/openapi.json", "/api/docs", "/api/docs/{asset}"})


def load_document(path: Path = DOCUMENT) -> bytes:
    """The document as compact JSON bytes; a file that is not an OpenAPI 3.1 JSON object
    stops the app from being made (a broken release, not a request's fault)."""
    document = orjson.loads(path.read_bytes())
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        raise ValueError(f"{path} is not an OpenAPI 3.1 document")
    return encoding.dumps(document)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE, headers=DOCS_HEADERS)


async def docs_asset(request: web.Request) -> web.FileResponse:
    path = ASSETS.get(request.match_info["asset"])
    if path is None:
        raise NotFoundError("no such file of the API documentation")
    return web.FileResponse(path, headers=DOCS_HEADERS)


def add_routes(app: web.Application) -> None:
    app[OPENAPI] = load_document()
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/{asset}", docs_asset)
