"""Shared fixtures: one fresh PostgreSQL database per test run, and the app over HTTP.

The suite is in three tiers: ``tests/unit`` (pure: no database, no process; run alone by
``./scripts/test --unit``), ``tests/integration`` (a real PostgreSQL, in process) and
``tests/e2e`` (the service over HTTP, the ``ledger`` command as a process).

``DATABASE_URL`` names the server (``./scripts/test`` sets it); the first test that asks for
the database creates its own uniquely named one there, and the run drops it at the end. Tests
isolate themselves by creating their own users, since every row the ledger keeps belongs to
one user.
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
from aiohttp.test_utils import TestClient

from service.logs import SecretFilter
from service.settings import DEFAULT_DATABASE_URL, Settings
from tests.builders import FIXTURES
from tests.support import Merchant, create_merchant, migrated_database, start_client


def pytest_configure(config: pytest.Config) -> None:
    """The fixtures are third-party data kept outside the repository: without them, stop at
    once with one line saying where they must be (not a traceback per module)."""
    if not (FIXTURES / "woocommerce").is_dir() or not (FIXTURES / "shopify").is_dir():
        pytest.exit(
            f"the test fixtures must be at {FIXTURES} (../shared/fixtures beside this"
            " checkout, with woocommerce/, shopify/ and woocommerce-live/)",
            returncode=4,
        )


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
    # The suite's one event loop also runs the tests' own work (fixtures read, Hypothesis,
    # the browser), on a machine other jobs share: a late timer there is not the overload
    # LEDGER_MAX_LOOP_LAG_MS guards against, and must not queue a test's delivery. The tests
    # of that rule set the measured lag themselves. No scheduled backfill either: the
    # connections the suite makes point at its own stand-ins (its tests run rounds themselves).
    return Settings(
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        max_loop_lag=30.0,
        backfill_interval=0,
    )


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
