"""What the tests build: deliveries, platform bodies, and the mixed workload.

Every test that needs a delivery, a WooCommerce order or product, a Shopify product or the
real store's day builds it here, so that a change of shape is made once. The fixtures are
third-party data and stay in ../shared/fixtures (read in place, never copied); the root
conftest stops the run with one line when they are missing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aggregates.values import Delivery
from service.intake.delivery import SpooledDelivery

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient

    from tests.support import Merchant

# ../shared/fixtures beside the project (LEDGER_FIXTURES names another place): read in
# place, never copied into the repository.
FIXTURES = Path(
    os.environ.get("LEDGER_FIXTURES")
    or Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
)


# WooCommerce's own signed delivery, with the secret and signature its source notes record.
SIGNED = FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json"


def signed_vector() -> tuple[bytes, str, str]:
    """The fixture's exact bytes, and the secret and signature its source notes record."""
    notes = SIGNED.with_name(SIGNED.name.removesuffix(".json") + ".source.txt").read_text(
        encoding="utf-8"
    )
    secret = re.search(r"Webhook secret used in the same test[^:]*:\s*(\S+)", notes)
    sig = re.search(r"X-Wc-Webhook-Signature:\s*(\S+)", notes)
    assert secret and sig, "the source notes no longer record the test vector"
    return SIGNED.read_bytes(), secret.group(1), sig.group(1)


