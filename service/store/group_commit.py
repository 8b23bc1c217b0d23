"""Group commit: concurrent deliveries' appends share one statement, one lock, one commit.

Each append waits at most ``max_wait`` for others to join (or less, once ``max_batch`` have),
then the batch goes to the database in one ``ledger_append`` call on the committer's own
connection. While a batch is in flight the next one gathers, so under load batches grow by
themselves and at low load the added wait is ``max_wait``. Every delivery gets its own result:
a conflict or a store mismatch is reported to its writer alone (which decides again and
appends alone, see service/store/write.py), and a delivery the database refused for another
reason is retried alone, so that only it fails. Commit order is still notification-id order:
the table lock is taken inside the function and held until its commit.

The connection is the committer's own, never a pooled one: writers hold a pooled connection
while they wait for their batch, and a flush waiting for the pool behind them would deadlock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from service.store.db import DatabaseUnavailableError, is_unavailable
from service.store.eventstore import Append, Appended, AppendError, EventStore

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]


@dataclass
class _Waiting:
    item: Append
    done: asyncio.Future[Appended] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    def __init__(
        self,
        connect: Connect,
        store: EventStore,
        *,
        max_batch: int = 64,
        max_wait: float = 0.002,
    ) -> None:
        self.connect = connect
        self.store = store
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.batches = 0  # how many statements were sent (the benchmark reports the ratio)
        self.appended = 0  # how many deliveries they carried
        self._queue: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._full = asyncio.Event()

    async def append(self, item: Append) -> Appended:
        """Append one delivery's events with whatever else is waiting; its own result."""
        waiting = _Waiting(item)
        waiting.done.add_done_callback(_retrieved)
        self._queue.append(waiting)
        if len(self._queue) >= self.max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        # A writer that gives up waiting (its answer's deadline) leaves the batch to commit.
        return await asyncio.shield(waiting.done)

    async def _flush(self) -> None:
        try:
            await asyncio.wait_for(self._full.wait(), self.max_wait)
        except TimeoutError:
            pass
        while self._queue:
            self._full.clear()
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._send(batch)

    async def _send(self, batch: list[_Waiting]) -> None:
        items = [w.item for w in batch]
        try:
            try:
                results = await self._execute(items)
            except DatabaseUnavailableError:
                # Once more, on a new connection: a connection that died idle (a restart
                # of the server, a proxy's timeout) must not send a whole batch to the
                # spool. Had the batch committed before its answer was lost, each of its
                # deliveries now conflicts with itself, and its writer finds a duplicate.
                results = await self._execute(items)
        except Exception as exc:
            for waiting in batch:
                _fail(waiting, exc)
            return
        for waiting, result in zip(batch, results, strict=True):
            if isinstance(result, AppendError) and len(batch) > 1:
                # Maybe this delivery's own fault, maybe not: alone, it tells.
                try:
                    [result] = await self._execute([waiting.item])
                except Exception as exc:
                    _fail(waiting, exc)
                    continue
            if not waiting.done.done():
                waiting.done.set_result(result)

    async def _execute(self, items: Sequence[Append]) -> list[Appended]:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self.connect()
            results = await self.store.append_many(self._conn, items)
            self.batches += 1
            self.appended += len(items)
            return results
        except Exception as exc:
            # A connection the server dropped can also surface as asyncpg's own state error
            # (InternalClientError) when the drop arrives mid-call: closed is closed.
            lost = self._conn is None or self._conn.is_closed()
            if is_unavailable(exc) or lost or isinstance(exc, asyncpg.InternalClientError):
                await self._drop()
                raise DatabaseUnavailableError(type(exc).__name__) from exc
            raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self, within: float = 10.0) -> None:
        """Let the batch in flight finish (at most ``within`` seconds), then disconnect."""
        if self._flusher is not None:
            try:
                await asyncio.wait_for(
                    asyncio.gather(self._flusher, return_exceptions=True), within
                )
            except TimeoutError:
                log.warning("group commit: a batch still in flight at shutdown was cut off")
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:
                conn.terminate()


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)


def _retrieved(done: asyncio.Future[Appended]) -> None:
    # A writer that stopped waiting never reads its failure; reading it here keeps asyncio
    # from logging it as never retrieved.
    if not done.cancelled():
        done.exception()
