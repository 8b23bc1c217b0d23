"""Helpers the database and HTTP tests share."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp.test_utils import TestClient

from service.accounts import users
from service.projecting.rebuild import prepare_database
from service.store.db import drop_database, ensure_database

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[str]:
    """A fresh database at ``url`` with every migration applied, dropped afterwards."""
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        await prepare_database(conn)
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await drop_database(url)


CURL_BODY = """{
    "id": 9999,
    "status": "processing",
    "billing": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
    "line_items": [{"product_id": 42, "name": "Sample Product", "quantity": 1, "total": "19.99"}],
    "total": "19.99",
    "payment_method": "stripe"
  }"""


@dataclass(frozen=True)
class Merchant:
    user_id: UUID
    name: str
    token: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def woo_orders(self) -> str:
        return f"/api/webhook/woocommerce/{self.token}"

    def woo_products(self) -> str:
        return f"/api/webhook/woocommerce/{self.token}/producto"

    def shopify_orders(self) -> str:
        return f"/api/webhook/shopify/{self.token}"


async def create_merchant(pool: asyncpg.Pool, prefix: str = "shop") -> Merchant:
    async with pool.acquire() as conn:
        new = await users.create_user(conn, f"{prefix}-{secrets.token_hex(6)}")
    return Merchant(new.user_id, new.name, new.webhook_token, new.api_key)


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


def shopify_body(name: str) -> tuple[bytes, dict[str, Any]]:
    """A Shopify REST example unwrapped to the webhook body it stands for."""
    doc = json.loads(fixture_bytes("shopify", name), parse_float=Decimal)
    inner = doc.get("order", doc.get("refund", doc)) if isinstance(doc, dict) else doc
    body = json.dumps(inner, default=str).encode()
    return body, json.loads(body, parse_float=Decimal)


def woo_order(order_id: int, status: str = "processing", **extra: Any) -> dict[str, Any]:
    """A small, consistent WooCommerce order body."""
    body: dict[str, Any] = {
        "id": order_id,
        "status": status,
        "currency": "EUR",
        "billing": {"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.com"},
        "line_items": [
            {"id": 1, "product_id": 42, "variation_id": 0, "quantity": 2, "total": "10.00"},
            {"id": 2, "product_id": 7, "variation_id": 71, "quantity": 1, "total": "5.50"},
        ],
        "total": "15.50",
        "payment_method": "bacs",
    }
    body.update(extra)
    return body


async def stock_of(client: TestClient, merchant: Merchant, ref: str) -> int | None:
    resp = await client.get(f"/api/stock/{ref}", headers=merchant.auth)
    if resp.status == 404:
        return None
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["quantity"])


async def sales_of(client: TestClient, merchant: Merchant) -> list[dict[str, Any]]:
    resp = await client.get("/api/sales?limit=100", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def count_events(pool: asyncpg.Pool, originator_id: UUID, topic_suffix: str) -> int:
    async with pool.acquire() as conn:
        value = await conn.fetchval(
            "SELECT count(*) FROM stored_events WHERE originator_id = $1 AND topic LIKE $2",
            originator_id,
            f"%{topic_suffix}",
        )
    return int(value)


LIVE_DAY = FIXTURES / "woocommerce-live"
LIVE_SECRET = "live-s3cr3t-2024"  # the store's webhook secret, as its README gives it
# Hop-by-hop headers the test client sets itself.
_NOT_RESENT = {"host", "content-length", "connection"}


@dataclass(frozen=True)
class LiveDelivery:
    """One delivery of the real store's day: its number, topic, endpoint, headers, body."""

    number: int
    topic: str
    endpoint: str
    headers: dict[str, str]
    body: bytes

    def path(self, merchant: Merchant) -> str:
        return merchant.woo_orders() if self.endpoint == "order" else merchant.woo_products()


def live_day() -> list[LiveDelivery]:
    """The 61 deliveries of ``woocommerce-live/``, in the order the store sent them."""
    day = []
    for meta_path in sorted(LIVE_DAY.glob("[0-9][0-9][0-9]-*.json")):
        meta = json.loads(meta_path.read_text())
        number, _, topic = meta_path.stem.partition("-")
        headers = {k: v for k, v in meta["headers"] if k.lower() not in _NOT_RESENT}
        body = meta_path.with_suffix(".body").read_bytes()
        day.append(LiveDelivery(int(number), topic, meta["endpoint"], headers, body))
    return day


def live_store_at_end() -> dict[str, Any]:
    """The store's own state after the day, read from the store."""
    return dict(json.loads((LIVE_DAY / "store-at-end.json").read_text()))
