"""The Integrations tab's store API forms over HTTP: connect (CSRF-checked, the secret never
shown back), the connection's backfill state, Backfill now in the background, disconnect."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from service.accounts import connections
from service.http.console.integrations import PATH
from service.http.keys import BACKFILL_SCHEDULE
from tests.e2e.http.console_client import page, sign_in
from tests.support import MARK, BackfillStandIn, Merchant, server_keyring, wait_until

KEY = "ck_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
SECRET = "cs_1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
TOKEN = "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"


async def _post(client: TestClient, path: str, **data: str) -> tuple[int, str, str]:
    resp = await client.post(PATH + path, data=data, allow_redirects=False)
    return resp.status, resp.headers.get("Location", ""), await resp.text()


async def test_connect_both_platforms_see_state_and_disconnect(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    csrf = await sign_in(client, merchant)
    html = await page(client, PATH)
    assert html.count('action="/console/settings/integrations/connect"') == 2
    assert "Not connected" in html and "Backfill now" not in html

    woo = {"platform": "woocommerce", "url": "https://shop.example/", "key": KEY, "secret": SECRET}
    status, _, body = await _post(client, "/connect", **woo)
    assert status == 403 and SECRET not in body  # no CSRF token, nothing kept
    async with pool.acquire() as conn:
        assert await connections.connection_status(conn, merchant.user_id) == {}

    status, where, _ = await _post(client, "/connect", csrf=csrf, **woo)
    assert (status, where) == (303, f"{PATH}?done=connected#platform-woocommerce")
    assert SECRET not in where
    status, _, _ = await _post(
        client, "/connect", csrf=csrf, platform="shopify", shop="my-shop", secret=TOKEN
    )
    assert status == 303
    keyring = server_keyring()
    async with pool.acquire() as conn:
        kept = await connections.get_connection(conn, merchant.user_id, "woocommerce", keyring)
        assert kept is not None and (kept.base_url, kept.key, kept.secret) == (
            "https://shop.example",
            KEY,
            SECRET,
        )
        shop = await connections.get_connection(conn, merchant.user_id, "shopify", keyring)
        assert shop is not None and shop.base_url == "https://my-shop.myshopify.com"
        await connections.record_run(
            conn, merchant.user_id, "shopify", high_water=None, error="the token was refused (401)"
        )

    html = await page(client, f"{PATH}?done=connected")
    assert "The store API is connected" in html
    assert "https://shop.example" in html and "ck_9a8b…" in html
    assert "The last 1 run(s) failed: the token was refused (401)" in html
    assert html.count("Backfill now") == 2
    for secret in (SECRET, TOKEN, KEY):
        assert secret not in html

    status, where, _ = await _post(client, "/disconnect", csrf=csrf, platform="shopify")
    assert where == f"{PATH}?done=disconnected#platform-shopify"
    status, where, _ = await _post(client, "/disconnect", csrf=csrf, platform="shopify")
    assert where == f"{PATH}?done=not_connected#platform-shopify"
    status, _, _ = await _post(client, "/disconnect", platform="woocommerce")
    assert status == 403


async def test_bad_input_is_a_400_page_that_never_shows_the_secret(
    client: TestClient, merchant: Merchant
):
    csrf = await sign_in(client, merchant)
    bad = [
        {"platform": "woocommerce", "url": "shop.example", "key": KEY, "secret": SECRET},
        {"platform": "woocommerce", "url": "https://s.example", "key": "a b", "secret": SECRET},
        {"platform": "woocommerce", "url": "https://s.example", "key": KEY, "secret": "x y"},
        {"platform": "woocommerce", "url": "https://s.example", "secret": SECRET},
        {"platform": "shopify", "shop": "shop.example.com", "secret": TOKEN},
        {"platform": "magento", "shop": "s", "secret": TOKEN},
    ]
    for data in bad:
        status, _, body = await _post(client, "/connect", csrf=csrf, **data)
        assert status == 400, (data, body[:300])
        assert SECRET not in body and TOKEN not in body and "Traceback" not in body
    status, _, body = await _post(client, "/connect", csrf=csrf, **bad[0])
    assert "store URL must look like" in body


async def test_backfill_now_runs_in_the_background_and_redirects_with_a_notice(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    csrf = await sign_in(client, merchant)
    status, where, _ = await _post(client, "/backfill", csrf=csrf, platform="woocommerce")
    assert where == f"{PATH}?done=not_connected#platform-woocommerce"
    await _post(
        client, "/connect", csrf=csrf, platform="woocommerce", url="http://127.0.0.1:9",
        key=KEY, secret=SECRET,
    )  # fmt: skip
    schedule = client.server.app[BACKFILL_SCHEDULE]
    stand_in = BackfillStandIn(merchant.user_id)
    schedule.open_source, schedule.run_backfill = stand_in.open_source, stand_in.backfill
    status, _, _ = await _post(client, "/backfill", platform="woocommerce")
    assert status == 403 and stand_in.calls == []
    status, where, _ = await _post(client, "/backfill", csrf=csrf, platform="woocommerce")
    assert (status, where) == (303, f"{PATH}?done=backfill_started#platform-woocommerce")
    await schedule.wait_started()
    assert stand_in.calls == [(merchant.user_id, "woocommerce")]
    assert stand_in.opened == [SECRET]

    async def shown() -> bool:
        return "Last backfill:</strong>\nnot yet" not in await page(client, PATH)

    await wait_until(shown, 5, "the run to be shown")
    async with pool.acquire() as conn:
        status_now = (await connections.connection_status(conn, merchant.user_id))["woocommerce"]
    assert status_now.high_water == MARK and status_now.failures == 0
