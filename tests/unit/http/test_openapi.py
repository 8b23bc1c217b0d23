"""The OpenAPI document against the code: its paths are the app's routes, its limits and
answers the handlers'. The app's routes are the source of truth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis

from aggregates.stock_adjustment import MAX_ADJUSTMENT, MAX_KEY_LENGTH, MAX_REASON_LENGTH
from service.http import audit_api, errors, params
from service.http.app import create_app
from service.http.openapi import DOCS_ROUTES, load_document
from service.http.webhooks import STATUSES
from service.settings import Settings

# Routes another branch of issue #12 adds (the delivery log). The document describes them
# already; delete this once that branch is merged and the app serves them.
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(orjson.loads(load_document()))


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/ but the documentation's own.
    aiohttp's ``{name}`` is OpenAPI's; a ``{name:regex}`` is still ``{name}``. Every GET
    also answers HEAD (aiohttp adds it): not an operation of its own."""
    app = create_app(Settings(database_url="postgresql://127.0.0.1/none", spool_dir=tmp_path))
    found = set()
    for route in app.router.routes():
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical)
        if path.startswith("/api/") and path not in DOCS_ROUTES and route.method != "HEAD":
            found.add((route.method, path))
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_documents_paths_are_the_apps_routes(document, tmp_path):
    served = app_routes(tmp_path)
    paths = documented(document)
    assert served - paths == set(), "routes the document leaves out"
    assert paths - served == set(), "documented paths the app does not serve"


def test_a_route_added_without_its_documentation_is_found(document, tmp_path):
    served = app_routes(tmp_path) | {("GET", "/api/somewhere/{thing}")}
    assert served - documented(document) == {("GET", "/api/somewhere/{thing}")}


def test_it_is_a_valid_openapi_3_1_document(document):
    assert document["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(document).validate()


def test_a_broken_document_is_refused_when_the_app_is_made(tmp_path):
    path = tmp_path / "openapi.json"
    path.write_text('{"openapi": "3.0.3", "paths": {}}')
    with pytest.raises(ValueError, match=r"not an OpenAPI 3\.1 document"):
        load_document(path)
    path.write_text("[")
    with pytest.raises(orjson.JSONDecodeError):
        load_document(path)


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_the_api_key_guards_every_path_but_the_webhooks(document):
    assert document["security"] == [{"apiKey": []}]
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    for label, op in operations(document):
        if "/api/webhook/" in label:
            assert op["security"] == [], label  # the token in the path is the credential
            names = [p.get("$ref", "").rpartition("/")[2] for p in op["parameters"]]
            assert "token" in names, label
            assert "401" in op["responses"], label
        else:
            assert "security" not in op, label
            assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}


def test_every_error_answer_is_the_error_body(document):
    responses = document["components"]["responses"]
    for label, op in operations(document):
        for status, answer in op["responses"].items():
            if int(status) < 400:
                continue
            answer = responses.get(answer.get("$ref", "").rpartition("/")[2], answer)
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, f"{label} {status}"


def test_the_webhook_answers_are_the_handlers(document):
    answer = document["components"]["schemas"]["WebhookAnswer"]["properties"]["status"]
    answered = {outcome for outcome, status in STATUSES.items() if status in (200, 202)}
    assert set(answer["enum"]) == answered


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    components = document["components"]["parameters"]
    for p in document["paths"][path]["get"]["parameters"]:
        p = components.get(p.get("$ref", "").rpartition("/")[2], p)
        if p["name"] == name:
            return dict(p["schema"])
    raise KeyError(name)


def test_the_limits_are_the_handlers(document):
    page = {"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT}
    assert _parameter(document, "/api/sales", "limit") == {**page, "default": params.DEFAULT_LIMIT}
    for path in ("/api/stock", "/api/products", "/api/inbox"):
        assert _parameter(document, path, "limit") == {**page, "default": params.DEFAULT_LIMIT}
    events = _parameter(document, "/api/events", "limit")
    assert (events["maximum"], events["default"]) == (audit_api.MAX_PAGE, 100)
    assert events["default"] == audit_api.DEFAULT_EVENTS_PAGE
    history = _parameter(document, "/api/stock/{product_ref}/history", "limit")
    assert (history["maximum"], history["default"]) == (audit_api.MAX_PAGE, audit_api.MAX_PAGE)
    assert _parameter(document, "/api/events", "after")["maximum"] == params.MAX_INT
    key = _parameter(document, "/api/stock/{product_ref}", "product_ref")
    assert key["maxLength"] == params.MAX_KEY_LENGTH


def test_the_adjustment_limits_are_the_aggregates(document):
    op = document["paths"]["/api/stock/{product_ref}/adjustments"]["post"]
    [header] = [p for p in op["parameters"] if p.get("in") == "header"]
    assert (header["name"], header["schema"]["maxLength"]) == ("Idempotency-Key", MAX_KEY_LENGTH)
    body = document["components"]["schemas"]["AdjustmentRequest"]["properties"]
    assert body["by"]["maximum"] == MAX_ADJUSTMENT == -body["by"]["minimum"]
    assert body["reason"]["maxLength"] == MAX_REASON_LENGTH


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(c) for c in found))


def test_every_error_code_the_code_answers_is_documented(document):
    codes = {kind.code for kind in _subclasses(errors.ApiError)}
    codes |= {answer[1] for answer in errors._BELOW_THE_EDGE.values()}
    # The middleware's own two, and the intake's refusal of a signature (service/intake).
    codes |= set(errors._HTTP_CODES.values()) | {"internal_error", "http_error"}
    codes.add("invalid_signature")
    documented = set(document["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    assert codes == documented
