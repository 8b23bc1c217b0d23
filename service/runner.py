"""The projection runner: tails the event log and keeps every projection current.

Each batch is applied with the projection's new position in one transaction, after taking
the position row FOR UPDATE, so an event is applied exactly once even if the process dies
mid-batch or several runners share one database. LISTEN/NOTIFY wakes it as soon as events
are committed; a poll interval covers lost notifications and reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from projections.base import Projection, Recorded
from service.db import is_unavailable
from service.eventstore import CHANNEL, EventStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500


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
        self.dsn = dsn
        self.store = store
        self.projections = list(projections)
        self.poll_interval = poll_interval
        self.positions: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Condition()

    def wake(self) -> None:
        self._wakeup.set()

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
                    await self._apply(conn, projection, batch)
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

    async def _apply(self, conn: Any, projection: Projection, batch: list[Recorded]) -> None:
        try:
            async with conn.transaction():  # a savepoint: a failure leaves the batch clean
                await projection.apply(conn, batch)
            return
        except Exception as exc:
            if is_unavailable(exc):
                raise
        # Something in the batch cannot be applied: apply one event at a time, and set
        # aside the ones that fail on their own instead of stalling this read model forever.
        for recorded in batch:
            try:
                async with conn.transaction():
                    await projection.apply(conn, [recorded])
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                await self._set_aside(conn, projection.name, recorded, exc)

    async def _set_aside(self, conn: Any, name: str, recorded: Recorded, exc: Exception) -> None:
        log.error(
            "projection %s skipped event %d: %s", name, recorded.notification_id, type(exc).__name__
        )
        await conn.execute(
            "INSERT INTO projection_failures (name, notification_id, error) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            name,
            recorded.notification_id,
            f"{type(exc).__name__}: {exc}"[:2000],
        )

    async def _advanced(self, name: str, position: int) -> None:
        async with self._progress:
            self.positions[name] = position
            self._progress.notify_all()

    def reached(self, notification_id: int) -> bool:
        if len(self.positions) < len(self.projections):
            return False
        return min(self.positions.values()) >= notification_id

    async def wait_for(self, notification_id: int, within: float) -> bool:
        """Wait until every projection has applied ``notification_id``; False on timeout."""
        self.wake()
        async with self._progress:
            try:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self.reached(notification_id)), within
                )
            except TimeoutError:
                return False
        return True

    async def run(self) -> None:
        """Run until cancelled, surviving database outages."""
        while True:
            listener = None
            try:
                listener = await self._listen()
                while True:
                    await self.catch_up()
                    await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_unavailable(exc):
                    log.exception("projection runner failed; retrying")
                else:
                    log.warning("projection runner: database unavailable (%s)", type(exc).__name__)
                await asyncio.sleep(self.poll_interval)
            finally:
                if listener is not None:
                    await _close_quietly(listener)

    async def _listen(self) -> Any:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        await conn.add_listener(CHANNEL, lambda *_: self._wakeup.set())
        return conn

    async def _sleep(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
        except TimeoutError:
            pass
        self._wakeup.clear()


async def _close_quietly(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
