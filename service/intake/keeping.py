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
from service.accounts.directory import Directory
from service.adapters.common import PayloadError
from service.intake import inbox
from service.intake.delivery import SpooledDelivery
from service.store.db import connection
from service.store.eventstore import EventStore, SourceNotBoundError
from service.store.group_commit import GroupCommitter
from service.store.write import Decide, Written, write


class UnexpectedSourceError(Exception):
    """Another store bound the connection while this delivery was being recorded."""


class IntakeStore(Protocol):
    # How many open quarantined deliveries a user's inbox holds at most.
    inbox_limit: int

    async def signing_secrets(
        self, user_id: UUID, platform: str, now: datetime, fresh: bool = False
    ) -> list[str]:
        """The secrets a delivery may be signed with (none: verification is off); ``fresh``:
        as the database holds them now, not as a cache may (asked before a refusal)."""
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
        self,
        conn: asyncpg.Connection,
        store: EventStore,
        limits: Limits,
        directory: Directory,
        committer: GroupCommitter | None,
    ) -> None:
        self.conn = conn
        self.store = store
        self.inbox_limit, self.failures_kept = limits
        self.directory = directory
        self.committer = committer

    async def signing_secrets(
        self, user_id: UUID, platform: str, now: datetime, fresh: bool = False
    ) -> list[str]:
        secrets.check_platform(platform)
        row = await self.directory.secret_row(self.conn, user_id, platform, fresh)
        if row is None:
            return []
        return secrets.candidates(row.secret, row.previous_secret, row.previous_valid_until, now)

    async def may_come_from(self, user_id: UUID, platform: str, source: str) -> bool:
        if bindings.binding(platform, source) is None:
            return True
        bound = await self.directory.bound_source(self.conn, user_id, platform)
        if bindings.matches(bound, source):
            return True
        bound = await self.directory.bound_source(self.conn, user_id, platform, fresh=True)
        return bindings.matches(bound, source)

    async def write(
        self, aggregate_id: UUID, decide: Decide[str], raw: tuple[str, bytes], bind: Binding
    ) -> Written[str]:
        user_id, platform, source = bind
        try:
            return await write(
                self.conn,
                self.store,
                aggregate_id,
                decide,
                raw=raw,
                user_id=user_id,
                bind=bindings.binding(platform, source),
                committer=self.committer,
            )
        except SourceNotBoundError:
            raise UnexpectedSourceError() from None

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


# The inbox's bounds: open quarantined entries per user, signature failures kept per user.
Limits = tuple[int, int]


def pg_stores(
    pool: asyncpg.Pool,
    store: EventStore,
    limits: Limits,
    directory: Directory,
    committer: GroupCommitter | None = None,
) -> StoresFactory:
    """A factory of PgIntakeStore, each on one pooled connection for one delivery. Without
    a listening ``directory`` every lookup reads the database; without a ``committer`` every
    append is a statement of its own."""

    @asynccontextmanager
    async def stores() -> AsyncIterator[IntakeStore]:
        async with connection(pool) as conn:
            yield PgIntakeStore(conn, store, limits, directory, committer)

    return stores
