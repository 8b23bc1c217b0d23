from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from service.accounts.users import API_KEY_PREFIX, TOKEN_PREFIX, new_secret
from service.http.access_log import RedactingAccessLogger
from service.logs import (
    JsonFormatter,
    SecretFilter,
    configure_logging,
    redact_path,
    redact_text,
)
from tests.support import wait_until

VALID = "tokVALIDa1b2c3d4e5f6"
ROTATED = "tokROTATEDold0987654"
INVALID = "tokINVALIDzz9988"
QUERY_SECRET = "qsSECRETvalue42"
BEARER = "brrSECRETjwt.abc.def"
COOKIE = "ckSECRETsession77"
LONG = "tokLONG" + "Z" * 10240
SECRETS = (VALID, ROTATED, INVALID, QUERY_SECRET, BEARER, COOKIE, "ZZZZZZZZZZ", "ODDtok")

WOO = "/api/webhook/woocommerce"
REQUESTS = 12  # sent by send_everything


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"{WOO}/{VALID}", f"{WOO}/***"),
        (f"{WOO}/{ROTATED}", f"{WOO}/***"),
        (f"{WOO}/{VALID}/producto", f"{WOO}/***/producto"),
        (f"/api/webhook/shopify/{VALID}", "/api/webhook/shopify/***"),
        (f"{WOO}/{VALID}/", f"{WOO}/***/"),
        (f"{WOO}/{VALID}?{QUERY_SECRET}=1&token={QUERY_SECRET}", f"{WOO}/***"),
        (f"{WOO}/{VALID}/producto?x={QUERY_SECRET}", f"{WOO}/***/producto"),
        (f"{WOO}/{VALID}#{QUERY_SECRET}", f"{WOO}/***"),
        (f"/api/webhook/magento/{VALID}", "/api/webhook/***/***"),
        (f"/api/webhook/{VALID}", "/api/webhook/***"),
        (f"/api/webhook/{VALID}/woocommerce", "/api/webhook/***/***"),
        (f"{WOO}/{VALID}/extra/{INVALID}", f"{WOO}/***/***/***"),
        # Written as received, but for the token: a mistyped path never looks like the valid
        # one in the log.
        (f"{WOO}/ODDtok%2Fmore%20stuff%00", f"{WOO}/***"),
        (f"{WOO}/ODDtok%252F%25", f"{WOO}/***"),
        (f"/api/%77ebhook/woocommerce/{VALID}", "/api/%77ebhook/woocommerce/***"),
        (f"/api/%2577ebhook/woocommerce/{VALID}", "/api/%2577ebhook/woocommerce/***"),
        (f"/API/WebHook/WooCommerce/{VALID}", "/API/WebHook/WooCommerce/***"),
        (f"//api//webhook//woocommerce//{VALID}", "//api//webhook//woocommerce//***"),
        (f"/api/webhooks/woocommerce/{VALID}", "/api/webhooks/woocommerce/***"),
        (f"\\api\\webhook\\woocommerce\\{VALID}", "\\api\\webhook\\woocommerce\\***"),
        (f"/api%2Fwebhook%2Fwoocommerce%2F{VALID}", "/***"),
        (f"/api/webhook%2Fwoocommerce/{VALID}/producto", "/api/***/***/producto"),
        (f"http://shop.example/api/webhook/woocommerce/{VALID}", f"http://shop.example{WOO}/***"),
        (f"{WOO}/{LONG}", f"{WOO}/***"),
        (f"/api/webhook{VALID}/x", "/api/webhook***/***"),
        (f"/api/WEBHOOK_{VALID}", "/api/WEBHOOK***"),
        (f"{WOO}/ODDtok ñ☃\n\r\t'\"<>", f"{WOO}/***"),
        (f"{WOO}/", f"{WOO}/"),
        (WOO, WOO),
        ("/api/webhook", "/api/webhook"),
        ("/api/webhook/", "/api/webhook/"),
        (f"/health?token={QUERY_SECRET}", "/health"),
        ("/api/ventas?desde=2024-01-01", "/api/ventas"),
        ("/", "/"),
        ("", ""),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    redacted = redact_path(path)
    assert redacted == expected
    for secret in SECRETS:
        assert secret not in redacted


SAFE_WOO_PATH = re.compile(r"/api/webhook/woocommerce([/\\]+(\*\*\*|producto)?)*")


@given(st.text(min_size=1))
def test_any_token_is_redacted_raw_or_percent_encoded(token: str) -> None:
    assert SAFE_WOO_PATH.fullmatch(redact_path(f"{WOO}/{quote(token, safe='')}"))
    assert SAFE_WOO_PATH.fullmatch(redact_path(f"{WOO}/{token.replace('#', '')}"))


