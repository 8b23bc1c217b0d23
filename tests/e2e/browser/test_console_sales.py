"""The console in a real browser: signing in and the sale list."""

from __future__ import annotations

import json
import re

from aiohttp import ClientSession
from playwright.async_api import Browser, Page, expect

from tests.builders import CURL_BODY, woo_order
from tests.e2e.browser.conftest import no_horizontal_scroll, screenshot, sign_in
from tests.support import Merchant


async def test_sign_in_with_the_api_key(page: Page, merchant: Merchant):
    await page.goto("/")
    await page.wait_for_url("**/console/login?next=/console/sales")
    await screenshot(page, "login")
    await sign_in(page, merchant)
    await expect(page.get_by_role("heading", name="Sales")).to_be_visible()
    nav = page.get_by_role("navigation", name="Sections")
    for name in ("Sales", "Stock", "Products", "Deliveries", "Reconcile", "Integrations"):
        await expect(nav.get_by_role("link", name=name)).to_be_visible()
    assert merchant.api_key not in await page.content()


async def test_the_curl_test_appears_in_the_sale_list(page: Page, merchant: Merchant, server: str):
    async with ClientSession() as http:
        resp = await http.post(
            server + merchant.woo_orders(),
            data=CURL_BODY,
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 200, await resp.text()
    await sign_in(page, merchant)
    row = page.locator("tr.sale", has_text="#9999")
    await expect(row).to_have_count(1)
    await expect(row.locator(".customer")).to_contain_text("Jane Doe")
    await expect(row.locator(".lines")).to_have_text("1")
    await expect(row.locator(".total .money")).to_have_attribute("data-value", "19.99")
    await expect(row.locator(".total")).to_contain_text("19.99")
    await screenshot(page, "sales")
    await page.set_viewport_size({"width": 375, "height": 800})
    assert await no_horizontal_scroll(page)
    await screenshot(page, "sales-375")


async def test_the_spanish_console_says_ventas(page: Page, merchant: Merchant, server: str):
    async with ClientSession() as http:
        resp = await http.post(server + merchant.woo_orders(), data=json.dumps(woo_order(31)))
        assert resp.status == 200
    await sign_in(page, merchant)
    await page.get_by_label("Language").select_option("es")
    await page.get_by_role("button", name="Switch").click()
    await expect(page.get_by_role("heading", name="Ventas")).to_be_visible()
    nav = page.get_by_role("navigation", name="Secciones")
    await expect(nav.get_by_role("link", name="Ventas")).to_be_visible()
    total = page.locator("tr.sale", has_text="#31").locator(".total .money")
    await expect(total).to_have_text(re.compile(r"^15,50\s€$"))  # Babel, es_ES
    await expect(total).to_have_attribute("data-value", "15.50")
    await screenshot(page, "sales-es")


async def test_the_spanish_of_the_browser_is_the_default(browser: Browser, server: str):
    context = await browser.new_context(base_url=server, locale="es-ES")
    try:
        page = await context.new_page()
        await page.goto("/console/login")
        await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
        await expect(page.get_by_label("API key")).to_be_visible()
    finally:
        await context.close()


async def test_signing_in_and_moving_about_by_keyboard_alone(page: Page, merchant: Merchant):
    await page.goto("/console/login")
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "api_key":
            break
    assert await page.evaluate("document.activeElement.id") == "api_key"
    await page.keyboard.type(merchant.api_key)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/sales")
    await page.keyboard.press("Tab")  # the skip link comes first
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/sales#main")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.goto("/console/sales")
    for _ in range(20):  # the navigation, by Tab from the top
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "Integrations":
            break
    assert await page.evaluate("document.activeElement.textContent") == "Integrations"
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/settings/integrations")


async def test_a_sale_shows_its_source_with_the_sha256_checked(
    page: Page, merchant: Merchant, server: str
):
    async with ClientSession() as http:
        resp = await http.post(
            server + merchant.woo_orders(),
            data=CURL_BODY,
            headers={"Content-Type": "application/json"},
        )
        answer = await resp.json()
    await sign_in(page, merchant)
    await page.get_by_role("link", name="woocommerce #9999").click()
    await page.wait_for_url(f"**/console/sales/{answer['sale_id']}")
    await expect(page.locator(".customer-name")).to_have_text("Jane Doe")
    await expect(page.locator("tr.line")).to_have_count(1)
    await expect(page.locator(".amounts .total .money")).to_have_attribute("data-value", "19.99")
    check = page.locator(".sha256-check")
    await expect(check).to_have_attribute("data-verified", "true")
    await expect(check).to_contain_text("sha256 verified")
    await expect(page.locator(".verification")).to_have_text("unverified")
    await expect(page.locator("pre.body")).to_contain_text('"total": "19.99"')
    events = page.locator("ol.events > li")
    names = [await e.locator("summary strong").inner_text() for e in await events.all()]
    assert names[:2] == ["Opened", "OrderReceived"] and "SaleRecorded" in names, names
    await screenshot(page, "sale-source")
    await page.set_viewport_size({"width": 375, "height": 800})
    assert await no_horizontal_scroll(page)
    await screenshot(page, "sale-source-375")
