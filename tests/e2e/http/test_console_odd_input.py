"""Odd input found by review: each answered with a clear 4xx, never a 500."""

from __future__ import annotations

import base64

import orjson
from aiohttp.test_utils import TestClient

from service.settings import Settings
from tests.e2e.http.console_client import csrf_of, page, sign_in
from tests.support import Merchant


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


async def test_a_delivery_cursor_out_of_range_in_utc_is_400(client: TestClient, merchant: Merchant):
    cursor = _cursor(["0001-01-01T00:00:00+01:00", 1])
    resp = await client.get(
        f"/api/deliveries?cursor={cursor}", headers={"Authorization": f"Bearer {merchant.api_key}"}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_parameter"
    await sign_in(client, merchant)
    await page(client, f"/console/deliveries?cursor={cursor}", status=400)


async def test_a_sales_cursor_whose_id_is_not_text_is_400(client: TestClient, merchant: Merchant):
    await sign_in(client, merchant)
    cursor = _cursor(["2020-01-01T00:00:00+00:00", 5])
    await page(client, f"/console/sales?cursor={cursor}", status=400)


async def test_a_signing_secret_with_a_nul_is_refused_not_a_500(
    client: TestClient, merchant: Merchant
):
    token = await sign_in(client, merchant)
    path = "/console/settings/integrations/secret"
    data = {"csrf": token, "platform": "woocommerce", "secret": "abc\x00def"}
    resp = await client.post(path, data=data)
    html = await resp.text()
    assert resp.status == 400, html[:300]
    assert "abc" not in html


async def test_a_very_long_next_falls_back_to_the_console(client: TestClient, merchant: Merchant):
    token = csrf_of(await page(client, "/console/login"))
    resp = await client.post(
        "/console/language",
        data={"csrf": token, "lang": "es", "next": "/console/sales?" + "x" * 10_000},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/sales"


def test_the_session_key_is_not_in_the_settings_repr(settings: Settings):
    key = "k" * 44
    shown = repr(Settings(database_url=settings.database_url, session_key=key))
    assert key not in shown