def test_redact_text_scrubs_paths_credentials_and_secret_fields() -> None:
    text = (
        f"POST {WOO}/{VALID}?x={QUERY_SECRET} failed; Authorization: Bearer {BEARER}; "
        f"url=http://h{WOO}/{ROTATED}/producto cookie={COOKIE} "
        f"bytearray(b'{WOO}/{INVALID}') token: {QUERY_SECRET}"
    )
    redacted = redact_text(text)
    for secret in SECRETS:
        assert secret not in redacted
    assert f"POST {WOO}/*** failed" in redacted
    assert "Authorization: ***;" in redacted
    assert f"{WOO}/***/producto" in redacted
    assert redact_text("nothing secret here, basic logging") == "nothing secret here, basic logging"


def test_secret_filter_formats_then_redacts_args_exceptions_and_stack() -> None:
    try:
        raise ValueError(f"bad request line GET {WOO}/{INVALID} HTTP/1.1")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "got %s with %s",
        (f"{WOO}/{VALID}?k={QUERY_SECRET}", f"Bearer {BEARER}"),
        exc_info,
        sinfo=f"Stack (most recent call last):\n  path {WOO}/{ROTATED}",
    )
    assert SecretFilter().filter(record)
    formatted = logging.Formatter().format(record)
    for secret in SECRETS:
        assert secret not in formatted
    assert f"got {WOO}/*** with Bearer ***" in formatted
    assert "ValueError: bad request line GET" in formatted
    assert record.args == ()


# --- a real aiohttp server -------------------------------------------------------------


async def accept(request: web.Request) -> web.Response:
    if request.match_info["token"] != VALID:
        raise web.HTTPNotFound()
    # A careless log call: the filter must still keep the secrets out.
    logging.getLogger("service.handler").info(
        "delivery on %s auth=%s", request.path_qs, request.headers.get("Authorization")
    )
    return web.Response(status=202)


async def explode(request: web.Request) -> web.Response:
    raise RuntimeError(f"boom while handling {request.url}")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/api/webhook/woocommerce/{token}", accept)
    app.router.add_post("/api/webhook/woocommerce/{token}/producto", accept)
    app.router.add_post("/api/webhook/shopify/{token}", accept)
    app.router.add_post("/api/webhook/woocommerce/{token}/explota", explode)
    return app


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    server = TestServer(make_app())
    # TestServer's constructor silently ignores runner options; start_server passes them on.
    await server.start_server(access_log_class=RedactingAccessLogger)
    async with TestClient(server) as test_client:
        yield test_client


async def raw_request(client: TestClient[web.Request, web.Application], data: bytes) -> bytes:
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(data)
    await writer.drain()
    response = await reader.read(65536)
    writer.close()
    await writer.wait_closed()
    return response


async def send_everything(client: TestClient[web.Request, web.Application]) -> None:
    headers = {
        "Authorization": f"Bearer {BEARER}",
        "Cookie": f"session={COOKIE}",
        "User-Agent": "WooCommerce/8.9 Hookshot (WordPress/6.5)",
    }
    expected = {
        f"{WOO}/{VALID}?secret={QUERY_SECRET}": 202,
        f"{WOO}/{VALID}/producto": 202,
        f"/api/webhook/shopify/{VALID}": 202,
        f"{WOO}/{ROTATED}": 404,
        f"{WOO}/{INVALID}/producto?token={QUERY_SECRET}": 404,
        f"/api/webhook/magento/{VALID}": 404,
        f"{WOO}/{VALID}/explota": 500,
    }
    for path, status in expected.items():
        async with client.post(path, headers=headers, data=b"{}") as response:
            assert response.status == status, path
    for line in (
        f"POST {WOO}/ODDtok%2F%25%00x HTTP/1.1",
        f"POST {WOO}/{INVALID} HTTP/9.x",
        f"P\x01ST {WOO}/{INVALID} HTTP/1.1",
        f"POST {WOO}/{LONG} HTTP/1.1",
        f"POST {WOO}/ODDtok\x7f\x01 HTTP/1.1",
    ):
        request = f"{line}\r\nHost: x\r\nAuthorization: Bearer {BEARER}\r\n\r\n"
        assert (await raw_request(client, request.encode("latin-1"))).startswith(b"HTTP/1.")


async def wait_for_access_lines(caplog: pytest.LogCaptureFixture, count: int) -> None:
    """The access line is written just after the response bytes, so the client may be first."""

    def written() -> bool:
        return sum(r.name == "aiohttp.access" for r in caplog.records) >= count

    await wait_until(written, 2, f"{count} access lines")


