"""The console's delivery log over HTTP: the list with its filters and pages, a delivery's
detail, reprocess and dismiss of a quarantined one (confirmed first), the notice of a platform
gone silent, and bad input as a 400 or 404 page."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.accounts import secrets
from service.http.keys import INTAKE
from service.settings import Settings
from tests.builders import as_body, sign, woo_order, woo_product
from tests.e2e.http.console_client import page, sign_in
from tests.support import Merchant, create_merchant, sales_of, server_keyring, wait_until


async def _deliveries(client: TestClient, merchant: Merchant) -> list[dict[str, Any]]:
    resp = await client.get("/api/deliveries", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["deliveries"])


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="delivery [^"]*">(.*?)</tr>', html, re.S)


async def _refused_signature(client: TestClient, merchant: Merchant, pool: asyncpg.Pool) -> int:
    """An order refused for its signature (the store signs with a secret the ledger does not
    have yet); its delivery id."""
    async with pool.acquire() as conn:
        await secrets.set_secret(
            conn, merchant.name, "woocommerce", "old", timedelta(0), server_keyring()
        )
    body = as_body(woo_order(77))
    resp = await client.post(
        merchant.woo_orders(),
        data=body,
        headers={
            "X-WC-Webhook-Signature": sign(body, "new"),
            "X-WC-Webhook-Topic": "order.created",
        },
    )
    assert resp.status == 401
    [row] = [d for d in await _deliveries(client, merchant) if d["outcome"] == "invalid_signature"]
    assert row["inbox_id"] is not None
    return int(row["id"])


async def test_the_log_lists_filters_and_pages(client: TestClient, merchant: Merchant):
    for oid in range(1, 4):
        await client.post(merchant.woo_orders(), json=woo_order(oid))
    await client.post(merchant.woo_products(), json=woo_product(42, 3))
    await client.post(merchant.woo_orders(), data=b"{not json")
    await sign_in(client, merchant)
    html = await page(client, "/console/deliveries")
    rows = _rows(html)
    assert len(rows) == 5
    assert "quarantined" in rows[0] and "invalid_json" in rows[0]
    assert "woocommerce:42" in rows[1]
    assert "/console/sales/" in rows[2] and "#3" in rows[2]
    html = await page(client, "/console/deliveries?outcome=quarantined")
    assert len(_rows(html)) == 1
    html = await page(client, "/console/deliveries?platform=shopify")
    assert _rows(html) == [] and "No deliveries match." in html
    html = await page(client, "/console/deliveries?from=2000-01-01&to=2000-01-02")
    assert _rows(html) == []
    html = await page(client, "/console/deliveries?from=2000-01-01&to=9999-12-31")
    assert len(_rows(html)) == 5


async def test_cursor_paging(client: TestClient, merchant: Merchant, monkeypatch):
    monkeypatch.setattr("service.http.console.deliveries.PAGE_SIZE", 2)
    for oid in range(1, 6):
        await client.post(merchant.woo_orders(), json=woo_order(oid))
    await sign_in(client, merchant)
    seen: list[str] = []
    path: str | None = "/console/deliveries?platform=woocommerce"
    while path:
        html = await page(client, path.replace("&amp;", "&"))
        seen += [re.findall(r"#(\d+)</a>", r)[0] for r in _rows(html)]
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        path = found.group(1) if found else None
        assert path is None or "platform=woocommerce" in path
    assert seen == ["5", "4", "3", "2", "1"]


@pytest.mark.parametrize(
    "query",
    [
        "outcome=splendid",
        "platform=etsy",
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-02-02&to=2026-02-01",
        "cursor=bm9wZQ",
        "topic=" + "t" * 400,
        "topic=a%00b",
    ],
)
async def test_bad_parameters_are_a_400_page(client: TestClient, merchant: Merchant, query):
    await sign_in(client, merchant)
    assert "Something is wrong" in await page(client, f"/console/deliveries?{query}", status=400)


async def test_a_deliverys_detail_links_what_it_touched(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    headers = {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "d-7"}
    body = as_body(woo_order(7))
    resp = await client.post(merchant.woo_orders(), data=body, headers=headers)
    sale_id = (await resp.json())["sale_id"]
    await client.post(merchant.woo_products(), json=woo_product(42, 3))
    product, order = await _deliveries(client, merchant)
    await sign_in(client, merchant)
    html = await page(client, f"/console/deliveries/{order['id']}")
    assert hashlib.sha256(body).hexdigest() in html
    assert f"{len(body)} bytes" in html
    assert f'href="/console/sales/{sale_id}"' in html
    assert "<code>x-wc-webhook-delivery-id</code>" in html and "<code>d-7</code>" in html
    assert "order.created" in html and 'class="http-status">200<' in html
    html = await page(client, f"/console/deliveries/{product['id']}")
    assert 'href="/console/stock/woocommerce%3A42"' in html
    assert merchant.token not in html and merchant.api_key not in html
    # Another user's delivery, and ids that cannot be one, are not there.
    other = await create_merchant(pool)
    await sign_in(client, other)
    for path in (order["id"], "abc", "0", "99999999999999999999", "-1"):
        await page(client, f"/console/deliveries/{path}", status=404)
    await page(client, f"/console/deliveries/{order['id']}/reprocess", status=404)


async def test_reprocess_a_quarantined_delivery_once_confirmed(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    delivery_id = await _refused_signature(client, merchant, pool)
    csrf = await sign_in(client, merchant)
    html = await page(client, f"/console/deliveries/{delivery_id}")
    assert 'class="inbox-state">waiting<' in html
    assert f'href="/console/deliveries/{delivery_id}/reprocess"' in html
    # The button leads to a confirmation; only its POST reprocesses.
    html = await page(client, f"/console/deliveries/{delivery_id}/reprocess")
    assert "Reprocess this delivery?" in html
    assert f'action="/console/deliveries/{delivery_id}/reprocess"' in html
    assert await sales_of(client, merchant) == []
    url = f"/console/deliveries/{delivery_id}/reprocess"
    # Still signed with a secret the ledger does not have: it stays in the inbox.
    resp = await client.post(url, data={"csrf": csrf}, allow_redirects=False)
    assert resp.headers["Location"] == f"/console/deliveries/{delivery_id}?done=still"
    assert "still cannot be used" in await page(client, resp.headers["Location"])
    # The merchant sets the store's secret: now it goes into the ledger.
    async with pool.acquire() as conn:
        await secrets.set_secret(
            conn, merchant.name, "woocommerce", "new", timedelta(0), server_keyring()
        )
    resp = await client.post(url, data={"csrf": csrf}, allow_redirects=False)
    assert resp.headers["Location"] == f"/console/deliveries/{delivery_id}?done=recorded"
    html = await page(client, resp.headers["Location"])
    assert "it is in the ledger now" in html and 'class="inbox-state">reprocessed<' in html
    [sale] = await sales_of(client, merchant)
    assert sale["external_id"] == "77"
    assert f'href="/console/sales/{sale["sale_id"]}"' in html
    # Done: no buttons, and a second POST is a 404 page, not a second sale.
    assert f"{delivery_id}/reprocess" not in html
    resp = await client.post(url, data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 404
    assert len(await sales_of(client, merchant)) == 1
    resp = await client.post(url, data={}, allow_redirects=False)
    assert resp.status == 403


async def test_dismiss_a_quarantined_delivery_once_confirmed(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    await client.post(merchant.woo_orders(), data=b"{not json")
    [row] = await _deliveries(client, merchant)
    csrf = await sign_in(client, merchant)
    html = await page(client, f"/console/deliveries/{row['id']}/dismiss")
    assert "Dismiss this delivery?" in html
    await page(client, f"/console/deliveries/{row['id']}/explode", status=404)
    resp = await client.post(
        f"/console/deliveries/{row['id']}/dismiss", data={"csrf": csrf}, allow_redirects=False
    )
    assert resp.headers["Location"] == f"/console/deliveries/{row['id']}?done=dismissed"
    html = await page(client, resp.headers["Location"])
    assert "Dismissed." in html and 'class="outcome">quarantined' in html
    assert (await (await client.get("/api/inbox", headers=merchant.auth)).json())["items"] == []


async def test_a_platform_gone_silent_is_noticed(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    await client.post(merchant.woo_orders(), json=woo_order(1))
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO deliveries (user_id, received_at, platform, endpoint, via, body_sha256,"
            " body_size, outcome, status, duration_ms)"
            " VALUES ($1, now() - interval '30 hours 10 minutes', 'shopify', 'order',"
            " 'webhook', $2, 2, 'recorded', 200, 1)",
            merchant.user_id,
            "0" * 64,
        )
    await sign_in(client, merchant)
    html = await page(client, "/console/deliveries")
    [notice] = re.findall(r'<p class="notice silent"[^>]*>(.*?)</p>', html, re.S)
    assert "Nothing from Shopify for 30 hours." in notice
    other = await create_merchant(pool)  # never received anything: nothing to notice
    await sign_in(client, other)
    assert "notice silent" not in await page(client, "/console/deliveries")


async def test_a_spool_replay_row_shows_no_status_and_outcomes_are_in_spanish(
    client: TestClient, merchant: Merchant
):
    """A delivery queued under overload is logged twice: its answer (202) and its later
    recording from the spool, which answered nothing: shown as "—", not as "None"."""
    intake = client.app[INTAKE]
    intake.settings = replace(intake.settings, max_loop_lag=Settings.max_loop_lag)
    intake.loop_lag.lag = 10.0  # the event loop running late: overload
    resp = await client.post(merchant.woo_orders(), data=as_body(woo_order(880)))
    assert (resp.status, (await resp.json())["status"]) == (202, "queued")
    intake.loop_lag.lag = 0.0

    async def replayed() -> bool:
        return len(await _deliveries(client, merchant)) == 2

    await wait_until(replayed, what="the queued delivery recorded from the spool")
    await sign_in(client, merchant)
    html = await page(client, "/console/deliveries")
    assert "None" not in html
    spool_row = next(r for r in _rows(html) if "recorded" in r)
    assert re.search(r'data-label="Answer">—</td>', spool_row), spool_row
    resp = await client.get("/console/deliveries", headers={"Accept-Language": "es"})
    html = await resp.text()
    assert "registrada" in html and "en cola" in html, html[:2000]
