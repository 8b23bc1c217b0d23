"""Where the ingestor keeps what it decides: the seam between the intake and PostgreSQL.

``IntakeStore`` is everything one delivery needs, on one connection: the user's signing
secrets, the store bound to the connection, the write of its events (binding the store in
the same transaction), and the inbox. ``PgIntakeStore`` is the real one; the unit tests give
the ingestor an in-memory one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from service.accounts import bindings, secrets
from service.adapters.common import PayloadError
from service.intake import inbox
from service.intake.delivery import SpooledDelivery
from service.store.db import connection
from service.store.eventstore import EventStore
from service.store.write import Decide, Written, write


class UnexpectedSourceError(Exception):
    """Another store bound the connection while this delivery was being recorded."""


class IntakeStore(Protocol):
    # How many open quarantined deliveries a user's inbox holds at most.
    inbox_limit: int

    async def signing_secrets(self, user_id: UUID, platform: str, now: datetime) -> list[str]:
        """The secrets a delivery may be signed with (none: verification is off)."""
        ...

    async def may_come_from(self, user_id: UUID, platform: str, source: str) -> bool:
        """Whether the store a delivery names is the bound one, or none is bound yet."""
        ...

    async def write(
        self, aggregate_id: UUID, decide: Decide[str], raw: tuple[str, bytes], bind: Binding
    ) -> Written[str]:
        """Decide and append (see service/store/write.py), binding the store a delivery
        names if none is; raises UnexpectedSourceError, appending nothing, when another
        store is bound by then."""
        ...

    async def keep_quarantined(self, d: SpooledDelivery, err: PayloadError) -> int | None:
        """File an unusable delivery in the inbox; None when the user's is full."""
        ...

    async def keep_signature_failure(self, d: SpooledDelivery, detail: str) -> int: ...

    async def keep_ping(self, d: SpooledDelivery) -> None: ...


# The user, platform and store a delivery names (store None: it names none).
Binding = tuple[UUID, str, str | None]
# Each call opens one IntakeStore, for one delivery.
StoresFactory = Callable[[], AbstractAsyncContextManager[IntakeStore]]


class PgIntakeStore:
    def __init__(
        self, conn: asyncpg.Connection, store: EventStore, inbox_limit: int, failures_kept: int
    ) -> None:
        self.conn = conn
        self.store = store
        self.inbox_limit = inbox_limit
        self.failures_kept = failures_kept

    async def signing_secrets(self, user_id: UUID, platform: str, now: datetime) -> list[str]:
        return list(await secrets.secrets_for(self.conn, user_id, platform, now))

    async def may_come_from(self, user_id: UUID, platform: str, source: str) -> bool:
        return await bindings.may_come_from(self.conn, user_id, platform, source)

    async def write(
        self, aggregate_id: UUID, decide: Decide[str], raw: tuple[str, bytes], bind: Binding
    ) -> Written[str]:
        user_id, platform, source = bind

        async def guard(conn: asyncpg.Connection) -> None:
            if source is not None and not await bindings.check_source(
                conn, user_id, platform, source
            ):
                raise UnexpectedSourceError()

        return await write(self.conn, self.store, aggregate_id, decide, raw=raw, guard=guard)

    async def keep_quarantined(self, d: SpooledDelivery, err: PayloadError) -> int | None:
        return await inbox.keep(
            self.conn,
            d,
            kind="quarantined",
            reason=err.reason,
            field=err.field,
            detail=err.detail,
            limit=self.inbox_limit,
        )

    async def keep_signature_failure(self, d: SpooledDelivery, detail: str) -> int:
        return await inbox.keep_signature_failure(
            self.conn, d, detail=detail, kept=self.failures_kept
        )

    async def keep_ping(self, d: SpooledDelivery) -> None:
        await inbox.keep(self.conn, d, kind="ping", limit=self.inbox_limit)


def pg_stores(
    pool: asyncpg.Pool, store: EventStore, inbox_limit: int, failures_kept: int
) -> StoresFactory:
    """A factory of PgIntakeStore, each on one pooled connection for one delivery."""

    @asynccontextmanager
    async def stores() -> AsyncIterator[IntakeStore]:
        async with connection(pool) as conn:
            yield PgIntakeStore(conn, store, inbox_limit, failures_kept)

    return stores
