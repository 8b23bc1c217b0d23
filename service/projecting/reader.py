"""The runner's reader: one read of the log per batch for every projection the runner holds,
and the wake-ups that start it.

A commit's NOTIFY carries how far the log reaches (service/store/eventstore.py), and a
webhook waiting for its events says how far it needs; either wakes the reader only if it has
not read that far yet, so a commit costs one read however many projections there are and
whoever asks. The reader then hands the batch to every projection held, each applying its
share on its own connection (service/projecting/batch.py), all at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from projections.base import Projection
from service.projecting.batch import LogBatch, commit, read_batch, topic_filter
from service.store.db import DatabaseUnavailableError
from service.store.eventstore import EventStore

# A wake-up that reads whatever was read already (a notification without a position, a
# projection taken over behind the others, a commit that may not have notified).
ANYWAY = sys.maxsize


@dataclass
class Held:
    """A projection this runner is active for: the connection that holds its lock and
    applies its batches, where it is, and what its holder waits on until that fails."""

    projection: Projection
    conn: Any
    position: int
    lost: asyncio.Future[None]


class LogReader:
    def __init__(
        self,
        store: EventStore,
        batch_size: Callable[[], int],
        advanced: Callable[[str, int], Awaitable[None]],
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.advanced = advanced
        self.reads = 0  # batches read from the log
        self.held: dict[str, Held] = {}
        self._wakeup = asyncio.Event()
        self._wanted = 0  # the furthest position asked for since the current read began
        self._read_through = 0  # every event up to here was read

    def want(self, position: int) -> None:
        """Someone needs the log read up to ``position``."""
        if position > self._read_through:
            self._wanted = max(self._wanted, position)
            self._wakeup.set()

    def notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self.want(int(payload) if payload.isdigit() else ANYWAY)

    def closed(self, conn: Any) -> None:
        """The reader's connection closed: wake it, to find out and reconnect."""
        self._wakeup.set()

    async def read(self, conn: Any, start: int, projections: Sequence[Projection]) -> LogBatch:
        topics = topic_filter(projections)
        batch = await read_batch(conn, self.store, start, self.batch_size(), topics)
        self.reads += 1
        self._read_through = max(self._read_through, batch.through)
        return batch

    async def commit(
        self, conn: Any, projection: Projection, batch: LogBatch, position: int
    ) -> tuple[int, int]:
        """The projection's share of ``batch`` applied; its position and the events applied."""
        if position >= batch.through:
            return position, 0
        position, count = await commit(conn, projection, batch, position)
        await self.advanced(projection.name, position)
        return position, count

    def hold(self, held: Held) -> None:
        self.held[held.projection.name] = held
        self.want(ANYWAY)  # it may be behind what was read already

    def release(self, held: Held) -> None:
        if self.held.get(held.projection.name) is held:
            del self.held[held.projection.name]

    async def feed(self, conn: Any, poll_interval: float) -> None:
        """Read and hand out batches until ``conn`` fails: at once while there is more, else
        when woken, or every poll interval (a lost notification)."""
        while True:
            if conn.is_closed():
                raise DatabaseUnavailableError("the reader's connection closed")
            self._wakeup.clear()
            self._wanted = 0
            if self.held and await self._step(conn):
                continue
            if self._wanted <= self._read_through:
                self._wakeup.clear()  # what woke it meanwhile was read already
            try:
                await asyncio.wait_for(self._wakeup.wait(), poll_interval)
            except TimeoutError:
                pass

    async def _step(self, conn: Any) -> bool:
        """One batch for every projection held; whether there is more to read at once."""
        held = list(self.held.values())
        batch = await self.read(conn, min(h.position for h in held), [h.projection for h in held])
        await asyncio.gather(*(self._apply(h, batch) for h in held))
        return batch.full or any(h.position < batch.through for h in self.held.values())

    async def _apply(self, held: Held, batch: LogBatch) -> None:
        """A failure ends the holding: its holder reconnects, or a standby takes over."""
        try:
            held.position, _ = await self.commit(held.conn, held.projection, batch, held.position)
        except Exception as exc:
            self.release(held)
            if not held.lost.done():
                held.lost.set_exception(exc)
