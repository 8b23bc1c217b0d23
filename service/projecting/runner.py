"""The projection runner: tails the event log and keeps every projection current.

Per projection, one runner is active: it holds a session advisory lock on a connection of
that projection's own, which PostgreSQL releases the moment the connection dies, so a
standby runner takes over within a poll interval. A projection whose stored version differs
from its code is rebuilt beside the live one before the runner serves it.

One reader serves every projection the runner holds: it reads each batch of the log once
(service/projecting/batch.py), and each projection applies its share, set-based through its
bulk loader when it has one, with its new position in a transaction of its own on its own
connection, its position row locked first; so an event is applied exactly once
even if the process dies mid-batch or several runners share one database. A commit's
NOTIFY (carrying how far the log reaches) wakes the reader once, and a webhook waiting for
its events wakes it only if it has not read that far yet; polling covers lost
notifications and reconnects.
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
from service.projecting.batch import claim_position
from service.projecting.progress import announcing
from service.projecting.reader import ANYWAY, Held, LogReader
from service.projecting.rebuild import rebuild, version_of
from service.store.db import DatabaseUnavailableError, is_unavailable
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
        self._reader = LogReader(store, lambda: BATCH_SIZE, self._advanced)
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

    @property
    def reads(self) -> int:
        """How many batches this runner has read from the log."""
        return self._reader.reads

    def wake(self) -> None:
        """Read the log now: something may have committed without notifying."""
        self._reader.want(ANYWAY)

    async def catch_up(self) -> int:
        """Apply everything committed so far to every projection; returns events applied.

        Projections are independent: one that fails does not hold back the others.
        """
        applied = 0
        failed: Exception | None = None
        async with self.pool.acquire() as conn:
            at = {p.name: await claim_position(conn, p.name) for p in self.projections}
            pending = list(self.projections)
            while pending:
                start = min(at[p.name] for p in pending)
                batch = await self._reader.read(conn, start, pending)
                for projection in list(pending):
                    try:
                        at[projection.name], count = await self._reader.commit(
                            conn, projection, batch, at[projection.name]
                        )
                        applied += count
                    except Exception as exc:
                        if is_unavailable(exc):
                            raise
                        log.exception("projection %s failed", projection.name)
                        failed = exc
                        pending.remove(projection)
                if not batch.full and all(at[p.name] >= batch.through for p in pending):
                    break
        if failed is not None:
            raise failed
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
        self._reader.want(notification_id)
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
        names = {p.name for p in self.projections}
        for row in rows:
            if row["name"] in names:
                await self._advanced(row["name"], row["position"])

    async def run(self) -> None:
        """Run until cancelled, surviving database outages: one reader for the projections
        this runner holds, and one holder per projection (active, or standing by)."""
        tasks = [asyncio.create_task(self._read_forever())]
        tasks += [asyncio.create_task(self._hold(p)) for p in self.projections]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _connect(self) -> Any:
        return await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"application_name": application_name()}
        )

    async def _hold(self, projection: Projection) -> None:
        """Take the projection's lock and serve it until its connection fails; else stand by,
        trying again every poll interval."""
        delay = self.poll_interval
        while True:
            conn = None
            try:
                conn = await self._connect()
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
        """The active runner of ``projection``: rebuild it if its version changed, then hand
        it to the reader until its connection fails."""
        self.active.add(projection.name)
        await self._ensure_version(conn, projection)
        position = await claim_position(conn, projection.name)
        await self._advanced(projection.name, position)
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def closed(_: Any) -> None:
            if not lost.done():
                lost.set_exception(DatabaseUnavailableError("connection closed"))

        conn.add_termination_listener(closed)
        held = Held(projection, conn, position, lost)
        self._reader.hold(held)
        try:
            await lost
        finally:
            self._reader.release(held)
            lost.cancel()

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
            async with announcing(self.dsn, projection.name) as report:
                await rebuild(self.dsn, self.store, projection, report)

    async def _read_forever(self) -> None:
        """The reader: listens for commits, and reads a batch whenever one may be waiting."""
        delay = self.poll_interval
        while True:
            conn = None
            try:
                conn = await self._connect()
                self._available()
                delay = self.poll_interval
                conn.add_termination_listener(self._reader.closed)
                await conn.add_listener(CHANNEL, self._reader.notified)
                self.wake()  # what committed while nothing listened
                await self._reader.feed(conn, self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    delay = min(delay * 2, MAX_BACKOFF)
                else:
                    log.exception("projection reader failed; retrying")
            finally:
                if conn is not None:
                    await _close_quietly(conn)
            await self._pause(delay)


async def _close_quietly(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
