"""The browser tier: the service on a real port and Debian's Chromium driven by Playwright.

Playwright's async API runs on the suite's one asyncio loop (pytest-asyncio's session loop),
the same loop that serves the app, so a page load and the handler answering it interleave
as they would in service. The browser is /usr/bin/chromium (./scripts/test installs the
Debian package when it is missing); Playwright never downloads one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from service.http.access_log import RedactingAccessLogger
from service.http.app import create_app
from service.settings import Settings
from tests.support import Merchant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest_asyncio.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """The service on 127.0.0.1 at a free port; its base URL."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server(access_log_class=RedactingAccessLogger)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest_asyncio.fixture
async def page(browser: Browser, server: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=server, locale="en-US")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    yield page
    await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the page shows now, as var/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, merchant: Merchant) -> None:
    """Sign in through the form, as a person would: the field labelled "API key"."""
    await page.goto("/console/login")
    await page.get_by_label("API key").fill(merchant.api_key)
    await page.get_by_role("button", name=re.compile("Sign in|Entrar")).click()
    await page.wait_for_url("**/console/sales")


async def no_horizontal_scroll(page: Page) -> bool:
    """Whether the page fits its 375 px viewport."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    return int(width) <= 375
