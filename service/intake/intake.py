"""Webhook intake: authenticate, record, and keep deliveries safe when they cannot be recorded.

WooCommerce never retries a failed delivery, so a 503 would lose the order. Two states keep a
delivery in the durable local spool (fsynced before we answer 202) instead of the ledger:

- **The database cannot be reached** (a failure to connect, a connection lost): the token is
  checked against an in-memory copy of the token hashes, and the delivery is ``spooled``.
  Until the spool has been replayed, later deliveries are spooled behind it, so the ledger
  sees them in the order they arrived.
- **Overload**: a delivery that arrives while ``LEDGER_MAX_IN_FLIGHT`` others are being
  recorded, or that cannot be recorded within ``LEDGER_ANSWER_DEADLINE_MS`` (waiting for a
  pooled connection, or for the database under load), is ``queued`` in the spool and
  answered at once; the attempt is called off (an append already sent commits or
  not as one, and a second recording of the same delivery is a duplicate). Overload is not
  an outage: later deliveries are recorded directly, not queued behind it, so no delivery
  waits longer than the deadline while the spool has room.

A background task replays the spool as soon as it can, each order's and product's deliveries
in arrival order (service/intake/replay.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from service.accounts import users
from service.accounts.directory import Directory
from service.accounts.keyring import Keyring
from service.intake.delivery import SpooledDelivery
from service.intake.delivery_log import DeliveryLog
from service.intake.delivery_rows import SPOOL, log_row
from service.intake.errors import IntakeFullError, UnknownTokenError
from service.intake.ingest import PING, QUEUED, SPOOLED, Answer, Ingestor
from service.intake.keeping import pg_stores
from service.intake.replay import replay
from service.intake.spool import Spool, SpoolFull
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.db import DatabaseUnavailableError, PoolBusyError, connection
from service.store.eventstore import EventStore
from service.store.group_commit import GroupCommitter

log = logging.getLogger(__name__)

# Spool appends in flight at once, each a thread blocked in fsync.
SPOOL_WRITERS = 32

# Anything else cannot be a token we issued: refuse it without asking the database.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def pg_ingestor(
    pool: asyncpg.Pool,
    store: EventStore,
    settings: Settings,
    directory: Directory | None = None,
    committer: GroupCommitter | None = None,
) -> Ingestor:
    """The ingestor on the real database, with the settings' limits."""
    limits = (settings.inbox_max_per_user, settings.inbox_signature_failures)
    if directory is None:
        directory = Directory(Keyring.from_settings(settings))
    stores = pg_stores(pool, store, limits, directory, committer)
    return Ingestor(stores, max_lines=settings.max_lines)


