"""Connections and database creation; the schema's migrations are in migrate.py."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)


class DatabaseUnavailableError(Exception):
    """The database cannot be reached right now."""


class PoolBusyError(Exception):
    """Every pooled connection stayed in use for the whole wait: back-pressure, not an
    outage (the database answers; it is the service that has more work than connections)."""


# What asyncpg and the OS raise when the server is down, restarting or unreachable.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    DatabaseUnavailableError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unreachable, rather than a bug or bad data."""
    if isinstance(exc, UNAVAILABLE):
        return True
    # A connection the server dropped is reported as "connection is closed" on next use.
    return isinstance(exc, asyncpg.exceptions.InterfaceError) and "closed" in str(exc)


def mask_url(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    return name or "postgres"


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def database_identity(url: str, env: Mapping[str, str] | None = None) -> str:
    """Which database a URL names, whoever connects: ``host:port/name``, no user, no
    password. What the spool and the token cache are kept for, so that a service of another
    database sharing the folder never replays or trusts them. The host and port come from
    the URL, its ``host``/``port`` query parameters or ``PGHOST``/``PGPORT``, as libpq takes
    them; every spelling of this machine is one host."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or [""])[0] or env.get("PGHOST") or "localhost"
    port = parts.port or (query.get("port") or [""])[0] or env.get("PGPORT") or 5432
    host = "localhost" if host.lower() in _LOOPBACK else host.lower()
    return f"{host}:{port}/{database_name(url)}"


async def ensure_database(url: str) -> bool:
    """Create the URL's database if it does not exist; True when it was created."""
    name = database_name(url)
    conn = await asyncpg.connect(_with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.exceptions.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    conn = await asyncpg.connect(_with_database(url, "postgres"))
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


# Called on each new pooled connection (tests and scripts/bench_ingest.py count queries
# with it).
PoolInit = Callable[[asyncpg.Connection], Awaitable[None]]


async def create_pool(
    url: str,
    max_size: int = 10,
    init: PoolInit | None = None,
) -> asyncpg.Pool:
    """The service's pool; ``init`` runs on each new connection (tests and the benchmark
    count statements with it)."""
    # min_size=0: the service starts and spools even when the database is down.
    pool = await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=max_size,
        command_timeout=30,
        timeout=5,
        reset=_keep_session,
        init=init,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a pooled connection without asyncpg's reset query (a round trip per release).

    Safe because no pooled connection ever changes its session: what does (advisory locks,
    LISTEN, session settings) runs on connections of its own (the projection runner, the
    migrations, the account listener), and settings are SET LOCAL. asyncpg still rolls back
    a transaction left open before calling this.
    """


ACQUIRE_TIMEOUT = 5.0


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[Any]:
    """A pooled connection. An unreachable database raises DatabaseUnavailableError; a
    pool whose every connection stays in use for ACQUIRE_TIMEOUT raises PoolBusyError."""
    try:
        conn = await pool.acquire(timeout=ACQUIRE_TIMEOUT)
    except TimeoutError:
        if pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0:
            raise PoolBusyError() from None
        raise DatabaseUnavailableError("TimeoutError") from None
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError(type(exc).__name__) from exc
        raise
    try:
        yield conn
    except DatabaseUnavailableError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailableError(type(exc).__name__) from exc
        raise
    finally:
        try:
            await pool.release(conn)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.debug("released a broken connection")
