"""The sale pages over HTTP: filters, search, pagination, totals per currency, and a sale's
refunds, status history and deletion marks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.builders import shopify_body, woo_order
from tests.e2e.http.console_client import page, sign_in
from tests.support import Merchant, create_merchant

ORDER_450789469 = "shopify-order-shopify-rest-example-450789469.json"
TOPIC = "X-WC-Webhook-Topic"


async def _post(client: TestClient, path: str, body: Any, **headers: str) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(path, data=data, headers=headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def _orders(html: str) -> list[str]:
    return re.findall(r'<a class="order" href="/console/sales/[^"]+">\w+ #([^<]+)</a>', html)


def _totals(html: str) -> dict[str, list[str]]:
    """Per currency: orders, gross, refunded, net, cancelled (exact values)."""
    table = html.split('class="cards totals"')[1].split("</table>")[0]
    rows: dict[str, list[str]] = {}
    for row in table.split("<tr>")[2:]:
        cells = re.findall(r'<td data-label="[^"]+">(.*?)</td>', row, re.S)
        values = [re.sub(r".*data-value=\"([^\"]+)\".*", r"\1", c, flags=re.S) for c in cells]
        rows[values[0]] = values[1:]
    return rows


async def test_filters_search_and_totals_per_currency(client: TestClient, merchant: Merchant):
    for n in (1, 2, 3):
        email = "bob@example.org" if n == 2 else "ana@example.com"
        first = {"first_name": "Ana", "last_name": "Ruiz", "email": email}
        await _post(client, merchant.woo_orders(), woo_order(n, billing=first))
    await _post(client, merchant.woo_orders(), woo_order(4, "cancelled"))
    refunded = woo_order(5, "completed", currency="USD", total="20.00")
    refunded["refunds"] = [{"id": 71, "total": "-2.50"}]
    await _post(client, merchant.woo_orders(), refunded)
    await _post(client, merchant.shopify_orders(), shopify_body(ORDER_450789469)[0])
    await sign_in(client, merchant)

    html = await page(client, "/console/sales")
    assert sorted(_orders(html)) == ["1", "2", "3", "4", "450789469", "5"]
    woo = _totals(await page(client, "/console/sales?platform=woocommerce"))
    assert woo["EUR"] == ["3", "46.50", "0", "46.50", "1"]
    assert woo["USD"] == ["1", "20.00", "2.50", "17.50", "0"]
    assert _orders(await page(client, "/console/sales?platform=shopify")) == ["450789469"]
    assert _orders(await page(client, "/console/sales?status=cancelled")) == ["4"]
    assert _orders(await page(client, "/console/sales?q=2")) == ["2"]
    assert _orders(await page(client, "/console/sales?q=bob%40")) == ["2"]
    found = await page(client, "/console/sales?q=ANA%40example&platform=woocommerce")
    assert sorted(_orders(found)) == ["1", "3", "4", "5"]
    today = datetime.now(UTC).date()
    one_day = timedelta(days=1)
    assert _orders(await page(client, f"/console/sales?from={today + one_day}")) == []
    assert _orders(await page(client, f"/console/sales?to={today - one_day}")) == []
    assert len(_orders(await page(client, f"/console/sales?from={today}&to={today}"))) == 6


async def test_bad_filters_answer_400_pages(client: TestClient, merchant: Merchant):
    await sign_in(client, merchant)
    for query, says in (
        ("platform=ebay", "platform must be one of"),
        ("status=lost", "status must be one of"),
        ("from=yesterday", "from must be a date"),
        ("from=2026-02-02&to=2026-02-01", "ends before it starts"),
        ("cursor=%%%", "cursor is not one"),
        ("cursor=WzEsMl0=", "cursor is not one"),
        ("q=" + "x" * 301, "too long"),
    ):
        html = await page(client, f"/console/sales?{query}", status=400)
        assert says in html and "<h1>" in html, query


async def test_pages_go_newest_first_without_overlap(client: TestClient, merchant: Merchant):
    for n in range(1, 31):
        await _post(client, merchant.woo_orders(), woo_order(n))
    await sign_in(client, merchant)
    first = await page(client, "/console/sales?platform=woocommerce")
    assert _orders(first) == [str(n) for n in range(30, 5, -1)]
    [link] = re.findall(r'<a href="([^"]+)" rel="next">', first)
    second = await page(client, link.replace("&amp;", "&"))
    assert _orders(second) == ["5", "4", "3", "2", "1"]
    assert 'rel="next"' not in second and "Newest sales" in second
    assert "platform=woocommerce" in link  # the filters are kept from page to page


async def test_a_sale_shows_refunds_status_history_and_deletion(
    client: TestClient, merchant: Merchant
):
    body = woo_order(8, "processing", date_modified_gmt="2026-05-01T10:00:00")
    answer = await _post(client, merchant.woo_orders(), body)
    refunded = woo_order(8, "completed", date_modified_gmt="2026-05-01T10:05:00")
    refunded["refunds"] = [{"id": 91, "total": "-3.25"}]
    await _post(client, merchant.woo_orders(), refunded)
    await _post(client, merchant.woo_orders(), {"id": 8}, **{TOPIC: "order.deleted"})
    await sign_in(client, merchant)
    html = await page(client, f"/console/sales/{answer['sale_id']}")
    assert "Ana Ruiz" in html and html.count('<tr class="line">') == 2
    assert 'data-value="15.50"' in html and 'data-value="3.25"' in html
    assert '<td data-label="Refund">91</td>' in html
    history = html.split('class="cards history"')[1].split("</table>")[0]
    assert history.count("<tr><td") == 3  # recorded, completed, then trashed (deleted)
    assert "completed" in history and "trash" in history
    deletions = html.split('id="deletions-h"')[1].split("</section>")[0]
    assert "DeletedOnPlatform" in deletions
    assert "deleted on the platform" in html
    assert 'data-verified="true"' in html
    events = re.findall(r"<summary><strong>(\w+)</strong>", html)
    assert events[:2] == ["Opened", "OrderReceived"] and events.count("OrderReceived") == 3
    assert "RefundRecorded" in events and "DeletedOnPlatform" in events


async def test_a_sale_of_another_user_or_no_sale_is_a_404_page(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    answer = await _post(client, merchant.woo_orders(), woo_order(9))
    other = await create_merchant(pool, "other")
    await sign_in(client, other)
    html = await page(client, f"/console/sales/{answer['sale_id']}", status=404)
    assert "no such sale" in html
    await page(client, "/console/sales/not-a-uuid", status=404)


async def test_a_sale_that_was_noted_before_it_was_one(client: TestClient, merchant: Merchant):
    failed = woo_order(11, "failed", date_modified_gmt="2026-05-01T10:00:00")
    await _post(client, merchant.woo_orders(), failed)
    paid = woo_order(11, "processing", date_modified_gmt="2026-05-01T10:05:00")
    answer = await _post(client, merchant.woo_orders(), paid)
    await sign_in(client, merchant)
    html = await page(client, f"/console/sales/{answer['sale_id']}")
    history = html.split('class="cards history"')[1].split("</table>")[0]
    assert "StatusNoted" in history and "failed" in history, history
    assert "SaleRecorded" in history