class LoopLag:
    """How late the event loop runs a timer: how long a request waits, once it has arrived,
    before its handler runs. Rises at once, decays over about a second.

    At twice the capacity the loop is saturated before any handler can decide to queue: the
    requests wait to be read. This is the measure that sees it coming.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lag = 0.0

    def note(self, late: float) -> None:
        self.lag = max(late, self.lag * 0.8 + late * 0.2)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.note(max(loop.time() - start - self.interval, 0.0))


class Intake:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ingestor: Ingestor,
        spool: Spool,
        settings: Settings,
        runner: ProjectionRunner | None = None,
        directory: Directory | None = None,
        deliveries: DeliveryLog | None = None,
    ) -> None:
        self.pool = pool
        self.ingestor = ingestor
        self.spool = spool
        self.settings = settings
        self.runner = runner
        self.directory = (
            directory if directory is not None else Directory(Keyring.from_settings(settings))
        )
        self.deliveries = deliveries  # the delivery log: the spool's replays write to it
        self.cache = users.TokenCache(settings.token_cache_file, spool.database)
        self.cache.load()
        self._drain_lock = asyncio.Lock()
        self._spooled = asyncio.Event()
        # Whether new deliveries go behind the spool: what a previous run left may have been
        # spooled during an outage, so it is replayed first.
        self._behind_spool = not spool.is_empty()
        self.in_flight = 0  # deliveries being recorded now (bounded: LEDGER_MAX_IN_FLIGHT)
        self.loop_lag = LoopLag()
        # Spool writes wait on the disk, not the CPU: under overload many run at once (see
        # Spool.append), more than asyncio's default executor would allow.
        self._writers = ThreadPoolExecutor(max_workers=SPOOL_WRITERS, thread_name_prefix="spool")

    async def receive(
        self, token: str, platform: str, kind: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        """What became of a delivery, the delivery itself attached (for the delivery log)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.answer_deadline
        user_id, state = await self._authenticate(token)
        if user_id is None:
            raise UnknownTokenError()
        delivery = SpooledDelivery(
            user_id=user_id,
            platform=platform,
            kind=kind,
            headers=dict(headers),
            body=body,
            received_at=datetime.now(UTC),
        )
        return replace(await self._receive(delivery, state, deadline), delivery=delivery)

    async def _receive(self, delivery: SpooledDelivery, state: str, deadline: float) -> Answer:
        loop = asyncio.get_running_loop()
        if state == "down" or self._behind_spool:
            return await self._spool(delivery, SPOOLED)
        if state == "busy" or self.overloaded():
            # More deliveries are being recorded than the process can finish in time: this
            # one is kept and answered now instead of waiting its turn past the deadline.
            return await self._spool(delivery, QUEUED)
        self.in_flight += 1
        attempt = asyncio.ensure_future(self.ingestor.ingest(delivery))
        try:
            return await asyncio.wait_for(attempt, max(deadline - loop.time(), 0))
        except DatabaseUnavailableError:
            return await self._spool(delivery, SPOOLED)
        except (TimeoutError, PoolBusyError):
            return await self._spool(delivery, QUEUED)
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        """Wait for spool writes in progress (each a delivery already being answered)."""
        self._writers.shutdown(wait=True)

    def overloaded(self) -> bool:
        """Too many deliveries being recorded, or the event loop running late."""
        return (
            self.in_flight >= self.settings.max_in_flight
            or self.loop_lag.lag > self.settings.max_loop_lag
        )

    async def _authenticate(self, token: str) -> tuple[UUID | None, str]:
        """The token's user, and the database's state: up, down or busy (a pooled
        connection could not be had within the answer's deadline)."""
        if not _TOKEN_SHAPE.fullmatch(token):
            return None, "up"
        known = self.directory.known_user(token)
        if known is not None:
            return known, "up"  # no connection needed
        try:
            user_id = await asyncio.wait_for(self._read_token(token), self.settings.answer_deadline)
        except (TimeoutError, PoolBusyError):
            # Busy, not down: the copy on disk answers, and the delivery is queued.
            return self.cache.user_for_token(token), "busy"
        except DatabaseUnavailableError:
            return self.cache.user_for_token(token), "down"
        if user_id is not None:
            self.cache.remember(token, user_id)
        return user_id, "up"

    async def _read_token(self, token: str) -> UUID | None:
        async with connection(self.pool) as conn:
            return await self.directory.user_for_token(conn, token)

    async def _spool(self, delivery: SpooledDelivery, kept: Answer) -> Answer:
        # WooCommerce counts only an exact 200 as a successful ping, whatever our state.
        answer = PING if delivery.kind == "ping" else kept
        loop = asyncio.get_running_loop()
        try:
            entry_id = await loop.run_in_executor(self._writers, self.spool.append, delivery)
        except SpoolFull:
            if answer is PING:
                log.warning("database unavailable and spool full: a ping was not recorded")
                return answer
            raise IntakeFullError(delivery) from None
        self._spooled.set()
        if kept is SPOOLED:
            self._behind_spool = True
            log.warning("database unavailable: delivery spooled as %s", entry_id)
        else:
            log.warning("overloaded: delivery queued as %s", entry_id)
        return answer

    async def drain_spool(self) -> int:
        """Record spooled deliveries in order until the spool is empty or the database fails."""
        done = 0
        async with self._drain_lock:
            # Until a pass finds nothing left: deliveries spooled while it ran are behind it.
            while entries := await asyncio.to_thread(self.spool.pending):
                replayed = await self._replay(entries)
                done += replayed
                if replayed < len(entries):
                    break
            else:
                self._behind_spool = False
        if done:
            log.info("replayed %d spooled deliveries", done)
            if self.runner is not None:
                self.runner.wake()
        return done

    async def _replay(self, entries: list[str]) -> int:
        """Record these entries, each aggregate's in order (service/intake/replay.py); how
        many are done (fewer: the database failed)."""

        async def read(entry_id: str) -> SpooledDelivery:
            return await asyncio.to_thread(self.spool.read, entry_id)

        async def remove(entry_id: str) -> None:
            await asyncio.to_thread(self.spool.remove, entry_id)

        return await replay(entries, read, self._ingest_logged, remove, self._calm)

    async def _ingest_logged(self, d: SpooledDelivery) -> Answer:
        """Record a spooled delivery; its log row (a second one: the first said spooled or
        queued) says what became of it. A ping's says nothing new, so it has none."""
        started = asyncio.get_running_loop().time()
        answer = await self.ingestor.ingest(d)
        if self.deliveries is not None and d.kind != "ping":
            took = (asyncio.get_running_loop().time() - started) * 1000
            row = log_row(d, answer, endpoint=d.kind, status=None, duration_ms=took, via=SPOOL)
            self.deliveries.add(row)
        return answer

    async def _calm(self) -> None:
        """Wait while overloaded: replaying now would only add to it; new deliveries come
        first. (The lag is a measurement, not an event: it is looked at each interval.)"""
        while self.loop_lag.lag > self.settings.max_loop_lag:  # noqa: ASYNC110
            await asyncio.sleep(self.loop_lag.interval)

    async def run_spool_replayer(self) -> None:
        while True:
            if not self.spool.is_empty():
                try:
                    await self.drain_spool()
                except Exception:
                    # A bug, not an outage: the entry stays spooled (and later deliveries
                    # queue behind it) until a fixed version replays it. Nothing is lost.
                    log.exception("replaying the spool failed; retrying")
                    await asyncio.sleep(self.settings.spool_retry_interval * 10)
            self._spooled.clear()
            try:
                await asyncio.wait_for(self._spooled.wait(), self.settings.spool_retry_interval)
            except TimeoutError:
                pass

    async def refresh_token_cache(self) -> None:
        try:
            async with connection(self.pool) as conn:
                self.cache.replace(await users.token_hashes(conn))
        except (DatabaseUnavailableError, PoolBusyError):
            log.debug("token cache kept: database unavailable or busy")

    async def run_token_cache_refresher(self) -> None:
        while True:
            try:
                await self.refresh_token_cache()
            except Exception:
                log.exception("refreshing the token cache failed; keeping the old copy")
            await asyncio.sleep(self.settings.token_cache_refresh)
