"""The Integrations tab over HTTP: the token masked until a POST reveals it, rotations with
confirmation, signing secrets never shown back, store bindings."""

from __future__ import annotations

import json
import secrets
from uuid import UUID

import asyncpg
import pytest_asyncio
from aiohttp.test_utils import TestClient

from service.accounts import bindings
from service.http.console.integrations import PATH
from service.settings import Settings
from tests.builders import CURL_BODY
from tests.e2e.http.console_client import csrf_of, page, sealed_merchant, sign_in
from tests.support import Merchant, ledger, wait_until


@pytest_asyncio.fixture
async def shop(pool: asyncpg.Pool, settings: Settings) -> Merchant:
    return await sealed_merchant(pool, settings)


async def _post(client: TestClient, path: str, **data: str) -> tuple[int, str]:
    resp = await client.post(path, data=data, allow_redirects=True)
    return resp.status, await resp.text()


async def test_the_tab_masks_the_token_and_a_post_reveals_it(client: TestClient, shop: Merchant):
    token = await sign_in(client, shop)
    html = await page(client, PATH)
    base = str(client.make_url("")).rstrip("/")
    assert f"{base}/api/webhook/woocommerce/whk_••••••••{shop.token[-4:]}" in html
    assert f"/api/webhook/shopify/whk_••••••••{shop.token[-4:]}" in html
    assert shop.token not in html and shop.api_key not in html
    assert "curl -X POST" in html and "Jane" in html
    # A GET cannot reveal; only the POST with the CSRF token does, and only in its answer.
    resp = await client.get(PATH + "/reveal")
    assert resp.status == 405
    status, html = await _post(client, PATH + "/reveal")
    assert status == 403 and shop.token not in html
    status, html = await _post(client, PATH + "/reveal", csrf=token)
    assert status == 200
    assert f"{base}/api/webhook/woocommerce/{shop.token}/producto" in html
    assert f"curl -X POST {base}/api/webhook/woocommerce/{shop.token} \\" in html
    assert shop.api_key not in html
    assert shop.token not in await page(client, PATH)


async def test_a_token_not_kept_sealed_is_not_revealable(client: TestClient, merchant: Merchant):
    token = await sign_in(client, merchant)  # made without the key, as before the console
    html = await page(client, PATH)
    assert "cannot be shown again" in html and 'id="reveal"' not in html
    status, html = await _post(client, PATH + "/reveal", csrf=token)
    assert status == 200 and merchant.token not in html


async def test_rotating_the_token_asks_first_then_the_old_url_answers_401(
    client: TestClient, shop: Merchant
):
    token = await sign_in(client, shop)
    status, html = await _post(client, PATH + "/rotate-token", csrf=token)
    assert status == 200 and "Are you sure?" in html
    resp = await client.post(shop.woo_orders(), data=CURL_BODY)
    assert resp.status == 200  # not rotated yet
    status, html = await _post(client, PATH + "/rotate-token", csrf=token, confirm="yes")
    assert status == 200 and "the only time it is shown" in html
    assert shop.token not in html
    new_token = html.split("/api/webhook/shopify/")[1].split("<")[0]
    assert new_token.startswith("whk_") and "•" not in new_token

    async def old_refused() -> bool:
        resp = await client.post(shop.woo_orders(), data=CURL_BODY)
        return resp.status == 401

    await wait_until(old_refused, 5, "the old token refused")
    resp = await client.post(f"/api/webhook/woocommerce/{new_token}", data=CURL_BODY)
    assert resp.status == 200, await resp.text()
    # Shown once: the tab masks the new token again.
    assert new_token not in await page(client, PATH)


