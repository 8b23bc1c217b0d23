"""``ledger backfill``: progress and summary, the run recorded on the connection, and its two
failures (credentials refused: exit 2; the API unreadable: exit 1), each one line.

Run in this process (``main`` on a thread of its own), so the store connection and the API
client are stand-ins: the REST answers of the real store (tests/rest_fixtures.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from service.backfill.source import CredentialsRejected, Source, SourceUnavailable
from service.cli import backfill as command
from service.cli import main
from tests.rest_fixtures import FixtureSource, store_connection
from tests.support import create_merchant

SECRET = "cs_stand_in"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, database_url: str) -> list[tuple[Any, ...]]:
    """The connection's recorded runs; the store connection is the merchant's stand-in."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    recorded: list[tuple[Any, ...]] = []

    async def get_connection(conn: Any, user_id: UUID, platform: str, keyring: Any) -> Any:
        return store_connection(user_id) if platform == "woocommerce" else None

    async def record_run(conn: Any, user_id: UUID, platform: str, **outcome: Any) -> None:
        recorded.append((platform, outcome["high_water"], outcome["error"]))

    monkeypatch.setattr(command, "get_connection", get_connection)
    monkeypatch.setattr(command, "record_run", record_run)
    return recorded


def _serving(monkeypatch: pytest.MonkeyPatch, failure: Exception | None = None) -> None:
    @asynccontextmanager
    async def open_source(connection: Any, settings: Any) -> AsyncIterator[Source]:
        if failure is not None:
            raise failure
        yield FixtureSource()

    monkeypatch.setattr(command, "open_source", open_source)


async def _ledger(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_a_backfill_prints_its_progress_and_summary_and_records_the_run(
    pool: asyncpg.Pool,
    runs: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    shop = await create_merchant(pool, "cli")
    _serving(monkeypatch)
    since = ("--since", "2026-11-30T00:00:00")
    assert await _ledger("backfill", "--user", shop.name, "woocommerce", *since, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would record order 31: recorded" in out and runs == []
    assert await _ledger("backfill", "--user", shop.name, "woocommerce", *since) == 0
    out = capsys.readouterr().out
    assert "backfill woocommerce since 2026-11-30T00:00:00+00:00" in out
    assert "orders: page 4, 1 items;" in out and "orders/s" in out
    assert "10 new sales, 0 updated, 0 unchanged, 0 marked deleted, 0 marked trash" in out
    assert runs == [("woocommerce", datetime(2026, 12, 1, 8, 57, 40, tzinfo=UTC), None)]
    assert SECRET not in out


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (CredentialsRejected("the store refused consumer key ck_…d00d: check the key"), 2),
        (SourceUnavailable("the store did not answer after 5 tries (503)"), 1),
    ],
)
async def test_a_failed_backfill_says_why_in_one_line(
    pool: asyncpg.Pool,
    runs: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: Exception,
    code: int,
):
    shop = await create_merchant(pool, "cli")
    _serving(monkeypatch, failure)
    assert await _ledger("backfill", "--user", shop.name, "woocommerce") == code
    err = capsys.readouterr().err
    assert err == f"ledger: {failure}\n"
    assert runs == [("woocommerce", None, str(failure))]


async def test_bad_arguments_and_a_missing_connection_are_one_line(
    pool: asyncpg.Pool, runs: list[tuple[Any, ...]], capsys: pytest.CaptureFixture[str]
):
    shop = await create_merchant(pool, "cli")
    assert await _ledger("backfill", "--user", shop.name, "shopify") == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert await _ledger("backfill", "--user", "nobody-here", "woocommerce") == 2
    assert capsys.readouterr().err.count("\n") == 1
    window = ("--since", "2026-12-01T00:00:00Z", "--until", "2026-11-01T00:00:00Z")
    assert await _ledger("backfill", "--user", shop.name, "woocommerce", *window) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "window ends before it starts" in err, err
    with pytest.raises(SystemExit) as exit_:
        await _ledger("backfill", "--user", shop.name, "woocommerce", "--since", "yesterday")
    assert exit_.value.code == 2
    assert "not an ISO 8601 time: yesterday" in capsys.readouterr().err
