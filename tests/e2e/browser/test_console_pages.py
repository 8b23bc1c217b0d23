"""The stock, product, delivery and reconcile pages in a real browser: the deduction of an
order in a product's history, an adjustment made through the form, and every page at 375 px
without horizontal scroll (with a screenshot of each)."""

from __future__ import annotations

import json
import re

from aiohttp import ClientSession
from playwright.async_api import Page, expect

from tests.builders import CURL_BODY, woo_product
from tests.e2e.browser.conftest import no_horizontal_scroll, screenshot, sign_in
from tests.support import Merchant


async def _post(server: str, path: str, body: str | bytes, topic: str) -> dict[str, object]:
    async with ClientSession() as http:
        resp = await http.post(
            server + path,
            data=body,
            headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": topic},
        )
        assert resp.status in (200, 202), await resp.text()
        return dict(await resp.json())


async def _shop(server: str, merchant: Merchant) -> None:
    """The docs' curl test (product 42, one sold), 42 counted at 3 by the store, and a body
    the ledger could not read (in the inbox)."""
    await _post(server, merchant.woo_orders(), CURL_BODY, "order.created")
    product = woo_product(42, 3, "2026-05-01T10:00:00", name="Sample Product", sku="SP-42")
    await _post(server, merchant.woo_products(), json.dumps(product), "product.updated")
    await _post(server, merchant.woo_orders(), b"{not json", "order.created")


async def test_stock_history_shows_the_deduction(page: Page, merchant: Merchant, server: str):
    await _shop(server, merchant)
    await sign_in(page, merchant)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Stock").click()
    await expect(page.get_by_role("heading", name="Stock")).to_be_visible()
    row = page.locator("tr.item", has_text="woocommerce:42")
    await expect(row.locator(".level")).to_have_text("-1")
    await expect(row.locator(".drift")).to_contain_text("+4")
    await screenshot(page, "stock")
    await row.get_by_role("link", name="Sample Product").click()
    await expect(page.get_by_role("heading", name="Sample Product")).to_be_visible()
    movement = page.locator("tr.movement")
    await expect(movement).to_have_count(1)
    await expect(movement.locator(".kind")).to_have_text("sold")
    await expect(movement.locator(".delta")).to_have_text("-1")
    await expect(movement.locator(".balance")).to_have_text("-1")
    await expect(page.locator("svg.chart path.level")).to_have_count(1)
    await screenshot(page, "stock-history")
    await movement.get_by_role("link", name="the sale").click()
    await page.wait_for_url(re.compile(r".*/console/sales/[0-9a-f-]{36}$"))


async def test_adjust_stock_through_the_form(page: Page, merchant: Merchant, server: str):
    await _shop(server, merchant)
    await sign_in(page, merchant)
    await page.goto("/console/stock/woocommerce%3A42")
    await page.get_by_label("Amount").fill("5")
    await page.get_by_label("Reason").fill("recounted the shelf")
    await page.get_by_role("button", name="Adjust").click()
    await expect(page.get_by_role("status")).to_have_text("The stock is adjusted.")
    await expect(page.locator("#level")).to_have_text("4")
    last = page.locator("tr.movement").last
    await expect(last.locator(".reason")).to_have_text("recounted the shelf")
    await expect(last.locator(".balance")).to_have_text("4")
    await screenshot(page, "stock-adjusted")
    # Reloading the page the form led to adjusts nothing more.
    await page.reload()
    await expect(page.locator("#level")).to_have_text("4")


async def test_every_page_fits_375_px(page: Page, merchant: Merchant, server: str):
    await _shop(server, merchant)
    await sign_in(page, merchant)
    await page.set_viewport_size({"width": 375, "height": 800})
    await page.goto("/console/deliveries")
    quarantined = page.locator("tr.delivery.outcome-quarantined a.open")
    delivery = await quarantined.get_attribute("href")
    assert delivery is not None
    pages = {
        "stock": "/console/stock",
        "stock-history": "/console/stock/woocommerce%3A42",
        "products": "/console/products",
        "deliveries": "/console/deliveries",
        "delivery": delivery,
        "delivery-reprocess": delivery + "/reprocess",
        "reconcile": "/console/reconcile",
        "reconcile-confirm": "/console/reconcile/confirm",
    }
    for name, path in pages.items():
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert await no_horizontal_scroll(page), name
        await screenshot(page, f"{name}-375")


async def test_reconcile_and_dismiss_in_the_browser(page: Page, merchant: Merchant, server: str):
    await _shop(server, merchant)
    await sign_in(page, merchant)
    await page.goto("/console/reconcile")
    await expect(page.locator("tr.discrepancy .by")).to_have_text("+4")
    await screenshot(page, "reconcile")
    await page.get_by_role("link", name="Apply these counts…").click()
    await page.get_by_role("button", name="Yes, apply them").click()
    await expect(page.get_by_role("status")).to_contain_text("Applied: 1 adjusted")
    await expect(page.locator("tr.discrepancy")).to_have_count(0)
    await page.goto("/console/deliveries?outcome=quarantined")
    await screenshot(page, "deliveries")
    await page.locator("tr.delivery a.open").click()
    await screenshot(page, "delivery")
    await page.get_by_role("link", name="Dismiss…").click()
    await page.get_by_role("button", name="Yes, dismiss it").click()
    await expect(page.get_by_role("status")).to_have_text("Dismissed.")
    await page.goto("/console/products")
    await expect(page.locator("tr.product")).to_have_count(1)
    await screenshot(page, "products")
