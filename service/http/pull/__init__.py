"""The store API clients a backfill pulls through.

# placeholder: replaced by the pullclients branch
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.accounts.connections import StoreConnection
from service.backfill.source import Source, SourceUnavailable
from service.settings import Settings


@asynccontextmanager
async def open_source(connection: StoreConnection, settings: Settings) -> AsyncIterator[Source]:
    """``async with open_source(connection, settings) as source``."""
    raise SourceUnavailable("the store API clients are not built in this branch yet")
    yield  # pragma: no cover
