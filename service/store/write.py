"""The one write path: load an aggregate, let it decide, append what it decided in one
transaction, and on a conflict do it all again.

Idempotency and concurrency both rest on the event table's primary key: two writers that
decided on the same aggregate version cannot both commit, so the loser loads what the winner
wrote and decides again (a repeated delivery then finds itself a duplicate). This is the only
place that catches the conflict; every writer (intake, adjustments, reprocess) goes through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import asyncpg
from eventsourcing.domain import Aggregate

from projections.base import Recorded
from service.store.eventstore import Append, ConcurrencyConflictError, EventStore
from service.store.group_commit import GroupCommitter

# Each conflict means another writer made progress on the same aggregate, so this bounds
# the wait of the slowest of that many concurrent copies.
MAX_ATTEMPTS = 32

T = TypeVar("T")
# What to decide, given the aggregate's history: the aggregate holding the new events (None:
# nothing to append) and what to tell the caller.
Decide = Callable[[list[Recorded]], Awaitable[tuple[Aggregate | None, T]]]


class TooManyWritersError(Exception):
    """An aggregate kept changing under this writer for every attempt."""


@dataclass(frozen=True)
class Written(Generic[T]):
    """What a write decided, the positions of the events it appended (none: nothing new),
    and the position of the aggregate's newest event after it (None: it has none)."""

    result: T
    positions: tuple[int, ...]
    last: int | None


async def write(
    conn: asyncpg.Connection,
    store: EventStore,
    aggregate_id: UUID,
    decide: Decide[T],
    *,
    raw: tuple[str, bytes] | None = None,
    user_id: UUID | None = None,
    bind: tuple[str, str] | None = None,
    committer: GroupCommitter | None = None,
) -> Written[T]:
    """Decide on the aggregate's history and append, ``raw`` (sha256, bytes) with it,
    moving ``user_id``'s log head and binding ``bind`` (platform, store) if none is bound.

    With a ``committer`` the first append joins a group commit; a retry after a conflict
    appends alone, on ``conn``. Raises SourceNotBoundError, appending nothing, when another
    store is bound by then.
    """
    for attempt in range(MAX_ATTEMPTS):
        history = await store.load_recorded(conn, aggregate_id)
        aggregate, result = await decide(history)
        pending: list[Any] = list(aggregate.collect_events()) if aggregate is not None else []
        if not pending:
            return Written(result, (), history[-1].notification_id if history else None)
        item = Append(pending, raw, user_id, bind)
        if committer is not None and attempt == 0:
            done = await committer.append(item)
        else:
            [done] = await store.append_many(conn, [item])
        if isinstance(done, ConcurrencyConflictError):
            continue
        if isinstance(done, Exception):
            raise done
        return Written(result, tuple(done), done[-1])
    raise TooManyWritersError(str(aggregate_id))


def history_events(history: list[Recorded]) -> list[Any]:
    return [r.event for r in history]
