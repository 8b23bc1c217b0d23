"""The aiohttp application factory. Every resource is opened and closed by a cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import asyncpg
from aiohttp import web

from projections.registry import all_projections
from service.accounts.at_rest import seal_at_rest
from service.accounts.directory import Directory
from service.accounts.key_guard import checked_key
from service.accounts.keyring import Keyring
from service.accounts.sealing import TokenSealer, server_key
from service.audit.deliveries import run_pruning
from service.http import audit_api, deliveries_api, metrics_api, openapi, query_api, webhooks
from service.http.backfill_schedule import BackfillSchedule
from service.http.console.app import setup_console
from service.http.errors import error_middleware, error_response
from service.http.keys import (
    BACKFILL_SCHEDULE,
    DELIVERY_LOG,
    DELIVERY_OBSERVERS,
    INTAKE,
    KEYRING,
    METRICS,
    POOL,
    POOL_INIT,
    RUNNER,
    SETTINGS,
    STORE,
    TOKEN_SEALER,
)
from service.intake.delivery_log import DeliveryLog
from service.intake.intake import Intake, pg_ingestor
from service.intake.observed import Observer, log_delivery
from service.intake.spool import Spool
from service.metrics.series import Metrics
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.db import (
    DatabaseUnavailableError,
    PoolBusyError,
    PoolInit,
    connection,
    create_pool,
    database_identity,
)
from service.store.eventstore import EventStore
from service.store.group_commit import GroupCommitter

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    try:
        async with connection(request.app[POOL]) as conn:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), 2)
    except (DatabaseUnavailableError, TimeoutError):
        return error_response(503, "unavailable", "The database does not answer.")
    except PoolBusyError:
        return error_response(503, "busy", "Every database connection is in use.")
    return web.json_response({"status": "ok"})


async def _pool_ctx(app: web.Application, init: PoolInit | None = None) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await create_pool(settings.database_url, settings.pool_max_size, init)
    app[POOL] = pool
    app[POOL_INIT] = init
    yield
    await pool.close()


async def _keyring_ctx(app: web.Application) -> AsyncIterator[None]:
    """The server key, loaded (var/secret.key made once when missing) at the start, never by
    create_app; checked against the database's (accounts/key_guard.py): another one stops
    the start with ServerKeyChangedError. A database that does not answer yet, or is not
    migrated, cannot tell: the key is used as it is (a secret it cannot open verifies
    nothing, so no delivery gets in unverified)."""
    settings = app[SETTINGS]
    try:
        async with connection(app[POOL]) as conn:
            key = await checked_key(conn, settings)
    except DatabaseUnavailableError:
        log.warning("the database does not answer: the server key is not checked against it")
        key = server_key(settings)
    except asyncpg.UndefinedTableError:
        log.error("the database is not migrated: run ledger db migrate")
        key = server_key(settings)
    app[KEYRING] = Keyring(key)
    app[TOKEN_SEALER] = TokenSealer(key)  # the console's revealable webhook tokens
    yield


async def _delivery_log_ctx(app: web.Application) -> AsyncIterator[None]:
    """The delivery log's writer and its retention; closed after the intake, so the rows of
    the last answers (and of the spool's last replays) are written before it goes."""
    settings = app[SETTINGS]

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(settings.database_url, timeout=5, command_timeout=30)

    deliveries = DeliveryLog(connect)
    app[DELIVERY_LOG] = deliveries
    tasks = [
        _start(deliveries.run()),
        _start(
            run_pruning(
                app[POOL],
                settings.deliveries_max_age,
                settings.deliveries_max_per_user,
                settings.deliveries_prune_interval,
            )
        ),
    ]
    yield
    await _stop(tasks)
    await deliveries.close()


async def _intake_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = app[POOL]
    store = app[STORE]
    runner = None
    if settings.run_projections:
        runner = ProjectionRunner(
            pool,
            store,
            all_projections(),
            settings.database_url,
            settings.projection_poll_interval,
        )
    spool = Spool(
        settings.spool_dir,
        settings.spool_max_entries,
        settings.spool_max_bytes,
        database_identity(settings.database_url),
    )
    spool.lock()  # one service per spool directory: SpoolLocked stops a second one here

    async def connect() -> asyncpg.Connection:
        # command_timeout: a statement that hangs (a half-open connection) fails, as the
        # pool's do, instead of holding every append queued behind it.
        return await asyncpg.connect(settings.database_url, timeout=5, command_timeout=30)

    async def connect_committer() -> asyncpg.Connection:
        # The appends are on the request path: what the pool's connections get, it gets.
        conn = await connect()
        init = app[POOL_INIT]
        if init is not None:
            await init(conn)
        return conn

    directory = Directory(app[KEYRING])
    committer = GroupCommitter(
        connect_committer,
        store,
        max_batch=settings.group_commit_max,
        max_wait=settings.group_commit_wait,
    )
    ingestor = pg_ingestor(pool, store, settings, directory, committer)
    intake = Intake(pool, ingestor, spool, settings, runner, directory, app[DELIVERY_LOG])
    app[RUNNER] = runner
    app[INTAKE] = intake
    await intake.refresh_token_cache()
    tasks = [
        _start(directory.listen(connect)),
        _start(intake.run_spool_replayer()),
        _start(intake.loop_lag.run()),
        _start(intake.run_token_cache_refresher()),
    ]
    if runner is not None:
        tasks.append(_start(runner.run()))
    yield
    await _stop(tasks)
    await committer.close()
    intake.close()
    spool.unlock()


async def _backfill_ctx(app: web.Application) -> AsyncIterator[None]:
    """Seal what is still kept in clear or under the former key (accounts/at_rest.py), then
    the scheduled backfill (LEDGER_BACKFILL_INTERVAL) and "Backfill now"."""
    try:
        async with connection(app[POOL]) as conn:
            sealed = await seal_at_rest(conn, app[SETTINGS])
        if sealed.secrets or sealed.tokens:
            log.info(
                "sealed with the server key: %d signing secret row(s), %d webhook token(s)",
                sealed.secrets,
                sealed.tokens,
            )
    except DatabaseUnavailableError:
        log.warning("the database does not answer: secrets kept in clear are sealed later")
    except (asyncpg.UndefinedColumnError, asyncpg.UndefinedTableError):
        log.error("the database is not migrated: run ledger db migrate")
    schedule = BackfillSchedule(app[POOL], app[STORE], app[SETTINGS], app[KEYRING])
    app[BACKFILL_SCHEDULE] = schedule
    task = _start(schedule.run())
    yield
    await _stop([task])
    await schedule.close()


def _start(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(
    settings: Settings, store: EventStore | None = None, pool_init: PoolInit | None = None
) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=settings.max_body_bytes,
        # Keep bodies exactly as they arrived: a compressed body is stored, not inflated, so
        # what we keep is what the platform signed (and a corrupt one cannot fail to inflate).
        handler_args={"auto_decompress": False},
    )

    app[SETTINGS] = settings
    app[STORE] = store if store is not None else EventStore()
    app[METRICS] = Metrics()
    observers: list[Observer] = [app[METRICS].observe, log_delivery]
    app[DELIVERY_OBSERVERS] = observers
    app.cleanup_ctx.append(functools.partial(_pool_ctx, init=pool_init))
    app.cleanup_ctx.append(_keyring_ctx)
    app.cleanup_ctx.append(_delivery_log_ctx)
    app.cleanup_ctx.append(_intake_ctx)
    app.cleanup_ctx.append(_backfill_ctx)
    app.router.add_get("/healthz", healthz)
    webhooks.add_routes(app)
    query_api.add_routes(app)
    audit_api.add_routes(app)
    metrics_api.add_routes(app)
    openapi.add_routes(app)
    deliveries_api.add_routes(app)
    setup_console(app)
    return app
