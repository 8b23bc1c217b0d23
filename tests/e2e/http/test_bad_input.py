"""Bad input of every kind gets a clear JSON answer, never a 500, and loses nothing a merchant
would want back."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.accounts import users
from tests.builders import CURL_BODY, woo_order
from tests.support import Merchant, sales_of, start_client, stock_of


async def _stored(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM stored_events"),
            await conn.fetchval("SELECT count(*) FROM inbox"),
            await conn.fetchval("SELECT count(*) FROM raw_deliveries"),
        )


BAD_TOKENS = [
    "whk_" + "A" * 43,  # well-formed, unknown
    "x",
    "not-a-token-with-%25-and-more",
    "a" * 500,
    "whk_..%2F..%2Fetc",
]


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_unknown_or_malformed_token_is_401_and_stores_nothing(
    client: TestClient, pool: asyncpg.Pool, token: str
):
    before = await _stored(pool)
    for path in (f"/api/webhook/woocommerce/{token}", f"/api/webhook/shopify/{token}"):
        resp = await client.post(path, data=CURL_BODY)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"] == "invalid_token"
        assert token not in await resp.text()
    assert await _stored(pool) == before


async def test_rotated_token_stops_at_once_and_looks_like_an_unknown_one(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    async with pool.acquire() as conn:
        new_token = await users.rotate(conn, merchant.name, "token")
    before = await _stored(pool)
    old = await client.post(merchant.woo_orders(), data=CURL_BODY)
    unknown = await client.post("/api/webhook/woocommerce/whk_" + "B" * 43, data=CURL_BODY)
    assert old.status == unknown.status == 401
    assert await old.json() == await unknown.json()
    assert await _stored(pool) == before
    resp = await client.post(f"/api/webhook/woocommerce/{new_token}", data=CURL_BODY)
    assert (await resp.json())["status"] == "recorded"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_wrong_method_is_405(client: TestClient, merchant: Merchant, method: str):
    resp = await client.request(method, merchant.woo_orders())
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"


async def test_unknown_path_is_404_json(client: TestClient):
    resp = await client.post("/api/webhook/magento/whatever")
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


async def test_body_over_the_limit_is_413_and_stores_nothing(
    settings, merchant: Merchant, pool: asyncpg.Pool
):
    from dataclasses import replace

    client = await start_client(replace(settings, max_body_bytes=2048))
    try:
        before = await _stored(pool)
        big = woo_order(31337, customer_note="x" * 4096)
        resp = await client.post(merchant.woo_orders(), json=big)
        assert resp.status == 413
        assert (await resp.json())["error"] == "payload_too_large"
        assert await _stored(pool) == before
        small = await client.post(merchant.woo_orders(), json=woo_order(31338))
        assert small.status == 200
    finally:
        await client.close()


async def test_woocommerce_ping_is_exactly_200_ping_and_visible(
    client: TestClient, merchant: Merchant
):
    for path in (merchant.woo_orders(), merchant.woo_products()):
        resp = await client.post(
            path,
            data="webhook_id=17",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert resp.status == 200
        assert await resp.json() == {"status": "ping"}
    resp = await client.get("/api/inbox", headers=merchant.auth)
    items = (await resp.json())["items"]
    assert [(i["kind"], i["endpoint"]) for i in items] == [("ping", "ping"), ("ping", "ping")]


UNUSABLE = [
    (b"this is not json", "invalid_json", None),
    (b"[1, 2, 3]", "not_an_order", None),
    (b'{"hello": "world"}', "not_an_order", None),
    (
        b'{"id": 1, "status": "processing", "line_items": [{"product_id": 5, "quantity": "abc"}]}',
        "invalid_field",
        "line_items[0].quantity",
    ),
    (b'{"status": "processing", "line_items": []}', "missing_field", "id"),
    (b'{"id": 2, "status": "processing", "total": 12.5e999}', "invalid_field", "total"),
    (b"\xff\xfe\x00garbage", "invalid_json", None),
]


@pytest.mark.parametrize(("body", "reason", "field"), UNUSABLE)
async def test_unusable_body_is_quarantined_verbatim(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, body: bytes, reason, field
):
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"X-WC-Webhook-Topic": "order.created"}
    )
    assert resp.status == 202
    answer = await resp.json()
    assert answer["status"] == "quarantined"
    assert (answer["reason"], answer["field"]) == (reason, field)
    assert answer["detail"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT body, headers, reason, field, state FROM inbox WHERE inbox_id = $1",
            answer["inbox_id"],
        )
    assert bytes(row["body"]) == body
    assert '"x-wc-webhook-topic": "order.created"' in row["headers"]
    assert (row["reason"], row["field"], row["state"]) == (reason, field, "open")
    listed = await (await client.get("/api/inbox", headers=merchant.auth)).json()
    assert listed["items"][0]["inbox_id"] == answer["inbox_id"]


async def test_shopify_body_that_is_not_an_order_is_quarantined(
    client: TestClient, merchant: Merchant
):
    resp = await client.post(merchant.shopify_orders(), data=b'{"inventory_item_id": 1}')
    assert resp.status == 202
    assert (await resp.json())["reason"] == "not_an_order"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
async def test_query_api_needs_the_users_api_key(client: TestClient, headers):
    for path in ("/api/sales", "/api/stock", "/api/products", "/api/inbox"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"


async def test_webhook_token_is_not_an_api_key(client: TestClient, merchant: Merchant):
    resp = await client.get("/api/sales", headers={"Authorization": f"Bearer {merchant.token}"})
    assert resp.status == 401


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=WzFd",
        "from=yesterday",
        "to=2026-01-01T00:00:00",
        "platform=magento",
    ],
)
async def test_bad_query_parameters_are_400(client: TestClient, merchant: Merchant, query):
    resp = await client.get(f"/api/sales?{query}", headers=merchant.auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_parameter"


async def test_unknown_ids_are_404(client: TestClient, merchant: Merchant):
    for path in (
        "/api/sales/not-a-uuid",
        "/api/sales/00000000-0000-0000-0000-000000000000",
        "/api/stock/woocommerce:404",
        "/api/lookup/woocommerce/orders/404",
    ):
        resp = await client.get(path, headers=merchant.auth)
        assert resp.status == 404, path
        assert (await resp.json())["error"] == "not_found"


async def test_sales_pages_and_filters(client: TestClient, merchant: Merchant):
    ids = []
    for n in range(5):
        answer = await (await client.post(merchant.woo_orders(), json=woo_order(600 + n))).json()
        ids.append(answer["sale_id"])
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(f"/api/sales?{query}", headers=merchant.auth)).json()
        seen += [s["sale_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    shopify = await client.get("/api/sales?platform=shopify", headers=merchant.auth)
    assert (await shopify.json())["items"] == []
    future = await client.get("/api/sales?from=2999-01-01T00:00:00Z", headers=merchant.auth)
    assert (await future.json())["items"] == []
    past = await client.get("/api/sales?to=2000-01-01T00:00:00%2B00:00", headers=merchant.auth)
    assert (await past.json())["items"] == []


async def test_healthz(client: TestClient):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_text_postgresql_cannot_store_is_made_storable(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = (
        b'{"id": 4242, "status": "processing", "billing": {"first_name": "A\\u0000na"},'
        b' "line_items": [{"product_id": 9, "name": "Tee \\ud800 shirt", "quantity": 1,'
        b' "total": "3.00"}], "total": "3.00"}'
    )
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"X-WC-Webhook-Source": "https://t\xe9.example/"}
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "recorded"
    resp = await client.get("/api/lookup/woocommerce/orders/4242", headers=merchant.auth)
    sale = await (
        await client.get(f"/api/sales/{(await resp.json())['sale_id']}", headers=merchant.auth)
    ).json()
    assert sale["customer"]["name"] == "A\ufffdna"
    assert sale["lines"][0]["name"] == "Tee ? shirt"
    # The raw body keeps exactly what was sent.
    import hashlib

    async with pool.acquire() as conn:
        raw = await conn.fetchval(
            "SELECT body FROM raw_deliveries WHERE sha256 = $1", hashlib.sha256(body).hexdigest()
        )
    assert bytes(raw) == body


@pytest.mark.parametrize(
    "path",
    [
        "/api/sales?limit=%C2%B2",
        "/api/sales?limit=%D9%A3",
        "/api/sales?cursor=WyIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIixbMV1d",
        "/api/sales?cursor=WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzA1OjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0=",
        "/api/stock?cursor=Ilx1MDAwMCI=",
        "/api/products?cursor=Ilx1MDAwMCI=",
        "/api/inbox?cursor=IngiCg==",
        "/api/sales?from=0001-01-01T00:00%2B01:00",
        "/api/sales?to=9999-12-31T23:59-01:00",
    ],
)
async def test_odd_query_parameters_are_400_not_500(client: TestClient, merchant: Merchant, path):
    resp = await client.get(path, headers=merchant.auth)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_parameter"


@pytest.mark.parametrize(
    "path",
    [
        "/api/stock/woocommerce%3A42%00",
        "/api/lookup/woocommerce/orders/99%00",
        "/api/lookup/woocommerce/orders/" + "9" * 400,
        "/api/stock/" + "x" * 400,
    ],
)
async def test_odd_path_keys_are_404_not_500(client: TestClient, merchant: Merchant, path):
    resp = await client.get(path, headers=merchant.auth)
    assert resp.status == 404, await resp.text()


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
async def test_compressed_bodies_are_kept_exactly_and_quarantined(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, encoding: str
):
    import gzip

    body = gzip.compress(CURL_BODY.encode()) if encoding == "gzip" else b"garbage"
    resp = await client.post(
        merchant.woo_orders(), data=body, headers={"Content-Encoding": encoding}
    )
    assert resp.status == 202
    answer = await resp.json()
    assert answer["reason"] == "unsupported_encoding"
    async with pool.acquire() as conn:
        kept = await conn.fetchval("SELECT body FROM inbox WHERE inbox_id = $1", answer["inbox_id"])
    assert bytes(kept) == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"id": 7, "status": "processing", "line_items": []}', "total"),
        (
            b'{"id": 7, "status": "processing", "total": "1.00",'
            b' "line_items": [{"product_id": 1, "quantity": 1}]}',
            "line_items[0].total",
        ),
        (b'{"id": "' + b"7" * 65 + b'", "status": "processing", "total": "1"}', "id"),
        (
            b'{"id": 7, "status": "processing", "total": "1",'
            b' "date_modified_gmt": "0001-01-01T00:00:00+01:00"}',
            "date_modified_gmt",
        ),
        (b'{"id": 7, "status": "processing", "total": "0.' + b"1" * 17000 + b'"}', "total"),
    ],
)
async def test_values_no_ledger_can_keep_are_quarantined_by_name(
    client: TestClient, merchant: Merchant, body: bytes, field: str
):
    resp = await client.post(merchant.woo_orders(), data=body)
    assert resp.status == 202
    answer = await resp.json()
    assert (answer["status"], answer["field"]) == ("quarantined", field)
    assert await sales_of(client, merchant) == []


async def test_an_unknown_status_changes_only_the_platform_status(
    client: TestClient, merchant: Merchant
):
    await client.post(merchant.woo_orders(), json=woo_order(901))
    resp = await client.post(merchant.woo_orders(), json=woo_order(901, status="shipped"))
    assert (await resp.json())["status"] == "updated"
    [sale] = await sales_of(client, merchant)
    assert (sale["status"], sale["platform_status"]) == ("sale", "shipped")
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    first = await client.post(merchant.woo_orders(), json=woo_order(902, status="shipped"))
    assert (await first.json())["status"] == "received"


async def test_a_failed_payment_after_a_deduction_gives_the_stock_back(
    client: TestClient, merchant: Merchant
):
    held = woo_order(903, status="on-hold", date_modified_gmt="2026-05-01T10:00:00")
    await client.post(merchant.woo_orders(), json=held)
    assert await stock_of(client, merchant, "woocommerce:42") == -2
    failed = woo_order(903, status="failed", date_modified_gmt="2026-05-01T10:05:00")
    await client.post(merchant.woo_orders(), json=failed)
    assert await stock_of(client, merchant, "woocommerce:42") == 0
    [sale] = await sales_of(client, merchant)
    assert (sale["status"], sale["platform_status"]) == ("pending", "failed")
