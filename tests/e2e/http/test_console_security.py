"""The console's guards over HTTP: CSRF, the sign-in rate limit, security headers, session
expiry, and no secret in any page."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import parse_qs, urlsplit

import asyncpg
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from projections import encoding
from service.accounts.sealing import master_key
from service.http.console.security import COOKIE, CSP
from service.settings import Settings
from tests.builders import CURL_BODY
from tests.e2e.http.console_client import csrf_of, page, sealed_merchant, sign_in
from tests.support import Merchant, start_client


async def test_root_and_console_lead_to_sign_in(client: TestClient):
    resp = await client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/console/sales")
    resp = await client.get("/console", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/console/sales")
    resp = await client.get("/console/sales", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/login?next=/console/sales"


async def test_sign_in_with_the_api_key_then_out(client: TestClient, merchant: Merchant):
    html = await page(client, "/console/login")
    assert '<label for="api_key">API key</label>' in html
    token = await sign_in(client, merchant)
    html = await page(client, "/console/sales")
    assert merchant.api_key not in html and merchant.token not in html
    resp = await client.post("/console/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/console/sales", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/login")


async def test_a_wrong_key_is_refused(client: TestClient, merchant: Merchant):
    token = csrf_of(await page(client, "/console/login"))
    resp = await client.post("/console/login", data={"csrf": token, "api_key": "key_nope"})
    assert resp.status == 401
    assert "That API key is not valid." in await resp.text()


async def test_a_post_without_csrf_answers_403(client: TestClient, merchant: Merchant):
    token = await sign_in(client, merchant)
    for data in ({}, {"csrf": token[:-2] + "xx"}, {"csrf": ""}):
        resp = await client.post("/console/logout", data=data, allow_redirects=False)
        assert resp.status == 403, data
        assert "text/html" in resp.headers["Content-Type"]
        assert "did not come from this console" in await resp.text()
    resp = await client.post(
        "/console/logout", data={}, headers={"Accept": "application/json"}, allow_redirects=False
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "csrf_failed"
    # The login form is guarded too (a forged sign-in would plant the attacker's session).
    resp = await client.post("/console/login", data={"api_key": merchant.api_key})
    assert resp.status == 403
    # Still signed in: the refused posts did nothing.
    await page(client, "/console/sales")


async def test_sign_in_attempts_are_limited(client: TestClient, merchant: Merchant):
    token = csrf_of(await page(client, "/console/login"))
    for _ in range(10):
        resp = await client.post("/console/login", data={"csrf": token, "api_key": "key_x"})
        assert resp.status == 401
    resp = await client.post("/console/login", data={"csrf": token, "api_key": merchant.api_key})
    assert resp.status == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 300
    assert "Too many attempts" in await resp.text()


async def test_every_console_answer_has_the_security_headers(
    client: TestClient, merchant: Merchant
):
    await sign_in(client, merchant)
    for path in ("/console/login", "/console/sales", "/console/nowhere"):
        resp = await client.get(path)
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "<script>" not in await resp.text()
    resp = await client.get("/console/nowhere")
    assert resp.status == 404
    resp = await client.get("/console/static/console.css")
    assert resp.status == 200 and resp.headers["X-Frame-Options"] == "DENY"
    # The webhooks and the API are not the console's: no cookie, no console headers.
    resp = await client.get("/healthz")
    assert "Content-Security-Policy" not in resp.headers


async def test_the_session_cookie_is_httponly_and_lax(client: TestClient, merchant: Merchant):
    html = await page(client, "/console/login")
    resp = await client.post(
        "/console/login",
        data={"csrf": csrf_of(html), "api_key": merchant.api_key},
        allow_redirects=False,
    )
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # LEDGER_PUBLIC_URL is not https here
    assert merchant.api_key not in cookie


def _cookie(settings: Settings, session: dict[str, object]) -> str:
    data = {"created": int(time.time()), "session": session}
    return Fernet(master_key(settings)).encrypt(encoding.dumps(data)).decode()


async def test_a_session_expires_after_its_lifetime(
    client: TestClient, merchant: Merchant, settings: Settings
):
    lifetime = settings.session_lifetime.total_seconds()
    fresh = {"user_id": str(merchant.user_id), "signed_in_at": time.time() - 60, "csrf": "c"}
    client.session.cookie_jar.update_cookies({COOKIE: _cookie(settings, fresh)})
    await page(client, "/console/sales")
    old = {**fresh, "signed_in_at": time.time() - lifetime - 1}
    client.session.cookie_jar.update_cookies({COOKIE: _cookie(settings, old)})
    resp = await client.get("/console/sales", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/login")


async def test_no_page_holds_a_secret_unless_it_reveals_one(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    shop = await sealed_merchant(pool, settings)
    resp = await client.post(shop.woo_orders(), data=CURL_BODY)
    sale_id = (await resp.json())["sale_id"]
    pages = [await page(client, "/console/login")]
    token = await sign_in(client, shop)
    for path in (
        "/console/sales",
        "/console/sales?q=9999",
        f"/console/sales/{sale_id}",
        "/console/settings/integrations",
    ):
        pages.append(await page(client, path))
    pages.append(await page(client, "/console/nowhere", status=404))
    for action in ("rotate-token", "rotate-api-key"):  # the confirmation pages
        resp = await client.post(f"/console/settings/integrations/{action}", data={"csrf": token})
        pages.append(await resp.text())
    for html in pages:
        assert shop.token not in html
        assert shop.api_key not in html
    for cookie in client.session.cookie_jar:
        assert shop.token not in cookie.value and shop.api_key not in cookie.value
    resp = await client.post("/console/settings/integrations/reveal", data={"csrf": token})
    assert shop.token in await resp.text()  # the one answer that asked for it


async def test_the_public_url_builds_the_webhook_urls_and_makes_the_cookie_secure(
    settings: Settings, pool: asyncpg.Pool
):
    public = dataclasses.replace(settings, public_url="https://ledger.example.com/base")
    client = await start_client(public)
    try:
        shop = await sealed_merchant(pool, settings)
        # A browser would not send a Secure cookie over http: the test sends it itself.
        client.session.cookie_jar.clear()
        resp = await client.get("/console/login")
        assert "Secure" in resp.headers["Set-Cookie"]
        cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
        data = {"csrf": csrf_of(await resp.text()), "api_key": shop.api_key}
        client.session.cookie_jar.clear()
        resp = await client.post("/console/login", data=data, headers=cookie, allow_redirects=False)
        assert resp.status == 303 and "Secure" in resp.headers["Set-Cookie"]
        cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
        client.session.cookie_jar.clear()
        resp = await client.get("/console/settings/integrations", headers=cookie)
        html = await resp.text()
        assert resp.status == 200, html
        masked = (
            f"https://ledger.example.com/base/api/webhook/shopify/whk_••••••••{shop.token[-4:]}"
        )
        assert masked in html
    finally:
        await client.close()


async def test_a_refused_page_has_the_security_headers_too(client: TestClient):
    token = csrf_of(await page(client, "/console/login"))
    for _ in range(11):
        resp = await client.post("/console/login", data={"csrf": token, "api_key": "key_x"})
    assert resp.status == 429
    assert resp.headers["Content-Security-Policy"] == CSP
    resp = await client.post("/console/login", data={})
    assert resp.status == 403 and resp.headers["X-Frame-Options"] == "DENY"


async def test_hostile_posts_are_refused_never_a_500(client: TestClient, merchant: Merchant):
    token = await sign_in(client, merchant)
    bodies = [
        (b"csrf=" + token.encode() + b"&api_key=%ff%fe", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded; charset=utf-8"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b'{"csrf": "' + token.encode() + b'"}', "application/json"),
        (b"", "text/plain"),
    ]
    for body, kind in bodies:
        for path in ("/console/login", "/console/logout", "/console/language"):
            resp = await client.post(
                path, data=body, headers={"Content-Type": kind}, allow_redirects=False
            )
            assert resp.status in (303, 400, 401, 403), (path, kind, resp.status)
    for method in ("PUT", "DELETE", "PATCH"):
        resp = await client.request(method, "/console/logout", data={"csrf": token})
        assert resp.status in (403, 405), method
    await page(client, "/console/sales")  # still signed in


async def test_signing_in_starts_a_new_session_and_csrf_token(
    client: TestClient, merchant: Merchant
):
    before = csrf_of(await page(client, "/console/login"))
    after = await sign_in(client, merchant)
    assert after != before
    resp = await client.post("/console/logout", data={"csrf": before}, allow_redirects=False)
    assert resp.status == 403  # the anonymous session's token is gone with it


async def test_sign_in_brings_you_back_and_says_why_you_were_sent(
    client: TestClient, merchant: Merchant, settings: Settings
):
    resp = await client.get("/console/sales?q=9999", allow_redirects=False)
    login = resp.headers["Location"]
    assert parse_qs(urlsplit(login).query) == {"next": ["/console/sales?q=9999"]}
    html = await page(client, login)
    assert 'name="next" value="/console/sales?q=9999"' in html
    data = {"csrf": csrf_of(html), "api_key": "key_wrong", "next": "/console/sales?q=9999"}
    resp = await client.post("/console/login", data=data)
    assert 'name="next" value="/console/sales?q=9999"' in await resp.text()  # kept on failure
    data["api_key"] = merchant.api_key
    resp = await client.post("/console/login", data=data, allow_redirects=False)
    assert resp.headers["Location"] == "/console/sales?q=9999"
    token = csrf_of(await page(client, "/console/sales"))
    await client.post("/console/logout", data={"csrf": token})
    assert "You are signed out." in await page(client, "/console/login?signed_out=1")
    old = {"user_id": str(merchant.user_id), "signed_in_at": time.time() - 13 * 3600}
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: _cookie(settings, old)})
    resp = await client.get("/console/sales")
    assert "Your session has ended. Sign in again." in await resp.text()
