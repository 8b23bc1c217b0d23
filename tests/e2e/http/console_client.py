"""Driving the console over the aiohttp test client: forms with their CSRF token."""

from __future__ import annotations

import re
import secrets

import asyncpg
from aiohttp.test_utils import TestClient

from service.accounts import users
from service.accounts.sealing import sealer
from service.settings import Settings
from tests.support import Merchant

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def page(client: TestClient, path: str, status: int = 200) -> str:
    resp = await client.get(path, allow_redirects=True)
    html = await resp.text()
    assert resp.status == status, (resp.status, html[:500])
    return html


async def sign_in(client: TestClient, merchant: Merchant) -> str:
    """Sign in with the merchant's API key; the CSRF token of the signed-in session."""
    token = csrf_of(await page(client, "/console/login"))
    resp = await client.post(
        "/console/login", data={"csrf": token, "api_key": merchant.api_key}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/console/sales"
    return csrf_of(await page(client, "/console/sales"))


async def sealed_merchant(pool: asyncpg.Pool, settings: Settings) -> Merchant:
    """A merchant whose token the console can reveal: made as ``ledger users create`` makes
    one, sealed with the service's key."""
    async with pool.acquire() as conn:
        new = await users.create_user(conn, f"shop-{secrets.token_hex(6)}", sealer(settings))
    return Merchant(new.user_id, new.name, new.webhook_token, new.api_key)
