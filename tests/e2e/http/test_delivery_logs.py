"""The service's own log, in both formats, while the real store's day and the fixtures are
posted with a signing secret set and /metrics is scraped with its token: exactly one
``service.deliveries`` line per webhook, with its fields, and no secret in any line."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.accounts import secrets
from service.logs import configure_logging
from service.settings import Settings
from tests.builders import FIXTURES, LIVE_SECRET, live_day, shopify_body, sign, woo_order
from tests.support import Merchant, server_keyring, start_client, wait_until

METRICS_TOKEN = "metrics-token-Hk3wQ9rT"
SHOPIFY_SECRET = "shpss-logtest-5ecret-77"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_FIELDS = {"user_id", "platform", "topic", "outcome", "status", "latency_ms", "sale_id"}


async def _post_everything(
    client: TestClient, merchant: Merchant
) -> list[tuple[dict[str, str], int, dict[str, Any]]]:
    """The day (signed), the WooCommerce fixtures (unsigned: refused), a Shopify order signed
    and one wrongly signed: each webhook's headers, status and answer."""
    sent: list[tuple[dict[str, str], int, dict[str, Any]]] = []

    async def post(path: str, body: bytes, headers: dict[str, str]) -> None:
        resp = await client.post(path, data=body, headers=headers)
        sent.append((headers, resp.status, await resp.json()))

    for d in live_day():
        await post(d.path(merchant), d.body, d.headers)
    for path in sorted((FIXTURES / "woocommerce").glob("woocommerce-order-*.json"))[:3]:
        await post(merchant.woo_orders(), path.read_bytes(), {})
    body, _ = shopify_body("shopify-order-shopify-rest-example-eur-custom-items.json")
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "evt-1"}
    await post(merchant.shopify_orders(), body, {**headers, "X-Shopify-Hmac-Sha256": "AAAA"})
    signed = {**headers, "X-Shopify-Hmac-Sha256": sign(body, SHOPIFY_SECRET)}
    await post(merchant.shopify_orders(), body, signed)
    await post(merchant.woo_orders(), json.dumps(woo_order(31337)).encode(), {})
    return sent


def _delivery_lines(stderr: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        lines = [json.loads(line) for line in stderr.splitlines()]
        return [line for line in lines if line["logger"] == "service.deliveries"]
    found = []
    for line in stderr.splitlines():
        if " service.deliveries " not in line:
            continue
        match = re.search(
            r"INFO service\.deliveries delivery (\w+) (\w+) (\S+): (\w+) (\d+) in [\d.]+ ms"
            rf" user=({_UUID}) sale=(\S+) delivery=(\S+)$",
            line,
        )
        assert match, line
        platform, _, topic, outcome, status, user, sale, delivery = match.groups()
        found.append(
            {
                "platform": platform,
                "topic": None if topic == "-" else topic,
                "outcome": outcome,
                "status": int(status),
                "user_id": user,
                "sale_id": None if sale == "-" else sale,
                "delivery_id": None if delivery == "-" else delivery,
            }
        )
    return found


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_one_line_per_delivery_and_no_secret_in_any_line(
    settings: Settings,
    merchant: Merchant,
    pool: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    fmt: str,
):
    async with pool.acquire() as conn:
        for platform, secret in (("woocommerce", LIVE_SECRET), ("shopify", SHOPIFY_SECRET)):
            await secrets.set_secret(
                conn, merchant.name, platform, secret, timedelta(hours=1), server_keyring()
            )
    configure_logging("DEBUG", fmt)
    client = await start_client(replace(settings, metrics_token=METRICS_TOKEN))
    try:
        sent = await _post_everything(client, merchant)
        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        assert (await client.get("/metrics", headers=auth)).status == 200
        wrong = {"Authorization": f"Bearer {METRICS_TOKEN}-not"}
        assert (await client.get("/metrics", headers=wrong)).status == 401
        # An access line is written just after the answer's bytes: wait for the last one.
        captured: list[str] = []

        def both_scrapes_logged() -> bool:
            captured.append(capsys.readouterr().err)
            return "".join(captured).count("GET /metrics") >= 2

        await wait_until(both_scrapes_logged, 5, "the scrapes' access lines")
    finally:
        await client.close()
    stderr = "".join(captured) + capsys.readouterr().err

    for secret in (merchant.token, merchant.api_key, LIVE_SECRET, SHOPIFY_SECRET, METRICS_TOKEN):
        assert secret not in stderr
    lines = _delivery_lines(stderr, fmt)
    assert len(lines) == len(sent)
    outcomes = {answer.get("status") or answer["error"] for _, _, answer in sent}
    assert {"ping", "recorded", "invalid_signature", "product_updated"} <= outcomes
    for line, (headers, status, answer) in zip(lines, sent, strict=True):
        if fmt == "json":
            assert _FIELDS | {"delivery_id", "endpoint"} <= set(line)
            assert line["latency_ms"] >= 0
            assert line["level"] == "INFO"
        assert line["user_id"] == str(merchant.user_id)
        assert line["outcome"] == (answer.get("status") or answer["error"])
        assert line["status"] == status
        assert line["sale_id"] == answer.get("sale_id")
        topic = _header(headers, "X-WC-Webhook-Topic") or _header(headers, "X-Shopify-Topic")
        assert line["topic"] == topic
        delivery = _header(headers, "X-WC-Webhook-Delivery-ID") or _header(
            headers, "X-Shopify-Event-Id"
        )
        assert line["delivery_id"] == delivery
        assert line["platform"] == ("shopify" if "X-Shopify-Topic" in headers else "woocommerce")
