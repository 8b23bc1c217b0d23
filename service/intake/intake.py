"""Webhook intake: authenticate, record, and keep deliveries safe while the database is down.

WooCommerce never retries a failed delivery, so a 503 would lose the order. When the database
cannot be reached, the token is checked against an in-memory copy of the token hashes and the
delivery goes to a durable local spool (fsynced before we answer 202); a background task
replays the spool in arrival order once the database is back. While anything is spooled, new
deliveries queue behind it, so the ledger sees deliveries in the order they arrived.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from service.accounts import users
from service.intake.delivery import SpooledDelivery
from service.intake.errors import IntakeFullError, UnknownTokenError
from service.intake.ingest import PING, SPOOLED, Answer, Ingestor
from service.intake.keeping import pg_stores
from service.intake.spool import CorruptEntry, Spool, SpoolFull
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.db import DatabaseUnavailableError, connection
from service.store.eventstore import EventStore

log = logging.getLogger(__name__)

# Anything else cannot be a token we issued: refuse it without asking the database.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def pg_ingestor(pool: asyncpg.Pool, store: EventStore, settings: Settings) -> Ingestor:
    """The ingestor on the real database, with the settings' limits."""
    stores = pg_stores(pool, store, settings.inbox_max_per_user, settings.inbox_signature_failures)
    return Ingestor(stores, max_lines=settings.max_lines)


class Intake:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ingestor: Ingestor,
        spool: Spool,
        settings: Settings,
        runner: ProjectionRunner | None = None,
    ) -> None:
        self.pool = pool
        self.ingestor = ingestor
        self.spool = spool
        self.settings = settings
        self.runner = runner
        self.cache = users.TokenCache(settings.token_cache_file, spool.database)
        self.cache.load()
        self._drain_lock = asyncio.Lock()
        self._spooled = asyncio.Event()

    async def receive(
        self, token: str, platform: str, kind: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        user_id, database_up = await self._authenticate(token)
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
        if not database_up or not self.spool.is_empty():
            return await self._spool(delivery)
        try:
            answer = await self.ingestor.ingest(delivery)
        except DatabaseUnavailableError:
            return await self._spool(delivery)
        if answer.notification_id is not None and self.runner is not None:
            await self.runner.wait_for(
                answer.notification_id, self.settings.read_your_writes_timeout
            )
        return answer

    async def _authenticate(self, token: str) -> tuple[UUID | None, bool]:
        if not _TOKEN_SHAPE.fullmatch(token):
            return None, True
        try:
            async with connection(self.pool) as conn:
                user_id = await users.user_for_token(conn, token)
        except DatabaseUnavailableError:
            return self.cache.user_for_token(token), False
        if user_id is not None:
            self.cache.remember(token, user_id)
        return user_id, True

    async def _spool(self, delivery: SpooledDelivery) -> Answer:
        # WooCommerce counts only an exact 200 as a successful ping, whatever our state.
        answer = PING if delivery.kind == "ping" else SPOOLED
        try:
            entry_id = await asyncio.to_thread(self.spool.append, delivery)
        except SpoolFull:
            if answer is PING:
                log.warning("database unavailable and spool full: a ping was not recorded")
                return answer
            raise IntakeFullError() from None
        self._spooled.set()
        log.warning("database unavailable: delivery spooled as %s", entry_id)
        return answer

    async def drain_spool(self) -> int:
        """Record spooled deliveries in order until the spool is empty or the database fails."""
        done = 0
        async with self._drain_lock:
            for entry_id in await asyncio.to_thread(self.spool.pending):
                try:
                    delivery = await asyncio.to_thread(self.spool.read, entry_id)
                except CorruptEntry:
                    continue
                try:
                    await self.ingestor.ingest(delivery)
                except DatabaseUnavailableError:
                    break
                await asyncio.to_thread(self.spool.remove, entry_id)
                done += 1
        if done:
            log.info("replayed %d spooled deliveries", done)
            if self.runner is not None:
                self.runner.wake()
        return done

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
        except DatabaseUnavailableError:
            log.debug("token cache kept: database unavailable")

    async def run_token_cache_refresher(self) -> None:
        while True:
            try:
                await self.refresh_token_cache()
            except Exception:
                log.exception("refreshing the token cache failed; keeping the old copy")
            await asyncio.sleep(self.settings.token_cache_refresh)
