"""Hostile and odd input, as an attacker and a careless integration send it: never a 500,
never a lost delivery, never one merchant's noise costing another's data."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from dataclasses import replace
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.accounts import secrets
from service.settings import Settings
from tests.builders import woo_order
from tests.support import Merchant, ledger, server_keyring, start_client, wait_until

SECRET = "s3cret-for-hostile-tests"
SOURCE = "https://shop.example/"


def _deep(depth: int) -> bytes:
    return b'{"id": 5, "x": ' + b"[" * depth + b"]" * depth + b"}"


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-WC-Webhook-Signature": base64.b64encode(digest).decode()}


async def _inbox(client: TestClient, merchant: Merchant) -> list[dict[str, Any]]:
    resp = await client.get("/api/inbox?limit=100", headers=merchant.auth)
    return list((await resp.json())["items"])


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text]


@pytest.mark.parametrize("depth", [490, 975, 100_000])
async def test_any_nesting_is_quarantined_and_kept(
    client: TestClient, merchant: Merchant, caplog: pytest.LogCaptureFixture, depth: int
):
    resp = await client.post(merchant.woo_orders(), data=_deep(depth))
    assert resp.status == 202
    answer = await resp.json()
    assert (answer["status"], answer["reason"]) == ("quarantined", "invalid_json")
    [kept] = await _inbox(client, merchant)
    assert (kept["inbox_id"], kept["size"]) == (answer["inbox_id"], len(_deep(depth)))
    assert _tracebacks(caplog) == []


async def test_a_poisoned_inbox_entry_is_reported_and_the_next_ones_go_on(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, database_url: str
):
    """An entry that cannot be reprocessed (here: kept by an earlier version, which let such
    a body through) is reported, and the entries after it are reprocessed all the same."""
    async with pool.acquire() as conn:
        for body in (_deep(900), json.dumps(woo_order(81)).encode()):
            await conn.execute(
                "INSERT INTO inbox (user_id, platform, endpoint, kind, reason, detail, headers,"
                " body, body_sha256, received_at) VALUES ($1, 'woocommerce', 'order',"
                " 'quarantined', 'invalid_json', 'kept before', '{}', $2, $3, now())",
                merchant.user_id,
                body,
                hashlib.sha256(body).hexdigest(),
            )
    code, out, err = await ledger(database_url, "inbox", "reprocess", "--user", merchant.name)
    assert code == 1, err
    assert "still quarantined" in out and ": recorded" in out
    assert "Traceback" not in err


async def test_unsigned_floods_never_take_the_room_of_real_deliveries(
    settings: Settings, merchant: Merchant, pool: asyncpg.Pool
):
    async with pool.acquire() as conn:
        await secrets.set_secret(
            conn, merchant.name, "woocommerce", SECRET, settings.secret_grace, server_keyring()
        )
    client = await start_client(replace(settings, inbox_max_per_user=3, inbox_signature_failures=2))
    try:
        for n in range(10):  # junk posted with the token alone
            resp = await client.post(merchant.woo_orders(), json=woo_order(900 + n))
            assert resp.status == 401
            assert (await resp.json())["inbox_id"] is not None
        # A real delivery from the store, signed but unusable: kept, as its answer says.
        body = b'{"id": 77, "status": "processing"}'
        resp = await client.post(merchant.woo_orders(), data=body, headers=_signed(body))
        answer = await resp.json()
        assert (resp.status, answer["status"]) == (202, "quarantined")
        assert answer["inbox_id"] is not None
        kept = await _inbox(client, merchant)
        failures = [e for e in kept if e["reason"] == "invalid_signature"]
        assert len(failures) == 2  # the newest two: the oldest went first
        assert {e["inbox_id"] for e in kept} >= {answer["inbox_id"]}
        # When the inbox is full, the answer says the body was not kept.
        for n in range(3):
            junk = f'{{"id": {n + 1}}}'.encode()
            resp = await client.post(merchant.woo_orders(), data=junk, headers=_signed(junk))
        answer = await resp.json()
        assert (resp.status, answer["status"], answer["inbox_id"]) == (202, "not_kept", None)
        assert "LEDGER_INBOX_MAX_PER_USER" in answer["not_kept"]
    finally:
        await client.close()


async def test_a_quarantined_delivery_binds_no_store(client: TestClient, merchant: Merchant):
    evil = {"X-WC-Webhook-Source": "https://evil.example/"}
    resp = await client.post(merchant.woo_orders(), data=b"{}", headers=evil)
    assert (await resp.json())["status"] == "quarantined"
    real = {"X-WC-Webhook-Source": SOURCE}
    resp = await client.post(merchant.woo_orders(), json=woo_order(82), headers=real)
    assert (await resp.json())["status"] == "recorded"
    # The store that reached the ledger is the one bound now.
    resp = await client.post(merchant.woo_orders(), json=woo_order(83), headers=evil)
    assert (await resp.json())["reason"] == "unexpected_source"


async def test_a_body_that_never_finishes_is_answered_408(
    settings: Settings, merchant: Merchant, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    client = await start_client(replace(settings, body_read_timeout=1))
    try:
        assert client.server.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        head = (
            f"POST {merchant.woo_orders()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            "\r\nContent-Length: 1000\r\n\r\n{"
        )
        writer.write(head.encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # read() ends: the server closed
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"request_timeout"' in answer
        # A client that gives up mid-body: logged at INFO, no traceback, no 500.
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        writer.write(head.encode())
        await writer.drain()
        writer.close()

        def logged_gone() -> bool:
            return any(
                "went away before sending the whole body" in r.getMessage() for r in caplog.records
            )

        await wait_until(logged_gone, 10, "the early close logged")
    finally:
        await client.close()
    assert _tracebacks(caplog) == []
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert not [line for line in access if '" 500 ' in line], access
    assert any("went away before sending the whole body" in r.getMessage() for r in caplog.records)


async def test_orders_of_too_many_lines_are_quarantined(settings: Settings, merchant: Merchant):
    client = await start_client(replace(settings, max_lines=50))
    try:
        order = woo_order(84)
        order["line_items"] = [
            {"id": n, "product_id": 42, "quantity": 1, "total": "1.00"} for n in range(51)
        ]
        resp = await client.post(merchant.woo_orders(), json=order)
        answer = await resp.json()
        assert (resp.status, answer["reason"], answer["field"]) == (202, "too_many_lines", None)
        assert "LEDGER_MAX_LINES" in answer["detail"]
        assert len(await _inbox(client, merchant)) == 1
        # Refunds count too: each becomes an event.
        order = {**woo_order(85), "refunds": [{"id": n, "total": "-0.01"} for n in range(60)]}
        resp = await client.post(merchant.woo_orders(), json=order)
        assert (await resp.json())["reason"] == "too_many_lines"
    finally:
        await client.close()


async def test_a_bare_id_without_a_topic_deletes_nothing(client: TestClient, merchant: Merchant):
    await client.post(merchant.woo_orders(), json=woo_order(85))
    resp = await client.post(merchant.woo_orders(), data=b'{"id": 85}')
    assert (await resp.json())["reason"] == "not_an_order"
    [sale] = (await (await client.get("/api/sales", headers=merchant.auth)).json())["items"]
    assert sale["deleted_on_platform"] is False


async def test_ids_that_differ_stay_different_orders(client: TestClient, merchant: Merchant):
    for external_id in ("86\\u0000", "86\\ufffd"):
        body = f'{{"id": "{external_id}", "status": "processing", "total": "1.00"}}'.encode()
        await client.post(merchant.woo_orders(), data=body)
    sales = (await (await client.get("/api/sales", headers=merchant.auth)).json())["items"]
    assert [s["external_id"] for s in sales] == ["86\ufffd"]  # the NUL one is quarantined
    [kept] = await _inbox(client, merchant)
    assert (kept["reason"], kept["field"]) == ("invalid_field", "id")


@pytest.mark.parametrize(
    "path",
    [
        "/api/sales?limit=" + "9" * 5000,
        "/api/events?after=" + "9" * 5000,
        "/api/events?after=9223372036854775808",
        "/api/stock/woocommerce:42/history?after=" + "1" * 40,
        "/api/inbox?cursor=" + base64.urlsafe_b64encode(b"9223372036854775808").decode(),
        "/api/inbox?cursor=" + base64.urlsafe_b64encode(b"-1").decode(),
    ],
)
async def test_oversized_integers_are_400(client: TestClient, merchant: Merchant, path: str):
    resp = await client.get(path, headers=merchant.auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_parameter"


async def test_error_details_show_json_values_and_stay_short(
    client: TestClient, merchant: Merchant
):
    resp = await client.post(
        merchant.woo_orders(), data=b'{"id": 87, "status": "processing", "total": 1E+400}'
    )
    detail = (await resp.json())["detail"]
    assert "1E+400" in detail and "Decimal(" not in detail
    status = "x" * 10_000
    await client.post(merchant.woo_orders(), json={**woo_order(88, "pending"), "status": status})
    resp = await client.get("/api/lookup/woocommerce/orders/88", headers=merchant.auth)
    assert resp.status == 404
    assert len((await resp.json())["detail"]) <= 200


@pytest.mark.slow
async def test_every_quarantine_case_is_kept_answered_2xx_and_leaves_the_ledger_verifiable(
    client: TestClient,
    merchant: Merchant,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
):
    woo, product, shop = merchant.woo_orders(), merchant.woo_products(), merchant.shopify_orders()
    topic = "X-WC-Webhook-Topic"
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        (woo, _deep(600), {}),
        (woo, b"{bad json", {}),
        (woo, b'{"id": 90}', {}),
        (woo, b'{"id": 90}', {topic: "order.created"}),
        (woo, b'{"id": 91, "status": "processing", "total": "-1.00"}', {}),
        (woo, '{"id": 92, "status": "processing", "total": "\uff13"}'.encode(), {}),
        (woo, b'{"id": "93\\u0000", "status": "processing", "total": "1"}', {}),
        (woo, b'{"id": 94, "status": "processing"}', {}),
        (woo, orjson.dumps(woo_order(95)), {topic: "coupon.created"}),
        (woo, orjson.dumps(woo_order(96)), {"Content-Encoding": "gzip"}),
        (product, b'{"id": 97}', {}),
        (product, orjson.dumps(woo_order(98)), {}),
        (shop, b'{"id": 99}', {}),
        (shop, b"[]", {"X-Shopify-Topic": "orders/create"}),
        (shop, b'{"id": 1, "order_id": 2, "refund_line_items": [{}]}', {}),
        (woo, orjson.dumps({**woo_order(100), "refunds": [{"id": 1, "total": "-1"}] * 5000}), {}),
        (woo, orjson.dumps(woo_order(101)), {"X-WC-Webhook-Source": "https://other.example/"}),
    ]
    # The store this connection serves, bound by a delivery that reached the ledger.
    bound = {"X-WC-Webhook-Source": SOURCE}
    assert (await client.post(woo, json=woo_order(102), headers=bound)).status == 200
    quarantined = []
    for path, body, headers in cases:
        resp = await client.post(path, data=body, headers=headers)
        assert resp.status == 202, (body[:60], resp.status, await resp.text())
        answer = await resp.json()
        assert answer["status"] == "quarantined", answer
        quarantined.append(answer["inbox_id"])
    kept = {e["inbox_id"] for e in await _inbox(client, merchant)}
    assert set(quarantined) <= kept
    assert _tracebacks(caplog) == []
    code, out, err = await ledger(database_url, "projections", "verify", "--all")
    assert code == 0, (out, err)
