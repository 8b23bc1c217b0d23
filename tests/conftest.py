"""Shared fixtures: one fresh PostgreSQL database per test run, and the app over HTTP.

``DATABASE_URL`` names the server (``./scripts/test`` sets it); the run creates its own
uniquely named database there and drops it at the end. Tests isolate themselves by creating
their own users, since every row the ledger keeps belongs to one user.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from service.http.access_log import RedactingAccessLogger
from service.http.app import create_app
from service.logs import SecretFilter
from service.settings import DEFAULT_DATABASE_URL, Settings
from tests.support import Merchant, create_merchant, migrated_database


def _run_database_url() -> str:
    server = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = f"ledger_test_{os.getpid()}_{secrets.token_hex(4)}"
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


@pytest_asyncio.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with migrated_database(_run_database_url()) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, spool_dir=tmp_path / "spool")


async def start_client(settings: Settings) -> TestClient:
    server = TestServer(create_app(settings))
    # TestServer ignores access_log_class in its constructor; start_server takes it.
    await server.start_server(access_log_class=RedactingAccessLogger)
    client = TestClient(server)
    await client.start_server()
    return client


@pytest_asyncio.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    client = await start_client(settings)
    yield client
    await client.close()


@pytest_asyncio.fixture
async def merchant(pool: asyncpg.Pool) -> Merchant:
    return await create_merchant(pool)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo configure_logging: its handler would outlive the captured stderr it writes to."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    loggers = [logging.getLogger(n) for n in ("aiohttp.access", "aiohttp.server", "asyncio")]
    loggers += [logging.getLogger(n) for n in ("aiohttp.web", "aiohttp.internal")]
    loggers += [logging.getLogger(n) for n in ("aiohttp.client", "aiohttp.websocket")]
    for target in [*handlers, *loggers]:
        for f in [f for f in target.filters if isinstance(f, SecretFilter)]:
            target.removeFilter(f)