async def test_access_log_alone_never_carries_secrets(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await send_everything(client)
    await wait_for_access_lines(caplog, REQUESTS)
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == REQUESTS
    for secret in SECRETS:
        assert not [line for line in lines if secret in line]
    assert any(
        re.fullmatch(
            rf'127\.0\.0\.1 "POST {WOO}/\*\*\*" 202 \d+ \d+\.\dms "WooCommerce/8\.9 Hookshot '
            r'\(WordPress/6\.5\)"',
            line,
        )
        for line in lines
    ), lines
    assert any(f'"POST {WOO}/***/producto" 202' in line for line in lines)
    assert any('"POST /api/webhook/***/***" 404' in line for line in lines)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of ``stderr`` as the JSON object it must be, with the standard keys."""
    lines = [json.loads(line) for line in stderr.splitlines()]
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line), line
    return lines


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_no_log_output_anywhere_carries_secrets(
    client: TestClient[web.Request, web.Application],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    fmt: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG", fmt)  # filters caplog's handler too: it is a root handler now
    await send_everything(client)
    await wait_for_access_lines(caplog, REQUESTS)
    stderr = capsys.readouterr().err
    everything = "\n".join(
        [caplog.text, stderr, *(r.getMessage() for r in caplog.records)]
        + [r.exc_text or "" for r in caplog.records]
    )
    for secret in SECRETS:
        assert secret not in everything, secret
    written = stderr
    if fmt == "json":
        lines = json_lines(stderr)
        written = "\n".join(f"{line['message']}\n{line.get('exc', '')}" for line in lines)
        access = [line for line in lines if line["logger"] == "aiohttp.access"]
        assert len(access) == REQUESTS
        assert {"path": f"{WOO}/***", "status": 202, "method": "POST"}.items() <= access[0].items()
        assert all(line["level"] == "INFO" for line in access)
    else:
        assert "INFO aiohttp.access 127.0.0.1" in stderr
    for output in (caplog.text, written):
        assert f'"POST {WOO}/***" 202' in output
        assert f"delivery on {WOO}/*** auth=Bearer ***" in output
        assert "Error handling request" in output  # aiohttp's own records got through
        assert "RuntimeError: boom while handling http://127.0.0.1:" in output


def test_extra_fields_are_redacted_and_written_as_json_keys() -> None:
    args = (f"{WOO}/{ROTATED}",)
    record = logging.LogRecord("service.x", logging.INFO, __file__, 1, "seen %s", args, None)
    record.path = f"{WOO}/{VALID}"
    record.auth = f"Bearer {BEARER}"
    record.count = 3
    record.nothing = None
    record.odd = {"token": QUERY_SECRET}
    assert SecretFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f"seen {WOO}/***"
    assert line["path"] == f"{WOO}/***"
    assert line["auth"] == "Bearer ***"
    assert (line["count"], line["nothing"], line["logger"], line["level"]) == (
        3,
        None,
        "service.x",
        "INFO",
    )
    for secret in SECRETS:
        assert secret not in json.dumps(line)


def test_json_lines_redact_even_without_a_secret_filter() -> None:
    record = logging.LogRecord("service.x", logging.INFO, __file__, 1, "plain", (), None)
    record.where = f"{WOO}/{VALID}/producto"
    assert json.loads(JsonFormatter().format(record))["where"] == f"{WOO}/***/producto"


def test_configure_logging_is_idempotent(restore_logging: None) -> None:
    configure_logging("WARNING")
    configure_logging("INFO")
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "pyme-ledger.stderr"]
    assert len(ours) == 1
    assert sum(isinstance(f, SecretFilter) for f in ours[0].filters) == 1
    assert root.level == logging.INFO


def test_access_logger_enabled_follows_logger_level() -> None:
    logger = logging.getLogger("test.access.enabled")
    logger.setLevel(logging.WARNING)
    assert not RedactingAccessLogger(logger, "").enabled
    logger.setLevel(logging.INFO)
    assert RedactingAccessLogger(logger, "").enabled


@pytest.mark.parametrize(
    "path",
    [
        "/api/webhok/woocommerce/{t}",
        "/api/woocommerce/{t}",
        "/api/hooks/woocommerce/{t}/producto",
        "/apiwebhook/woocommerce/{t}",
        "/api/web%20hook/woocommerce/{t}",
        "/api/\uff57ebhook/woocommerce/{t}",
        "/api/%252525252577ebhook/woocommerce/{t}",
        "/{t}",
    ],
)
def test_an_issued_token_is_scrubbed_under_any_mistyped_path(path: str) -> None:
    """A merchant's typo is the likeliest way a token reaches a 404 line."""
    for prefix in (TOKEN_PREFIX, API_KEY_PREFIX):
        secret = new_secret(prefix)
        for text in (redact_path(path.format(t=secret)), redact_text(path.format(t=secret))):
            assert secret not in text and secret[4:] not in text, text


def test_store_api_credentials_are_redacted():
    line = (
        "GET /wp-json/wc/v3/orders?consumer_key=ck_0123456789abcdef&oauth_signature=abc%3D"
        " with cs_0123456789abcdef and shpat_0123456789abcdef"
    )
    shown = redact_text(line)
    for secret in (
        "ck_0123456789abcdef",
        "abc%3D",
        "cs_0123456789abcdef",
        "shpat_0123456789abcdef",
    ):
        assert secret not in shown
