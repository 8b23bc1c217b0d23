"""Store API connections: where each user's store answers, the credential it takes (sealed
with the server key at rest, keyring.py), and how its backfill runs have gone.

One per user and platform (store_connections, migrations/0010_store_connections.sql). The
credential is opened only for the code that calls the store (``get_connection``,
``list_connections``); what is shown to people (``connection_status``) never carries it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from service.accounts import users
from service.accounts.keyring import Keyring
from service.accounts.secrets import check_platform
from service.adapters.pulling import key_prefix

MAX_ERROR_CHARS = 500
# A run's default window starts this long before the high-water mark, for changes the store
# saved late within the same seconds (service/backfill/run.py); a window starting later than
# that leaves a gap, so its run does not move the mark.
OVERLAP = timedelta(minutes=10)

_COLUMNS = (
    "user_id, platform, base_url, key_sealed, secret_sealed, high_water, last_run_at, last_error,"
    " failures"
)


@dataclass(frozen=True)
class StoreConnection:
    user_id: UUID
    platform: str  # "woocommerce" | "shopify"
    # WooCommerce: the store's URL as given; Shopify: "https://{shop}.myshopify.com"
    base_url: str
    key: str | None = field(repr=False)  # WooCommerce consumer key, decrypted; None: Shopify
    secret: str = field(repr=False)  # consumer secret / Admin API access token, decrypted
    high_water: datetime | None  # the last successful run's high-water mark (UTC)
    last_run_at: datetime | None
    last_error: str | None  # one line, never a secret
    failures: int  # consecutive failed runs


@dataclass(frozen=True)
class ConnectionStatus:
    """A connection as people see it: no credential, a few characters of the key at most."""

    platform: str
    base_url: str
    key_prefix: str | None
    created_at: datetime
    high_water: datetime | None
    last_run_at: datetime | None
    last_error: str | None
    failures: int


def _connection(row: Any, keyring: Keyring) -> StoreConnection:
    return StoreConnection(
        user_id=row["user_id"],
        platform=row["platform"],
        base_url=row["base_url"],
        key=None if row["key_sealed"] is None else keyring.open(row["key_sealed"]),
        secret=keyring.open(row["secret_sealed"]),
        high_water=row["high_water"],
        last_run_at=row["last_run_at"],
        last_error=row["last_error"],
        failures=row["failures"],
    )


async def connect_store(
    conn: asyncpg.Connection,
    name: str,
    platform: str,
    base_url: str,
    key: str | None,
    secret: str,
    keyring: Keyring,
) -> None:
    """Keep (or replace) the user's connection to its store on ``platform``. The values
    must already have their shapes (store_urls.py). Replacing one keeps its high-water
    mark only while it still points at the same store, and starts its failures afresh."""
    check_platform(platform)
    assert (key is None) == (platform == "shopify"), "a consumer key is WooCommerce's"
    user_id = await users.user_id_by_name(conn, name)
    await conn.execute(
        "INSERT INTO store_connections AS c"
        " (user_id, platform, base_url, key_sealed, key_prefix, secret_sealed)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (user_id, platform) DO UPDATE SET"
        "  high_water = CASE WHEN c.base_url = excluded.base_url THEN c.high_water END,"
        "  base_url = excluded.base_url, key_sealed = excluded.key_sealed,"
        "  key_prefix = excluded.key_prefix,"
        "  secret_sealed = excluded.secret_sealed, failures = 0, last_error = NULL",
        user_id,
        platform,
        base_url,
        None if key is None else keyring.seal(key),
        key_prefix(key) if key is not None else None,
        keyring.seal(secret),
    )


async def disconnect_store(conn: asyncpg.Connection, name: str, platform: str) -> bool:
    """Forget the connection (and its credential); False when there was none."""
    check_platform(platform)
    user_id = await users.user_id_by_name(conn, name)
    status = await conn.execute(
        "DELETE FROM store_connections WHERE user_id = $1 AND platform = $2", user_id, platform
    )
    return bool(status != "DELETE 0")


async def get_connection(
    conn: asyncpg.Connection, user_id: UUID, platform: str, keyring: Keyring
) -> StoreConnection | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM store_connections"  # noqa: S608 (a constant)
        " WHERE user_id = $1 AND platform = $2",
        user_id,
        platform,
    )
    return None if row is None else _connection(row, keyring)


async def list_connections(conn: asyncpg.Connection, keyring: Keyring) -> list[StoreConnection]:
    """Every user's connections, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM store_connections ORDER BY created_at, user_id, platform"  # noqa: S608
    )
    return [_connection(row, keyring) for row in rows]


async def connection_status(conn: asyncpg.Connection, user_id: UUID) -> dict[str, ConnectionStatus]:
    """The user's connections by platform, as they may be shown."""
    rows = await conn.fetch(
        "SELECT platform, base_url, key_prefix, created_at, high_water, last_run_at, last_error,"
        " failures FROM store_connections WHERE user_id = $1",
        user_id,
    )
    return {
        r["platform"]: ConnectionStatus(
            platform=r["platform"],
            base_url=r["base_url"],
            key_prefix=r["key_prefix"],
            created_at=r["created_at"],
            high_water=r["high_water"],
            last_run_at=r["last_run_at"],
            last_error=r["last_error"],
            failures=r["failures"],
        )
        for r in rows
    }


def one_line(error: str) -> str:
    """An error as kept: its first line, bounded."""
    lines = error.strip().splitlines() or [""]
    return lines[0][:MAX_ERROR_CHARS]


async def record_run(
    conn: asyncpg.Connection,
    user_id: UUID,
    platform: str,
    *,
    high_water: datetime | None,
    error: str | None,
    since: datetime | None = None,
) -> None:
    """A run's outcome. Success (``error`` None): the high-water mark moves forward to
    ``high_water`` (None: nothing was seen), never back, and not at all when the run's window
    started (``since``, None: the default window) after the mark less OVERLAP, which would
    skip the time between; failures go back to 0. Failure: failures + 1, ``error`` (one line,
    never a secret: the caller's duty) kept."""
    if error is None:
        await conn.execute(
            "UPDATE store_connections SET last_run_at = now(), failures = 0, last_error = NULL,"
            " high_water = CASE"
            "  WHEN high_water IS NULL THEN $3"
            "  WHEN $4::timestamptz > high_water - $5::interval THEN high_water"
            "  ELSE greatest(high_water, $3) END"
            " WHERE user_id = $1 AND platform = $2",
            user_id,
            platform,
            high_water,
            since,
            OVERLAP,
        )
        return
    await conn.execute(
        "UPDATE store_connections SET last_run_at = now(), failures = failures + 1,"
        " last_error = $3 WHERE user_id = $1 AND platform = $2",
        user_id,
        platform,
        one_line(error) or "failed",
    )


async def due_connections(conn: asyncpg.Connection, interval: timedelta) -> list[tuple[UUID, str]]:
    """The connections whose last run is at least ``interval`` old (or that never ran),
    longest waiting first: what a scheduled round runs."""
    rows = await conn.fetch(
        "SELECT user_id, platform FROM store_connections"
        " WHERE last_run_at IS NULL OR last_run_at <= now() - $1::interval"
        " ORDER BY last_run_at NULLS FIRST, created_at",
        interval,
    )
    return [(r["user_id"], r["platform"]) for r in rows]
