"""The store API clients a backfill pulls through.

# placeholder: replaced by the pullclients branch
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from service.accounts.connections import StoreConnection
from service.backfill.source import Source, SourceUnavailable
from service.settings import Settings


async def open_source(
    connection: StoreConnection, settings: Settings
) -> AbstractAsyncContextManager[Source]:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Source]:
        raise SourceUnavailable("the store API clients are not built in this branch yet")
        yield  # pragma: no cover

    return opened()
