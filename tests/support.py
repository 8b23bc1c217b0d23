"""What the database, HTTP and process tests share: a migrated database, merchants, the app
over HTTP, the ``ledger`` command as a process, and the one ``wait_until``."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from projections.base import Recorded
from projections.registry import all_projections
from service.accounts import users
from service.accounts.connections import StoreConnection
from service.accounts.directory import Directory
from service.accounts.keyring import Keyring
from service.backfill.summary import BackfillSummary
from service.http.access_log import RedactingAccessLogger
from service.http.app import create_app
from service.http.backfill_schedule import BackfillSchedule
from service.intake.ingest import Ingestor
from service.intake.keeping import pg_stores
from service.projecting.rebuild import _differences, build, prepare_database
from service.settings import Settings
from service.store.db import drop_database, ensure_database
from service.store.eventstore import EventStore


async def wait_until(
    condition: Callable[[], Awaitable[bool] | bool],
    within: float = 20.0,
    what: str = "the condition",
) -> None:
    """Wait for observable state (never for a while): poll ``condition`` until it holds,
    failing after ``within`` seconds with ``what`` was not reached."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        held = condition()
        if not isinstance(held, bool):
            held = await held
        if held:
            return
        assert loop.time() < deadline, f"{what} was not reached within {within} s"
        await asyncio.sleep(0.02)


async def projections_caught_up(pool: asyncpg.Pool, within: float = 20.0) -> None:
    """Wait until every projection has applied the whole log. A webhook is answered when
    its events commit, before the projections apply them (the query API waits for its
    caller's writes, service/http/freshness.py): a test reading projection tables itself
    waits here first."""
    names = [p.name for p in all_projections()]

    async def reached() -> bool:
        async with pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT count(*) = cardinality($1::text[]) AND coalesce(min(position)"
                    " >= (SELECT coalesce(max(notification_id), 0) FROM stored_events), false)"
                    " FROM projection_positions WHERE name = ANY($1::text[])",
                    names,
                )
            )

    await wait_until(reached, within, "every projection at the head of the log")


async def start_client(settings: Settings) -> TestClient:
    server = TestServer(create_app(settings))
    # TestServer ignores access_log_class in its constructor; start_server takes it.
    await server.start_server(access_log_class=RedactingAccessLogger)
    client = TestClient(server)
    await client.start_server()
    return client


async def ledger(
    database_url: str, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``ledger ARGS`` as a process against ``database_url``, feeding ``stdin`` if given,
    with ``env`` added to the environment."""
    # No scheduled pulls (a `ledger serve`) of the connections the suite's tests make.
    quiet = {"LEDGER_BACKFILL_INTERVAL": "0"}
    env = {**os.environ, **quiet, **(env or {}), "DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    return proc.returncode or 0, out.decode(), err.decode()


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[str]:
    """A fresh database at ``url`` with every migration applied, dropped afterwards."""
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        await prepare_database(conn)
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await drop_database(url)


def server_keyring() -> Keyring:
    """The server key the suite's services and ``ledger`` commands use (var/secret.key)."""
    return Keyring.from_settings(Settings())


def pg_ingestor(pool: asyncpg.Pool, store: EventStore) -> Ingestor:
    """An ingestor on the real database, with the default limits."""
    directory = Directory(server_keyring())
    return Ingestor(pg_stores(pool, store, (1000, 200), directory), max_lines=5000)


@dataclass(frozen=True)
class Merchant:
    user_id: UUID
    name: str
    token: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def woo_orders(self) -> str:
        return f"/api/webhook/woocommerce/{self.token}"

    def woo_products(self) -> str:
        return f"/api/webhook/woocommerce/{self.token}/producto"

    def shopify_orders(self) -> str:
        return f"/api/webhook/shopify/{self.token}"


async def create_merchant(pool: asyncpg.Pool, prefix: str = "shop") -> Merchant:
    async with pool.acquire() as conn:
        new = await users.create_user(conn, f"{prefix}-{secrets.token_hex(6)}")
    return Merchant(new.user_id, new.name, new.webhook_token, new.api_key)


async def stock_of(client: TestClient, merchant: Merchant, ref: str) -> int | None:
    resp = await client.get(f"/api/stock/{ref}", headers=merchant.auth)
    if resp.status == 404:
        return None
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["quantity"])


async def sales_of(client: TestClient, merchant: Merchant) -> list[dict[str, Any]]:
    resp = await client.get("/api/sales?limit=100", headers=merchant.auth)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def count_events(pool: asyncpg.Pool, originator_id: UUID, topic_suffix: str) -> int:
    async with pool.acquire() as conn:
        value = await conn.fetchval(
            "SELECT count(*) FROM stored_events WHERE originator_id = $1 AND topic LIKE $2",
            originator_id,
            f"%{topic_suffix}",
        )
    return int(value)


def per_event(cls: type) -> Any:
    """The same projection without its bulk loader: ``apply`` overridden, so not trusted."""

    class PerEvent(cls):  # type: ignore[misc, valid-type]
        async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
            await super().apply(conn, batch)

    return PerEvent()


async def bulk_against_per_event(database_url: str, cls: type) -> list[str]:
    """The differences between ``cls`` rebuilt by its bulk loader and event by event."""
    store = EventStore()
    bulk_conn, _, bulk_progress = await build(database_url, store, cls(), "bulk_check_a")
    slow_conn, _, _ = await build(database_url, store, per_event(cls), "bulk_check_b")
    try:
        assert bulk_progress.done > 0
        return await _differences(slow_conn, "bulk_check_a", "bulk_check_b")
    finally:
        for conn, schema in ((bulk_conn, "bulk_check_a"), (slow_conn, "bulk_check_b")):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()


# The high-water mark the stand-in backfill reports.
MARK = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@dataclass
class BackfillStandIn:
    """The store clients and the backfill, as the schedule calls them (the real ones are
    the pullclients and backfill parts' own business): records what it was asked to run."""

    mine: UUID
    calls: list[tuple[UUID, str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None
    failure: BaseException | None = None

    @asynccontextmanager
    async def open_source(
        self, connection: StoreConnection, settings: Settings
    ) -> AsyncIterator[Any]:
        self.opened.append(connection.secret)
        yield object()

    async def backfill(
        self, pool: Any, store: Any, settings: Settings, connection: StoreConnection, source: Any
    ) -> BackfillSummary:
        if connection.user_id != self.mine:
            return _summary(None)  # another test's connection: not this test's business
        self.calls.append((connection.user_id, connection.platform))
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return _summary(MARK)

    def schedule(self, pool: asyncpg.Pool, settings: Settings) -> BackfillSchedule:
        return BackfillSchedule(
            pool, EventStore(), settings, server_keyring(), self.open_source, self.backfill
        )


def _summary(high_water: datetime | None) -> BackfillSummary:
    return BackfillSummary(
        new_sales=0, updated=0, unchanged=0, marked_deleted=0, marked_trash=0,
        products=0, pages=1, high_water=high_water, dry_run=False,
    )  # fmt: skip
