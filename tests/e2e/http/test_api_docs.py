"""GET /api/openapi.json serves the document; /api/docs renders it with Swagger UI from
site-packages, on a page whose scripts are all same-origin files."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import orjson
import pytest
from aiohttp.test_utils import TestClient
from swagger_ui_bundle import swagger_ui_path

from service.http.openapi import DOCUMENT


class _Page(HTMLParser):
    """The page's scripts (src and inline text) and stylesheets."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "link" and found.get("rel") == "stylesheet":
            self.styles.append(str(found["href"]))
        if any(name.startswith("on") for name in found):
            self.inline.append(f"an event handler attribute on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


async def test_the_document_is_served_to_anyone_as_json(client: TestClient):
    resp = await client.get("/api/openapi.json")  # no API key: it describes, it reveals nothing
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert orjson.loads(await resp.read()) == orjson.loads(DOCUMENT.read_bytes())


async def _page(client: TestClient) -> tuple[str, dict[str, str], _Page]:
    resp = await client.get("/api/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = _Page()
    text = await resp.text()
    page.feed(text)
    return text, dict(resp.headers), page


async def test_the_page_allows_same_origin_scripts_only(client: TestClient):
    _, headers, page = await _page(client)
    policy = dict(
        directive.strip().partition(" ")[::2]
        for directive in headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert page.inline == []  # Swagger UI is started by a file of ours, not inline
    assert page.scripts and all(s["src"] and "//" not in s["src"] for s in page.scripts)


async def test_every_file_the_page_loads_is_served_from_here(client: TestClient):
    _, _, page = await _page(client)
    wanted = {
        "swagger-ui-bundle.js": "application/javascript",
        "openapi_docs.js": "application/javascript",
        "swagger-ui.css": "text/css",
    }
    loaded = [str(s["src"]) for s in page.scripts] + page.styles
    assert sorted(u.rpartition("/")[2] for u in loaded) == sorted(wanted)
    for url in loaded:
        resp = await client.get(urljoin("/api/docs", url))  # as the browser resolves it
        assert resp.status == 200, url
        assert resp.content_type in (wanted[url.rpartition("/")[2]], "text/javascript"), url
        assert "Content-Security-Policy" in resp.headers
        body = await resp.read()
        if url.endswith("swagger-ui-bundle.js"):
            assert body == (swagger_ui_path / "swagger-ui-bundle.js").read_bytes()
        if url.endswith("openapi_docs.js"):
            assert b'url: "openapi.json"' in body  # relative: /api/openapi.json


@pytest.mark.parametrize(
    "path",
    [
        "/api/docs/index.html",  # the package's own page, with its inline script
        "/api/docs/swagger-initializer.js",  # the package's, pointing elsewhere
        "/api/docs/..%2Fopenapi.py",
        "/api/docs/%2e%2e",
    ],
)
async def test_nothing_else_is_served_from_the_package_or_beside_it(client: TestClient, path):
    resp = await client.get(path)
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
