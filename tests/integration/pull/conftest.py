"""The API clients against their stand-ins on 127.0.0.1 (never a real store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest_asyncio

from service.accounts.connections import StoreConnection
from service.http.pull.transport import RetryPolicy
from tests.standins.shopify import ShopifyStandIn
from tests.standins.woocommerce import WooCommerceStandIn

KEY = "ck_1234abcd5678ef90ck_1234abcd5678ef90aaaa"
SECRET = "cs_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"
# Tiny waits: the rules are the same, the suite stays quick.
POLICY = RetryPolicy(retries=3, backoff_base=0.05, backoff_cap=0.2, retry_after_cap=5, timeout=1)


def connection(platform: str, base_url: str, key: str | None, secret: str) -> StoreConnection:
    return StoreConnection(
        user_id=uuid4(),
        platform=platform,
        base_url=base_url,
        key=key,
        secret=secret,
        high_water=None,
        last_run_at=None,
        last_error=None,
        failures=0,
    )


@pytest_asyncio.fixture
async def woo() -> AsyncIterator[WooCommerceStandIn]:
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    yield standin
    await standin.close()


@pytest_asyncio.fixture
async def woo_paged() -> AsyncIterator[WooCommerceStandIn]:
    standin = WooCommerceStandIn(KEY, SECRET, page_cap=3)
    await standin.start()
    yield standin
    await standin.close()


@pytest_asyncio.fixture
async def shop() -> AsyncIterator[ShopifyStandIn]:
    standin = ShopifyStandIn(TOKEN, page_cap=2)
    await standin.start()
    yield standin
    await standin.close()