async def test_rotating_the_api_key_shows_it_once_and_signs_out(client: TestClient, shop: Merchant):
    token = await sign_in(client, shop)
    status, html = await _post(client, PATH + "/rotate-api-key", csrf=token)
    assert status == 200 and "Are you sure?" in html
    status, html = await _post(client, PATH + "/rotate-api-key", csrf=token, confirm="yes")
    assert status == 200 and "Your new API key" in html
    new_key = html.split('id="new-api-key">')[1].split("<")[0]
    assert new_key.startswith("key_") and new_key != shop.api_key
    resp = await client.get(PATH, allow_redirects=False)
    assert resp.status == 303  # signed out: the old key signed this session in
    resp = await client.get("/api/sales", headers=shop.auth)
    assert resp.status == 401
    login = csrf_of(await page(client, "/console/login"))
    resp = await client.post(
        "/console/login", data={"csrf": login, "api_key": new_key}, allow_redirects=False
    )
    assert resp.status == 303


async def test_a_signing_secret_is_set_and_cleared_never_shown(client: TestClient, shop: Merchant):
    token = await sign_in(client, shop)
    secret = "wc-s3cret-for-the-console"
    status, html = await _post(
        client, PATH + "/secret", csrf=token, platform="woocommerce", secret=secret
    )
    assert status == 200 and "The signing secret is saved." in html
    assert secret not in html
    assert 'class="secret-status" data-set="true"' in html
    resp = await client.post(shop.woo_orders(), data=CURL_BODY)
    assert resp.status == 401  # unsigned deliveries are refused now
    status, html = await _post(client, PATH + "/secret", csrf=token, platform="shopify", secret=" ")
    assert status == 400 and "empty" in html
    status, html = await _post(client, PATH + "/secret", csrf=token, platform="nope", secret="x")
    assert status == 400
    status, html = await _post(client, PATH + "/secret/clear", csrf=token, platform="woocommerce")
    assert status == 200 and "The signing secret is cleared." in html
    assert secret not in html


async def test_the_bound_store_is_shown_and_unbound(
    client: TestClient, shop: Merchant, pool: asyncpg.Pool
):
    token = await sign_in(client, shop)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO store_bindings (user_id, platform, source) VALUES ($1, $2, $3)",
            shop.user_id,
            "shopify",
            "shop-one.myshopify.com",
        )
    html = await page(client, PATH)
    assert "shop-one.myshopify.com" in html
    status, html = await _post(client, PATH + "/unbind", csrf=token, platform="shopify")
    assert status == 200 and "The store is unbound." in html
    async with pool.acquire() as conn:
        assert "shopify" not in await bindings.bindings_for(conn, shop.user_id)


async def test_the_last_delivery_is_shown_per_endpoint(client: TestClient, shop: Merchant):
    await sign_in(client, shop)
    html = await page(client, PATH)
    assert html.count("No delivery yet.") == 3
    resp = await client.post(shop.woo_orders(), data=CURL_BODY)
    answer = await resp.json()
    html = await page(client, PATH)
    assert html.count("No delivery yet.") == 2
    assert 'outcome-recorded">recorded' in html and f"/console/sales/{answer['sale_id']}" in html


async def test_a_user_made_by_the_ledger_command_can_be_revealed(
    client: TestClient, database_url: str
):
    """``ledger users create`` seals the token with the same key file the service reads."""
    name = f"console-cli-{secrets.token_hex(4)}"
    code, out, err = await ledger(database_url, "users", "create", name, "--json")
    assert code == 0, err
    made = json.loads(out)
    shop = Merchant(UUID(made["user_id"]), made["name"], made["webhook_token"], made["api_key"])
    token = await sign_in(client, shop)
    status, html = await _post(client, PATH + "/reveal", csrf=token)
    assert status == 200 and f"/api/webhook/shopify/{shop.token}" in html
    code, out, err = await ledger(database_url, "users", "rotate-token", name)
    assert code == 0, err
    new_token = out.split("webhook token: ")[1].split()[0]
    status, html = await _post(client, PATH + "/reveal", csrf=token)
    assert f"/api/webhook/shopify/{new_token}" in html and shop.token not in html
