"""The store API clients a backfill pulls from: one ``Source`` per platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from service.accounts.connections import StoreConnection
from service.backfill.source import Source, SourceError
from service.http.pull.shopify import ShopifySource
from service.http.pull.transport import RetryPolicy
from service.http.pull.woocommerce import WooCommerceSource
from service.settings import Settings


@asynccontextmanager
async def open_source(
    connection: StoreConnection, settings: Settings, *, policy: RetryPolicy | None = None
) -> AsyncIterator[Source]:
    """``async with open_source(connection, settings) as source:``: the connection's
    platform client, over one HTTP session closed on the way out."""
    policy = policy or RetryPolicy()
    source: Source
    async with aiohttp.ClientSession() as session:
        if connection.platform == WooCommerceSource.platform:
            source = WooCommerceSource(session, connection, policy)
        elif connection.platform == ShopifySource.platform:
            source = ShopifySource(
                session, connection, policy, api_version=settings.shopify_api_version
            )
        else:
            raise SourceError(f"no store API client for the platform {connection.platform!r}")
        yield source
