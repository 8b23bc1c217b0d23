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
from service.store.eventstore import ConcurrencyConflictError, EventStore

# Each conflict means another writer made progress on the same aggregate, so this bounds
# the wait of the slowest of that many concurrent copies.
MAX_ATTEMPTS = 32

T = TypeVar("T")
# What to decide, given the aggregate's history: the aggregate holding the new events (None:
# nothing to append) and what to tell the caller.
Decide = Callable[[list[Recorded]], Awaitable[tuple[Aggregate | None, T]]]
# Run in the append's transaction, before the append; raises to append nothing.
Guard = Callable[[asyncpg.Connection], Awaitable[None]]


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
    guard: Guard | None = None,
) -> Written[T]:
    """Decide on the aggregate's history and append, ``raw`` (sha256, bytes) with it."""
    for _ in range(MAX_ATTEMPTS):
        history = await store.load_recorded(conn, aggregate_id)
        aggregate, result = await decide(history)
        pending: list[Any] = list(aggregate.collect_events()) if aggregate is not None else []
        if not pending:
            return Written(result, (), history[-1].notification_id if history else None)
        try:
            async with conn.transaction():
                if guard is not None:
                    await guard(conn)
                positions = await store.append(conn, pending, raw)
        except ConcurrencyConflictError:
            continue
        return Written(result, tuple(positions), positions[-1])
    raise TooManyWritersError(str(aggregate_id))


def history_events(history: list[Recorded]) -> list[Any]:
    return [r.event for r in history]