def sign(body: bytes, secret: str) -> str:
    """The base64 HMAC-SHA256 a platform sends, computed here independently of the code."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# When a built delivery arrived, unless a test says otherwise.
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def delivery(sha256: str = "ab", at: datetime = T0, **fields: Any) -> Delivery:
    """A delivery as a receipt records it: no platform headers, unverified, arrived ``at``,
    unless ``fields`` (any of Delivery's) say otherwise."""
    base: dict[str, Any] = {
        "topic": None,
        "delivery_id": None,
        "webhook_id": None,
        "event_id": None,
        "source": None,
        "headers": {},
        "received_at": at,
        "verification": "unverified",
        "body_sha256": sha256,
    }
    return Delivery(**{**base, **fields})


def spooled(
    user_id: UUID,
    doc: Any,
    *,
    platform: str = "woocommerce",
    kind: str = "order",
    headers: dict[str, str] | None = None,
) -> SpooledDelivery:
    """A delivery as the intake takes it: ``doc`` as its JSON body (bytes as they are)."""
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return SpooledDelivery(user_id, platform, kind, headers or {}, body, datetime.now(UTC))


def as_body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


CURL_BODY = """{
    "id": 9999,
    "status": "processing",
    "billing": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
    "line_items": [{"product_id": 42, "name": "Sample Product", "quantity": 1, "total": "19.99"}],
    "total": "19.99",
    "payment_method": "stripe"
  }"""


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


def woo_product(
    pid: int, stock: int | None = None, modified: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A WooCommerce product body: ``stock`` None is a product whose stock is not managed;
    ``modified`` None is one without a time (``date_modified_gmt``)."""
    body: dict[str, Any] = {"id": pid, "name": f"P{pid}", "type": "simple"}
    body.update(manage_stock=stock is not None, stock_quantity=stock)
    if modified is not None:
        body["date_modified_gmt"] = modified
    return {**body, **extra}


_SHOPIFY_PRODUCT = {
    "id": 632910392,
    "title": "IPod Nano - 8GB",
    "product_type": "Cult Products",
    "status": "active",
    "updated_at": "2026-05-01T10:00:00-04:00",
    "variants": [
        {
            "id": 808950810,
            "title": "Pink",
            "sku": "IPOD2008PINK",
            "price": "199.00",
            "inventory_quantity": 10,
        },
        {
            "id": 49148385,
            "title": "Red",
            "sku": "IPOD2008RED",
            "price": "199.00",
            "inventory_quantity": 20,
        },
    ],
}


def shopify_product(**changes: Any) -> dict[str, Any]:
    """Shopify's REST example product (two variants), with ``changes``; a fresh copy."""
    return {**copy.deepcopy(_SHOPIFY_PRODUCT), **changes}


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


# The mixed workload.


async def _shopify(client: TestClient, merchant: Merchant, name: str, topic: str) -> None:
    body, _ = shopify_body(name)
    headers = {"X-Shopify-Topic": topic}
    assert (await client.post(merchant.shopify_orders(), data=body, headers=headers)).ok


async def _adjust(client: TestClient, merchant: Merchant, ref: str, by: int, key: str) -> None:
    headers = {**merchant.auth, "Idempotency-Key": key}
    body = {"by": by, "reason": f"counted {key}", "create": True}
    resp = await client.post(f"/api/stock/{ref}/adjustments", json=body, headers=headers)
    assert resp.status == 201, await resp.text()


async def _woo(
    client: TestClient, merchant: Merchant, body: dict[str, Any], topic: str | None = None
) -> None:
    headers = {"X-WC-Webhook-Topic": topic} if topic else {}
    resp = await client.post(merchant.woo_orders(), json=body, headers=headers)
    assert resp.status == 200, await resp.text()


def _june(day: int) -> str:
    return f"2026-06-{day:02d}T00:00:00"


async def _sale_lifecycles(client: TestClient, merchant: Merchant) -> None:
    """What the sales projection folds: amendments, status changes, refunds and deletion
    marks, before and after the order is a sale."""
    # Amended (the customer's email, then a line's quantity), completed, then refunded.
    email = {"first_name": "Ana", "last_name": "Ruiz", "email": "ana.ruiz@example.com"}
    await _woo(client, merchant, woo_order(800, date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(800, billing=email, date_modified_gmt=_june(2)))
    more = woo_order(800, billing=email, date_modified_gmt=_june(3))
    more["line_items"][0]["quantity"] = 3
    await _woo(client, merchant, more)
    refunds = [{"id": 81, "total": "-2.50"}]
    done = {**more, "status": "completed", "date_modified_gmt": _june(4), "refunds": refunds}
    await _woo(client, merchant, done)
    # Deleted on the platform, then restored; deleted before it is an order; deleted after.
    await _woo(client, merchant, woo_order(801, date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 801}, "order.deleted")
    await _woo(client, merchant, woo_order(801, date_modified_gmt=_june(5)), "order.restored")
    await _woo(client, merchant, {"id": 802}, "order.deleted")
    await _woo(client, merchant, woo_order(802, "completed", date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(803, date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 803}, "order.deleted")
    # In the trash, then a late older snapshot: the sale's platform status stays the trash,
    # whatever the last receipt said; an order that is no sale shows its last receipt's.
    await _woo(client, merchant, woo_order(804, "completed", date_modified_gmt=_june(5)))
    await _woo(client, merchant, {"id": 804}, "order.deleted")
    await _woo(client, merchant, woo_order(804, date_modified_gmt=_june(1)))
    await _woo(client, merchant, woo_order(805, "pending", date_modified_gmt=_june(1)))
    await _woo(client, merchant, {"id": 805}, "order.deleted")


async def _shopify_refund_before_its_order(client: TestClient, merchant: Merchant) -> None:
    _, refund = shopify_body("shopify-refund-shopify-rest-example-shipping-only.json")
    order, _ = shopify_body("shopify-order-shopify-rest-example-eur-custom-items.json")
    refund["order_id"] = json.loads(order)["id"]
    body = json.dumps(refund, default=str).encode()
    headers = {"X-Shopify-Topic": "refunds/create"}
    assert (await client.post(merchant.shopify_orders(), data=body, headers=headers)).ok


async def _reports_out_of_order(client: TestClient, merchant: Merchant) -> None:
    """Product reports late, older, without a time, untracked: the newest by the platform's
    clock is kept, and a timeless one replaces and is replaced by any. Each product's last
    report is kept out, so what is kept depends on every rule."""
    reports = {
        5000: [
            (20, "2026-09-01T10:05:00", True),
            (30, "2026-09-01T10:00:00", True),  # older: kept out
            (25, None, True),  # no time: replaces
            (31, "2026-09-01T09:00:00", True),  # replaces the timeless one
            (40, "2026-09-01T09:30:00", True),
            (41, "2026-09-01T09:10:00", True),  # older: kept out
        ],
        5002: [
            (7, "2026-09-01T10:00:00", True),
            (None, "2026-09-01T11:00:00", False),  # no longer counted
            (8, "2026-09-01T10:30:00", True),  # older: kept out
        ],
    }
    for pid, sequence in reports.items():
        for n, (count, modified, managed) in enumerate(sequence):
            body: dict[str, Any] = {"id": pid, "name": f"Jar v{n}", "type": "simple"}
            body.update(manage_stock=managed, stock_quantity=count)
            if modified is not None:
                body["date_modified_gmt"] = modified
            assert (await client.post(merchant.woo_products(), json=body)).status == 200
            if n == 2:
                line = {"id": 1, "product_id": pid, "quantity": 3, "total": "3.00"}
                order = woo_order(pid + 1, line_items=[line])
                assert (await client.post(merchant.woo_orders(), json=order)).status == 200


async def _live_day(client: TestClient, merchant: Merchant) -> None:
    for d in live_day():
        resp = await client.post(d.path(merchant), data=d.body, headers=d.headers)
        assert resp.status == 200, await resp.text()


async def mixed_workload(client: TestClient, merchant: Merchant) -> None:
    """Every fixture, the real store's day, Shopify refunds (one before its order),
    cancellations, redeliveries, stock adjustments, products reported late or without a
    time, sales deleted and restored: what every projection folds, through the HTTP API."""
    await _adjust(client, merchant, "woocommerce:42", 5, "before-any-sale")
    await _shopify_refund_before_its_order(client, merchant)
    await _adjust(client, merchant, "shopify:49148385", 3, "before-the-catalogue")
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-order-*.json")):
        await client.post(merchant.woo_orders(), data=path.read_bytes())
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-product-*.json")):
        await client.post(merchant.woo_products(), data=path.read_bytes())
    shopify = FIXTURES / "shopify"
    for path in sorted(shopify.glob("shopify-order-*.json")):
        topic = "orders/cancelled" if "cancelled" in path.name else "orders/create"
        await _shopify(client, merchant, path.name, topic)
    for path in sorted(shopify.glob("shopify-refund-*.json")):
        await _shopify(client, merchant, path.name, "refunds/create")
    headers = {"X-Shopify-Topic": "products/create"}
    await client.post(merchant.shopify_orders(), json=shopify_product(), headers=headers)
    for n in range(24):
        await client.post(merchant.woo_orders(), json=woo_order(700 + n % 12))
        if n % 4 == 0:
            cancelled = woo_order(
                700 + n % 12, "cancelled", date_modified_gmt="2026-07-01T00:00:00"
            )
            await client.post(merchant.woo_orders(), data=json.dumps(cancelled))
        if n % 5 == 0:
            await _adjust(client, merchant, "woocommerce:42", -1 - n, f"shelf-{n}")
    # A later delivery of a product already sold: a new reported count, a new name.
    later = {"id": 794, "name": "Premium Quality, v2", "manage_stock": True, "stock_quantity": 7}
    later["date_modified_gmt"] = "2027-01-01T00:00:00"
    await client.post(merchant.woo_products(), json=later)
    await _adjust(client, merchant, "shopify:808950810", -2, "after-the-catalogue")
    await _sale_lifecycles(client, merchant)
    await _reports_out_of_order(client, merchant)
    await _live_day(client, merchant)
