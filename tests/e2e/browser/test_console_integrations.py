"""The Integrations tab in a real browser: masked, revealed, rotated; forms without CSRF."""

from __future__ import annotations

import asyncpg
import pytest_asyncio
from aiohttp import ClientSession
from playwright.async_api import Page, expect

from service.settings import Settings
from tests.builders import CURL_BODY, shopify_body
from tests.e2e.browser.conftest import no_horizontal_scroll, screenshot, sign_in
from tests.e2e.http.console_client import sealed_merchant
from tests.support import Merchant, wait_until


@pytest_asyncio.fixture
async def shop(pool: asyncpg.Pool, settings: Settings) -> Merchant:
    return await sealed_merchant(pool, settings)


async def _post_curl_test(url: str) -> int:
    async with ClientSession() as http:
        resp = await http.post(url, data=CURL_BODY, headers={"Content-Type": "application/json"})
        return resp.status


async def test_the_tab_shows_a_masked_url_and_reveal_shows_the_token(
    page: Page, shop: Merchant, server: str
):
    await sign_in(page, shop)
    await page.get_by_role("link", name="Integrations").click()
    await page.wait_for_url("**/console/settings/integrations")
    url = page.locator("#url-woocommerce-order")
    await expect(url).to_have_text(
        f"{server}/api/webhook/woocommerce/whk_••••••••{shop.token[-4:]}"
    )
    assert shop.token not in await page.content()
    await page.set_viewport_size({"width": 375, "height": 800})
    assert await no_horizontal_scroll(page)
    await screenshot(page, "integrations-375")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await screenshot(page, "integrations")
    await page.get_by_role("button", name="Reveal the token").click()
    await expect(url).to_have_text(f"{server}/api/webhook/woocommerce/{shop.token}")
    await expect(page.locator("#curl-woocommerce-order")).to_contain_text(
        f"curl -X POST {server}/api/webhook/woocommerce/{shop.token}"
    )
    await expect(page.get_by_role("button", name="Copy").first).to_be_visible()
    await screenshot(page, "integrations-revealed")
    # The journey: copy the URL, send the test, see the sale.
    assert await _post_curl_test(await url.inner_text()) == 200
    await page.get_by_role("link", name="Sales").click()
    await expect(page.locator("tr.sale", has_text="#9999")).to_contain_text("Jane Doe")


async def test_rotating_the_token_then_the_old_url_answers_401(
    page: Page, shop: Merchant, server: str
):
    old_url = f"{server}{shop.woo_orders()}"
    assert await _post_curl_test(old_url) == 200
    await sign_in(page, shop)
    await page.goto("/console/settings/integrations")
    await page.get_by_role("button", name="Rotate the webhook token").click()
    await expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    await screenshot(page, "confirm-rotation")
    await page.get_by_role("button", name="Yes, rotate").click()
    await expect(page.get_by_text("this is the only time it is shown")).to_be_visible()
    await screenshot(page, "integrations-rotated")
    new_url = await page.locator("#url-woocommerce-order").inner_text()
    assert new_url != old_url and "•" not in new_url

    async def old_refused() -> bool:
        return await _post_curl_test(old_url) == 401

    await wait_until(old_refused, 5, "the old URL refused")
    assert await _post_curl_test(new_url) == 200
    await page.goto("/console/settings/integrations")
    assert new_url not in await page.content()


async def test_a_form_post_without_csrf_answers_403(page: Page, merchant: Merchant):
    await sign_in(page, merchant)
    await page.locator('form[action="/console/logout"] input[name="csrf"]').evaluate(
        "input => input.remove()"
    )
    async with page.expect_response("**/console/logout") as answer:
        await page.get_by_role("button", name="Sign out").click()
    assert (await answer.value).status == 403
    await expect(page.get_by_text("did not come from this console")).to_be_visible()
    await page.goto("/console/sales")
    await expect(page.get_by_role("heading", name="Sales")).to_be_visible()  # still signed in


async def test_every_page_fits_375_px(page: Page, shop: Merchant, server: str):
    assert await _post_curl_test(f"{server}{shop.woo_orders()}") == 200
    body, _ = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043-a-very-long-id",
        "X-Shopify-Shop-Domain": "a-shop-with-a-rather-long-name-indeed.myshopify.com",
    }
    async with ClientSession() as http:
        resp = await http.post(f"{server}{shop.shopify_orders()}", data=body, headers=headers)
        assert resp.status == 200, await resp.text()
    await page.set_viewport_size({"width": 375, "height": 800})
    await page.goto("/console/login")
    assert await no_horizontal_scroll(page)
    await sign_in(page, shop)
    paths = ["/console/sales", "/console/settings/integrations"]
    for link in await page.locator("tr.sale a.order").all():
        href = await link.get_attribute("href")
        assert href is not None
        paths.append(href)
    assert len(paths) == 4
    for path in paths:
        await page.goto(path)
        assert await no_horizontal_scroll(page), path


async def test_rotating_the_api_key_then_signing_in_again(page: Page, shop: Merchant):
    await sign_in(page, shop)
    await page.goto("/console/settings/integrations")
    await page.get_by_role("button", name="Rotate the API key").click()
    await page.get_by_role("button", name="Yes, rotate").click()
    new_key = await page.locator("#new-api-key").inner_text()
    assert new_key.startswith("key_") and new_key != shop.api_key
    await screenshot(page, "new-api-key")
    await page.get_by_role("link", name="Sign in again").click()
    await page.get_by_label("API key").fill(shop.api_key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That API key is not valid.")
    await page.get_by_label("API key").fill(new_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/sales")


async def test_connecting_the_store_api_in_the_browser(page: Page, shop: Merchant):
    secret = "cs_browser0123456789abcdef0123456789abcdef"
    await sign_in(page, shop)
    await page.goto(page.url.split("/console")[0] + "/console/settings/integrations")
    woo = page.locator("#platform-woocommerce")
    await woo.get_by_label("Store URL").fill("https://shop.example")
    await woo.get_by_label("Consumer key").fill("ck_browser0123456789abcdef0123456789abcd")
    await woo.get_by_label("Consumer secret").fill(secret)
    await woo.get_by_role("button", name="Connect the store API").click()
    await expect(page.locator("p.notice")).to_contain_text("The store API is connected")
    await expect(woo.locator("p.connection")).to_contain_text("https://shop.example")
    await expect(woo.get_by_role("button", name="Backfill now")).to_be_visible()
    assert secret not in await page.content()
    await page.set_viewport_size({"width": 375, "height": 800})
    assert await no_horizontal_scroll(page)
    await woo.scroll_into_view_if_needed()
    await screenshot(page, "integrations-store-api-375")
