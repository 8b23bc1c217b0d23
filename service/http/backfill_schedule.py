"""The scheduled backfill: every LEDGER_BACKFILL_INTERVAL minutes, each store connection is
pulled for what its webhooks missed, so missed deliveries heal by themselves.

Exactly one process does a round at a time: it holds a PostgreSQL session advisory lock
(``pg_try_advisory_lock``) for the round, and another process that finds it held skips its
turn. A round runs only the connections whose last run is at least one interval old, so
services started together, or a round that follows another's, never pull a store twice in an
interval. Each connection's run also holds a lock of its own (service/backfill/lock.py), which
"Backfill now" in the console and ``ledger backfill`` take too: a store is never pulled by two
runs at once.

A run's outcome is recorded on the connection (connections.record_run): its high-water mark
on success, the error's one line on a SourceError. Any other failure is logged by its type
alone (an exception's text may quote what the store answered) and recorded as such; none
stops the schedule. The store clients and the backfill itself are passed in (tests give
stand-ins); they default to service.http.pull.open_source and service.backfill.run.backfill.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from service.accounts import connections
from service.accounts.connections import StoreConnection
from service.accounts.keyring import Keyring, SealedWithAnotherKeyError
from service.backfill.lock import try_lock, unlock
from service.backfill.run import backfill
from service.backfill.source import Source, SourceError
from service.backfill.summary import BackfillSummary
from service.http.pull import open_source
from service.settings import Settings
from service.store.db import is_unavailable
from service.store.eventstore import EventStore

log = logging.getLogger(__name__)

# The contract writes open_source as ``async def`` returning the context manager, and uses
# it as ``async with open_source(...)``: either shape is taken (see _opened).
SourceContext = AbstractAsyncContextManager[Source]
OpenSource = Callable[[StoreConnection, Settings], SourceContext | Awaitable[SourceContext]]
RunBackfill = Callable[..., Awaitable[BackfillSummary]]

ROUND_LOCK = 0x6C6564676572 + 13  # "ledger" + the issue: one round at a time, anywhere


def error_line(exc: BaseException) -> str:
    """A SourceError as kept and shown: its own one line (the pull clients promise it names
    which credential to check, never the credential), else its docstring."""
    text = str(exc).strip() or " ".join((type(exc).__doc__ or type(exc).__name__).split())
    return connections.one_line(text)


class BackfillSchedule:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        settings: Settings,
        keyring: Keyring,
        open_source: OpenSource = open_source,
        run_backfill: RunBackfill = backfill,
    ) -> None:
        self.pool = pool
        self.store = store
        self.settings = settings
        self.keyring = keyring
        self.open_source = open_source
        self.run_backfill = run_backfill
        self.interval = timedelta(minutes=settings.backfill_interval)
        self._now: dict[tuple[UUID, str], asyncio.Task[None]] = {}

    async def run(self) -> None:
        """A round now, then one every interval, until cancelled (never, when it is 0)."""
        if not self.interval:
            return
        while True:
            try:
                await self.run_round()
            except Exception as exc:  # the schedule outlives any one round
                if not is_unavailable(exc):
                    log.error("scheduled backfill round failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.interval.total_seconds())

    async def run_round(self) -> int | None:
        """Run every due connection; how many ran, or None when another process holds the
        round."""
        async with self.pool.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock($1)", ROUND_LOCK):
                return None
            try:
                due = await connections.due_connections(lock, self.interval)
                ran = 0
                for user_id, platform in due:
                    ran += await self.run_one(user_id, platform)
                return ran
            finally:
                await lock.execute("SELECT pg_advisory_unlock($1)", ROUND_LOCK)

    async def run_one(self, user_id: UUID, platform: str) -> bool:
        """Run one connection's backfill and record how it went; False when it is running
        elsewhere already (or was disconnected meanwhile)."""
        async with self.pool.acquire() as lock:
            if not await try_lock(lock, user_id, platform):
                return False
            try:
                return await self._locked_run(lock, user_id, platform)
            finally:
                await unlock(lock, user_id, platform)

    async def _locked_run(self, conn: Any, user_id: UUID, platform: str) -> bool:
        try:
            connection = await connections.get_connection(conn, user_id, platform, self.keyring)
        except SealedWithAnotherKeyError as exc:
            await connections.record_run(
                conn, user_id, platform, high_water=None, error=error_line(exc)
            )
            return True
        if connection is None:
            return False
        high_water, error = None, None
        try:
            async with await self._opened(connection) as source:
                summary = await self.run_backfill(
                    self.pool, self.store, self.settings, connection, source
                )
            high_water = summary.high_water
        except SourceError as exc:
            error = error_line(exc)
            log.warning("backfill of %s/%s failed: %s", user_id, platform, error)
        except Exception as exc:  # recorded and logged; the schedule goes on
            error = f"the backfill failed unexpectedly ({type(exc).__name__}): see the log"
            log.error("backfill of %s/%s failed (%s)", user_id, platform, type(exc).__name__)
        await connections.record_run(conn, user_id, platform, high_water=high_water, error=error)
        return True

    async def _opened(self, connection: StoreConnection) -> SourceContext:
        opened = self.open_source(connection, self.settings)
        if inspect.isawaitable(opened):
            return await opened
        return opened

    def start_now(self, user_id: UUID, platform: str) -> bool:
        """Run one connection's backfill in the background ("Backfill now"); False when this
        process is running it already."""
        key = (user_id, platform)
        running = self._now.get(key)
        if running is not None and not running.done():
            return False
        self._now[key] = asyncio.get_running_loop().create_task(self._now_task(key))
        return True

    async def _now_task(self, key: tuple[UUID, str]) -> None:
        try:
            await self.run_one(*key)
        except Exception as exc:  # a background task: nobody else would hear of it
            log.error("backfill of %s/%s failed (%s)", *key, type(exc).__name__)

    async def wait_started(self) -> None:
        """Until the background runs started so far have finished (tests, and closing)."""
        await asyncio.gather(*self._now.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self._now.values():
            task.cancel()
        for task in self._now.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
