"""The projection runner: tails the event log and keeps every projection current.

Each batch is applied with the projection's new position in one transaction, after taking
the position row FOR UPDATE, so an event is applied exactly once even if the process dies
mid-batch (the transaction simply never commits) or several runners share one database.
Per projection, one runner is active: it holds a session advisory lock, which PostgreSQL
releases the moment its connection dies, so a standby runner takes over within a poll
interval. LISTEN/NOTIFY wakes the active runners as soon as events commit; polling covers
lost notifications and reconnects. A projection whose stored version differs from its code
is rebuilt beside the live one before the runner serves it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from projections.base import Projection
from service.projecting.apply import apply_batch
from service.projecting.rebuild import rebuild, version_of
from service.store.db import is_unavailable
from service.store.eventstore import CHANNEL, EventStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# The first key of the two-key advisory lock: "LE"dger projections.
LOCK_SPACE = 0x4C45
# Seconds between a worker's attempts to reach a database that is down, at most: each failed
# attempt doubles the wait from the poll interval, so an outage costs little and ends soon.
MAX_BACKOFF = 10


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def application_name() -> str:
    """How a worker's connection names itself in pg_stat_activity, so that which process
    holds which projection's lock is one query away (pg_locks joined to pg_stat_activity)."""
    return f"pyme-ledger projections pid {os.getpid()}"


class ProjectionRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        projections: Sequence[Projection],
        dsn: str,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.store = store
        self.projections = list(projections)
        self.dsn = dsn
        self.poll_interval = poll_interval
        self.positions: dict[str, int] = {}
        self.active: set[str] = set()
        self._wakeups = {p.name: asyncio.Event() for p in self.projections}
        self._progress = asyncio.Condition()
        self._down = False  # the database is unreachable: said once, then quietly retried
        self._back = asyncio.Event()  # set when a worker reaches it again: the others retry

    def _unavailable(self) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "database unavailable: projections wait for it, retrying with backoff (up to"
                " %ds apart)",
                MAX_BACKOFF,
            )

    def _available(self) -> None:
        if self._down:
            self._down = False
            log.info("database available again: projections resume")
            self._back.set()
            self._back = asyncio.Event()

    async def _pause(self, delay: float) -> None:
        """Wait ``delay``, or less: until a worker finds the database back."""
        back = self._back
        try:
            await asyncio.wait_for(back.wait(), delay)
        except TimeoutError:
            pass

    def wake(self) -> None:
        for event in self._wakeups.values():
            event.set()

    async def catch_up(self) -> int:
        """Apply everything committed so far to every projection; returns events applied.

        Projections are independent: one that fails does not hold back the others.
        """
        applied = 0
        failed: Exception | None = None
        async with self.pool.acquire() as conn:
            for projection in self.projections:
                try:
                    applied += await self._catch_up_one(conn, projection)
                except Exception as exc:
                    if is_unavailable(exc):
                        raise
                    log.exception("projection %s failed", projection.name)
                    failed = exc
        if failed is not None:
            raise failed
        return applied

    async def _catch_up_one(self, conn: Any, projection: Projection) -> int:
        applied = 0
        while True:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO projection_positions (name) VALUES ($1) ON CONFLICT DO NOTHING",
                    projection.name,
                )
                position = await conn.fetchval(
                    "SELECT position FROM projection_positions WHERE name = $1 FOR UPDATE",
                    projection.name,
                )
                head = await self.store.head(conn)
                batch = await self.store.read_after(conn, position, BATCH_SIZE, projection.topics)
                if batch:
                    await apply_batch(conn, projection, batch)
                # Every event up to ``head`` had committed when it was read (commit order is
                # id order), so a short batch means this projection has seen all it needs
                # up to there; irrelevant events still advance its position.
                last = batch[-1].notification_id if batch else 0
                new_position = last if len(batch) == BATCH_SIZE else max(head, last)
                new_position = max(position, new_position)
                if new_position != position:
                    await conn.execute(
                        "UPDATE projection_positions SET position = $2, updated_at = now()"
                        " WHERE name = $1",
                        projection.name,
                        new_position,
                    )
            await self._advanced(projection.name, new_position)
            applied += len(batch)
            if len(batch) < BATCH_SIZE:
                return applied

    async def _advanced(self, name: str, position: int) -> None:
        async with self._progress:
            self.positions[name] = max(position, self.positions.get(name, 0))
            self._progress.notify_all()

    def reached(self, notification_id: int) -> bool:
        if len(self.positions) < len(self.projections):
            return False
        return min(self.positions.values()) >= notification_id

    async def wait_for(self, notification_id: int, within: float) -> bool:
        """Wait until every projection has applied ``notification_id``; False on timeout.

        Another process may be the active runner of some projection, so positions are also
        read from the database while waiting.
        """
        self.wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.reached(notification_id):
            left = deadline - loop.time()
            if left <= 0:
                return False
            async with self._progress:
                try:
                    await asyncio.wait_for(self._progress.wait(), min(left, 0.05))
                except TimeoutError:
                    pass
            if len(self.active) < len(self.projections):
                await self._read_positions()
        return True

    async def _read_positions(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch("SELECT name, position FROM projection_positions")
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            return
        for row in rows:
            if row["name"] in self._wakeups:
                await self._advanced(row["name"], row["position"])

    async def run(self) -> None:
        """Run until cancelled, surviving database outages, one worker per projection."""
        tasks = [asyncio.create_task(self._listen_forever())]
        tasks += [asyncio.create_task(self._work(p)) for p in self.projections]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _work(self, projection: Projection) -> None:
        delay = self.poll_interval
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    self.dsn, timeout=5, server_settings={"application_name": application_name()}
                )
                self._available()
                delay = self.poll_interval
                if await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", LOCK_SPACE, lock_key(projection.name)
                ):
                    await self._serve(conn, projection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    self._unavailable()
                    delay = min(delay * 2, MAX_BACKOFF)
                else:
                    log.exception("projection %s failed; retrying", projection.name)
            finally:
                self.active.discard(projection.name)
                if conn is not None:
                    await _close_quietly(conn)
            await self._pause(delay)  # a standby, or after a failure

    async def _serve(self, conn: Any, projection: Projection) -> None:
        """The active runner of ``projection``: rebuild it if its version changed, then
        keep it current until the connection fails."""
        self.active.add(projection.name)
        await self._ensure_version(conn, projection)
        wakeup = self._wakeups[projection.name]
        while True:
            await self._catch_up_one(conn, projection)
            try:
                await asyncio.wait_for(wakeup.wait(), self.poll_interval)
            except TimeoutError:
                pass
            wakeup.clear()

    async def _ensure_version(self, conn: Any, projection: Projection) -> None:
        stored = await conn.fetchval(
            "SELECT version FROM projection_positions WHERE name = $1", projection.name
        )
        if stored is not None and stored != version_of(projection):
            log.warning(
                "projection %s is at version %s, the code at %s: rebuilding",
                projection.name,
                stored,
                version_of(projection),
            )
            await rebuild(self.dsn, self.store, projection)

    async def _listen_forever(self) -> None:
        delay = self.poll_interval
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    self.dsn, timeout=5, server_settings={"application_name": application_name()}
                )
                self._available()
                delay = self.poll_interval
                closed = asyncio.Event()
                conn.add_termination_listener(lambda *_, done=closed: done.set())
                await conn.add_listener(CHANNEL, lambda *_: self.wake())
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    delay = min(delay * 2, MAX_BACKOFF)
                else:
                    log.exception("listener failed; retrying")
            finally:
                if conn is not None:
                    await _close_quietly(conn)
            await self._pause(delay)


async def _close_quietly(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
