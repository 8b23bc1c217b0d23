"""A dry run's intake store: every item decided against its aggregate, nothing saved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from service.accounts.directory import Directory
from service.adapters.common import PayloadError
from service.intake.delivery import SpooledDelivery
from service.intake.keeping import Binding, IntakeStore, Limits, PgIntakeStore, StoresFactory
from service.store.db import connection
from service.store.eventstore import EventStore
from service.store.write import Decide, Written


class DryIntakeStore(PgIntakeStore):
    async def write(
        self, aggregate_id: UUID, decide: Decide[str], raw: tuple[str, bytes], bind: Binding
    ) -> Written[str]:
        history = await self.store.load_recorded(self.conn, aggregate_id)
        aggregate, result = await decide(history)
        # Not appended: what would be, numbered from 1 (no log position is taken).
        pending = list(aggregate.collect_events()) if aggregate is not None else []
        return Written(result, tuple(range(1, len(pending) + 1)), None)

    async def keep_quarantined(self, d: SpooledDelivery, err: PayloadError) -> int | None:
        return None


def dry_stores(
    pool: asyncpg.Pool, store: EventStore, limits: Limits, directory: Directory
) -> StoresFactory:
    @asynccontextmanager
    async def stores() -> AsyncIterator[IntakeStore]:
        async with connection(pool) as conn:
            yield DryIntakeStore(conn, store, limits, directory, None)

    return stores
