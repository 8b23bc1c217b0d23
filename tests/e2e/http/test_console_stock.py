"""The console's stock, product and reconcile pages over HTTP: what they show, their
filters, the adjustment form (idempotent on resubmit), reconciliation, and bad input as a
400 or 404 page, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.builders import woo_order, woo_product
from tests.e2e.http.console_client import csrf_of, page, sign_in
from tests.support import Merchant, create_merchant, stock_of

_KEY = re.compile(r'name="key" value="([^"]+)"')


async def _post(client: TestClient, url: str, body: Any, topic: str | None = None) -> Any:
    headers = {"X-WC-Webhook-Topic": topic} if topic else {}
    resp = await client.post(url, json=body, headers=headers)
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def _shop(client: TestClient, merchant: Merchant) -> str:
    """Order 1 (42 at -2, 71 at -1), 42 reported untracked, 71 counted at 5; its sale id."""
    sale = await _post(client, merchant.woo_orders(), woo_order(1))
    await _post(client, merchant.woo_products(), woo_product(42, None, "2026-05-01T10:00:00"))
    await _post(
        client, merchant.woo_products(), woo_product(71, 5, "2026-05-01T10:00:00", name="Mug")
    )
    return str(sale["sale_id"])


async def _csrf(client: TestClient) -> str:
    return csrf_of(await page(client, "/console/sales"))


def _rows(html: str, cls: str) -> list[str]:
    return re.findall(rf'<tr class="{cls}[^"]*">(.*?)</tr>', html, re.S)


async def test_stock_levels_with_tracked_drift_and_search(client: TestClient, merchant: Merchant):
    await _shop(client, merchant)
    await sign_in(client, merchant)
    html = await page(client, "/console/stock")
    rows = _rows(html, "item")
    assert len(rows) == 2
    untracked, counted = rows
    assert "woocommerce:42" in untracked and "untracked" in untracked
    assert '<td data-label="Ledger level" class="level">-2</td>' in untracked
    assert "Mug" in counted and '<span class="bad">+6</span>' in counted  # 5 - (-1)
    assert 'href="/console/stock/woocommerce%3A71"' in counted
    html = await page(client, "/console/stock?q=mUG")
    assert [("Mug" in r) for r in _rows(html, "item")] == [True]
    html = await page(client, "/console/stock?tracked=no")
    assert ["woocommerce:42" in r for r in _rows(html, "item")] == [True]
    html = await page(client, "/console/stock?q=nothing-like-it")
    assert _rows(html, "item") == [] and "No products match." in html


@pytest.mark.parametrize(
    "query",
    ["tracked=maybe", "cursor=%%%", "cursor=WzEsMl0", "q=" + "x" * 400, "q=a%00b"],
)
async def test_bad_stock_parameters_are_a_400_page(client, merchant: Merchant, query: str):
    await sign_in(client, merchant)
    html = await page(client, f"/console/stock?{query}", status=400)
    assert "Something is wrong" in html


async def test_a_products_history_links_its_sale_and_draws_the_level(
    client: TestClient, merchant: Merchant
):
    sale_id = await _shop(client, merchant)
    await sign_in(client, merchant)
    html = await page(client, "/console/stock/woocommerce:42")
    [movement] = _rows(html, "movement")
    assert f'href="/console/sales/{sale_id}"' in movement
    assert 'class="delta">-2<' in movement and 'class="balance">-2<' in movement
    assert '<dd class="level" id="level">-2</dd>' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert '<path class="level"' in svg and "<title" in svg
    assert "style=" not in svg and "<script" not in svg
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script at all
    for bad in ("after=x", "after=-1", "after=" + "9" * 30):
        await page(client, f"/console/stock/woocommerce:42?{bad}", status=400)
    # The same product by its percent-encoded reference.
    assert '<dd class="level" id="level">-2</dd>' in await page(
        client, "/console/stock/woocommerce%3A42"
    )


async def test_another_users_product_and_impossible_references_are_404(
    client: TestClient, merchant: Merchant, pool
):
    await _shop(client, merchant)
    other = await create_merchant(pool)
    await sign_in(client, other)
    for path in (
        "/console/stock/woocommerce:42",
        "/console/stock/woocommerce%3A%FF",
        "/console/stock/" + "x" * 400,
        "/console/stock/a%00b",
    ):
        await page(client, path, status=404)
    resp = await client.post(
        "/console/stock/woocommerce:42/adjustments",
        data={"csrf": await _csrf(client), "key": "k", "by": "5", "reason": "theirs"},
    )
    assert resp.status == 404
    await sign_in(client, merchant)
    assert await stock_of(client, merchant, "woocommerce:42") == -2


async def _adjust(client: TestClient, csrf: str, key: str, by: str, reason: str) -> Any:
    return await client.post(
        "/console/stock/woocommerce%3A71/adjustments",
        data={"csrf": csrf, "key": key, "by": by, "reason": reason},
        allow_redirects=False,
    )


async def test_the_adjustment_form_adjusts_once_however_often_it_is_sent(
    client: TestClient, merchant: Merchant
):
    await _shop(client, merchant)
    csrf = await sign_in(client, merchant)
    html = await page(client, "/console/stock/woocommerce:71")
    [key] = _KEY.findall(html)
    assert '<label for="adj-by">' in html and '<label for="adj-reason">' in html
    resp = await _adjust(client, csrf, key, "4", "found in the back room")
    assert resp.status == 303
    assert resp.headers["Location"].endswith("woocommerce:71?done=adjusted#history")
    html = await page(client, resp.headers["Location"])
    assert '<dd class="level" id="level">3</dd>' in html
    assert "The stock is adjusted." in html
    last = _rows(html, "movement")[-1]
    assert "found in the back room" in last and 'class="balance">3<' in last
    assert f"console:{merchant.name}" in last
    # The same form again (a reload of the POST, a double click): nothing more.
    resp = await _adjust(client, csrf, key, "4", "found in the back room")
    assert resp.headers["Location"].endswith("?done=duplicate#history")
    html = await page(client, resp.headers["Location"])
    assert "it was not made twice" in html
    assert await stock_of(client, merchant, "woocommerce:71") == 3
    # The key of that form for another adjustment: refused, a fresh form shown.
    resp = await _adjust(client, csrf, key, "9", "another")
    assert resp.status == 409
    html = await resp.text()
    assert "already used for another adjustment" in html and key not in html
    assert await stock_of(client, merchant, "woocommerce:71") == 3


@pytest.mark.parametrize(
    ("by", "reason", "says"),
    [
        ("abc", "x", "whole number"),
        ("1.5", "x", "whole number"),
        ("0", "x", "non-zero"),
        ("99999999999", "x", "whole number"),
        ("3", "", "reason"),
        ("3", "r" * 600, "reason"),
    ],
)
async def test_a_bad_adjustment_is_a_400_form_and_adjusts_nothing(
    client: TestClient, merchant: Merchant, by: str, reason: str, says: str
):
    await _shop(client, merchant)
    csrf = await sign_in(client, merchant)
    [key] = _KEY.findall(await page(client, "/console/stock/woocommerce:71"))
    resp = await _adjust(client, csrf, key, by, reason)
    assert resp.status == 400
    html = await resp.text()
    assert "Nothing was adjusted:" in html and says in html
    assert await stock_of(client, merchant, "woocommerce:71") == -1


async def test_an_adjustment_without_csrf_is_refused(client: TestClient, merchant: Merchant):
    await _shop(client, merchant)
    await sign_in(client, merchant)
    resp = await _adjust(client, "wrong", "k", "3", "x")
    assert resp.status == 403
    assert await stock_of(client, merchant, "woocommerce:71") == -1


async def test_the_catalogue_marks_deleted_and_trashed_entries(
    client: TestClient, merchant: Merchant
):
    await _post(client, merchant.woo_products(), woo_product(400, 3, "2026-05-01T10:00:00"))
    await _post(client, merchant.woo_products(), {"id": 400}, "product.deleted")
    await _post(client, merchant.woo_products(), woo_product(401, 3, "2026-05-01T10:00:00"))
    await _post(client, merchant.woo_products(), {"id": 401}, "product.deleted")
    later = (datetime.now(UTC) + timedelta(minutes=10)).replace(tzinfo=None, microsecond=0)
    draft = woo_product(401, 3, later.isoformat(), status="draft")
    await _post(client, merchant.woo_products(), draft)
    await _post(client, merchant.woo_products(), woo_product(402, None, "2026-05-01T10:00:00"))
    await sign_in(client, merchant)
    html = await page(client, "/console/products")
    trashed, deleted, plain = _rows(html, "product")
    assert "P400" in trashed and "in the platform&#39;s trash" in trashed
    assert "deleted on the platform" in trashed
    assert "P401" in deleted and "deleted on the platform" in deleted
    assert "trash" not in deleted and "draft" in deleted
    assert "P402" in plain and "deleted" not in plain and "untracked" in plain
    assert await page(client, "/console/products?cursor=bm9wZQ", status=400)


async def test_reconcile_shows_the_drift_and_applies_it_once_confirmed(
    client: TestClient, merchant: Merchant
):
    await _shop(client, merchant)
    csrf = await sign_in(client, merchant)
    html = await page(client, "/console/reconcile")
    [row] = _rows(html, "discrepancy")
    assert "woocommerce:71" in row and 'class="by">+6<' in row
    # Nothing is applied from this page: it leads to the confirmation.
    assert 'href="/console/reconcile/confirm"' in html
    assert 'action="/console/reconcile"' not in html
    html = await page(client, "/console/reconcile/confirm")
    keys = re.findall(r'name="key" value="([^"]+)"', html)
    assert len(keys) == 1 and "Adjustments to be added: 1," in html
    form = {"csrf": csrf, "key": keys}
    resp = await client.post("/console/reconcile", data=form, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/reconcile?adjusted=1&duplicate=0&refused=0"
    html = await page(client, resp.headers["Location"])
    assert "Applied: 1 adjusted" in html and _rows(html, "discrepancy") == []
    assert await stock_of(client, merchant, "woocommerce:71") == 5
    # Sent again: nothing more.
    resp = await client.post("/console/reconcile", data=form, allow_redirects=False)
    assert resp.headers["Location"] == "/console/reconcile?adjusted=0&duplicate=0&refused=0"
    assert await stock_of(client, merchant, "woocommerce:71") == 5
    # A key nobody confirmed applies nothing; bad counts in the address are a 400 page.
    await client.post("/console/reconcile", data={"csrf": csrf, "key": "reconcile:nope"})
    await page(client, "/console/reconcile?adjusted=-1", status=400)
    resp = await client.post("/console/reconcile", data={"key": keys}, allow_redirects=False)
    assert resp.status == 403


async def test_the_pages_speak_spanish(client: TestClient, merchant: Merchant):
    await _shop(client, merchant)
    await sign_in(client, merchant)
    es = {"Accept-Language": "es-ES,es;q=0.9"}
    for path, heading in (
        ("/console/stock", "Existencias"),
        ("/console/products", "Productos"),
        ("/console/deliveries", "Entregas"),
        ("/console/reconcile", "Conciliar"),
    ):
        resp = await client.get(path, headers=es)
        assert f"<h1>{heading}</h1>" in await resp.text(), path
    resp = await client.get("/console/stock/woocommerce:42", headers=es)
    html = await resp.text()
    assert "Ajustar las existencias" in html and "vendido" in html
