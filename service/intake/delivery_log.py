"""The delivery log's writer: one row per delivery, queued in process, inserted in batches.

A webhook's answer must not wait for its log row (issue #11 cut a new order's request path
to two round trips), so rows are queued here and a background task copies them in batches
(one COPY per batch: every ``FLUSH_INTERVAL`` or ``BATCH`` rows, whichever comes first) on
a connection of its own. While the database is away the rows wait in memory, at most
``MAX_WAITING`` of them; beyond, new rows are dropped, counted, and the count logged. A
process killed inside the flush window loses those rows, never the events or raw bodies:
they were committed (or spooled) before the answer, the log row is written after it.

Rows are built from what the intake knows (service/intake/delivery_rows.py); the table and
its retention are in migrations/0008_deliveries.sql, the queries in service/audit/deliveries.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from service.store.db import is_unavailable

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05  # seconds a row waits at most for its batch (the database up)
BATCH = 256  # rows per COPY at most; a full batch is flushed at once
MAX_WAITING = 100_000  # rows held while the database is away; beyond, new ones are dropped
RETRY_INTERVAL = 1.0  # seconds between attempts while the database is away
CLOSE_TIMEOUT = 5.0  # seconds a shutdown waits for the last rows to be written

COLUMNS = (
    "user_id",
    "received_at",
    "platform",
    "endpoint",
    "via",
    "topic",
    "delivery_id",
    "event_id",
    "webhook_id",
    "triggered_at",
    "store",
    "body_sha256",
    "body_size",
    "verification",
    "outcome",
    "reason",
    "status",
    "duration_ms",
    "sale_id",
    "product_ref",
    "external_id",
    "inbox_id",
    "positions",
)

Row = tuple[Any, ...]
# What refuses one row: the table (a constraint), or the driver before it is sent (a value
# it cannot encode, such as text that is not UTF-8).
_REFUSED = (asyncpg.PostgresError, asyncpg.DataError, UnicodeError)
Connect = Callable[[], Awaitable[asyncpg.Connection]]


async def insert_rows(conn: asyncpg.Connection, rows: list[Row]) -> None:
    """Insert log rows in one COPY (a row that breaks a constraint fails them all)."""
    await conn.copy_records_to_table("deliveries", records=rows, columns=COLUMNS)


class DeliveryLog:
    def __init__(
        self,
        connect: Connect,
        *,
        batch: int = BATCH,
        interval: float = FLUSH_INTERVAL,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._connect = connect
        self.batch = batch
        self.interval = interval
        self.max_waiting = max_waiting
        self._waiting: deque[Row] = deque()
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self._conn: asyncpg.Connection | None = None
        self.written = 0  # rows inserted since start
        self.dropped = 0  # rows dropped since start: the memory bound, or a row refused
        self._dropped_reported = 0
        self._away = False  # the database was away at the last attempt

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, row: Row) -> None:
        """Queue a row; never waits, never fails (a row beyond the bound is counted)."""
        if len(self._waiting) >= self.max_waiting:
            self.dropped += 1
            return
        self._waiting.append(row)
        if len(self._waiting) >= self.batch:
            self._full.set()

    async def run(self) -> None:
        """Flush every interval, or at once when a batch is full, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.interval)
            self._full.clear()
            try:
                written = await self.flush()
            except Exception:
                # A bug, not an outage: the rows keep waiting (within their bound) and the
                # writer goes on; the webhooks' answers never depended on it.
                log.exception("delivery log: writing rows failed; retrying")
                written = False
            self._report_dropped()
            if not written:
                await asyncio.sleep(RETRY_INTERVAL)

    async def flush(self) -> bool:
        """Insert every waiting row; False when the database is away (they keep waiting)."""
        async with self._lock:
            while self._waiting:
                rows = [self._waiting[i] for i in range(min(self.batch, len(self._waiting)))]
                done, up = await self._insert(rows)
                for _ in range(done):
                    self._waiting.popleft()
                if not up:
                    return False
        return True

    async def close(self) -> None:
        """Flush what waits (within CLOSE_TIMEOUT), then close the connection; what could
        not be written is logged as a count."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), CLOSE_TIMEOUT)
        if self._waiting:
            self.dropped += len(self._waiting)
            self._waiting.clear()
        self._report_dropped()
        await self._drop_connection()

    async def _insert(self, rows: list[Row]) -> tuple[int, bool]:
        """Insert these leading rows: how many are done with (written, or refused and
        dropped), and whether the database is up."""
        done = 0
        try:
            conn = await self._connection()
            try:
                await insert_rows(conn, rows)
                done = len(rows)
                self.written += done
            except _REFUSED as exc:
                if is_unavailable(exc):
                    raise
                # A row the table (or the driver) refuses must not hold back the others.
                for row in rows:
                    await self._insert_one(conn, row)
                    done += 1
        except asyncio.CancelledError:
            await self._drop_connection()  # mid-COPY: the connection's state is unknown
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            await self._drop_connection()
            if not self._away:
                log.warning("delivery log: database unavailable; %d rows wait", len(self))
            self._away = True
            return done, False
        if self._away:
            log.info("delivery log: database back; writing %d waiting rows", len(self))
            self._away = False
        return done, True

    async def _insert_one(self, conn: asyncpg.Connection, row: Row) -> None:
        try:
            await insert_rows(conn, [row])
            self.written += 1
        except _REFUSED as exc:
            if is_unavailable(exc):
                raise
            self.dropped += 1
            # The error's class only: its message could quote a value of the row.
            log.error("delivery log: a row was refused (%s) and dropped", type(exc).__name__)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _report_dropped(self) -> None:
        if self.dropped > self._dropped_reported:
            log.warning(
                "delivery log: %d rows dropped (%d since start): the log is incomplete",
                self.dropped - self._dropped_reported,
                self.dropped,
            )
            self._dropped_reported = self.dropped
