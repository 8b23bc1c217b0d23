"""``ledger backfill --user NAME PLATFORM [--since ISO] [--until ISO] [--dry-run]``: pull
what the store's API shows changed and record what its webhooks missed (service/backfill/).

Exit 0 when the run ended; 2 when the store refused the credentials (one line naming which
to check); 1 when its API could not be read, or when another run of the same connection (the
schedule's, "Backfill now", another ``ledger backfill``) holds its lock
(service/backfill/lock.py). A run stopped midway resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.accounts import users
from service.accounts.connections import StoreConnection, get_connection, record_run
from service.accounts.key_guard import checked_key
from service.accounts.keyring import Keyring
from service.backfill.lock import try_lock, unlock
from service.backfill.run import WindowError, backfill
from service.backfill.source import CredentialsRejected, SourceError
from service.cli.common import Command, CommandError, say
from service.http.pull import open_source
from service.settings import Settings
from service.store.db import create_pool
from service.store.eventstore import EventStore

PLATFORMS = ("woocommerce", "shopify")
# The expected failures ``ledger`` reports in one line, exit 2.
EXPECTED: tuple[type[Exception], ...] = (WindowError,)
RUNNING_ELSEWHERE = "a backfill of this connection is running elsewhere"


async def cmd_backfill(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    pool = await create_pool(settings.database_url, 4)
    try:
        connection = await _connection(pool, args, settings)
        async with pool.acquire() as held:
            if not await try_lock(held, connection.user_id, connection.platform):
                sys.stderr.write(f"ledger: {RUNNING_ELSEWHERE}\n")
                return 1
            try:
                return await _locked(pool, store, settings, connection, args)
            finally:
                await unlock(held, connection.user_id, connection.platform)
    finally:
        await pool.close()


async def _locked(
    pool: asyncpg.Pool,
    store: EventStore,
    settings: Settings,
    connection: StoreConnection,
    args: argparse.Namespace,
) -> int:
    """The run, under the connection's lock; its outcome recorded on the connection."""
    try:
        async with open_source(connection, settings) as source:
            summary = await backfill(
                *(pool, store, settings, connection, source),
                since=args.since,
                until=args.until,
                dry_run=args.dry_run,
                progress=say,
            )
    except SourceError as err:
        line = " ".join(str(err).split()) or type(err).__name__
        await _record(pool, connection, args, None, line)
        sys.stderr.write(f"ledger: {line}\n")
        return 2 if isinstance(err, CredentialsRejected) else 1
    say(*summary.lines())
    await _record(pool, connection, args, summary.high_water, None)
    return 0


async def _connection(
    pool: asyncpg.Pool, args: argparse.Namespace, settings: Settings
) -> StoreConnection:
    async with pool.acquire() as conn:
        user_id = await users.user_id_by_name(conn, args.user)
        keyring = Keyring(await checked_key(conn, settings))
        found = await get_connection(conn, user_id, args.platform, keyring)
    if found is None:
        raise CommandError(
            f"{args.user} has no {args.platform} store connection (ledger connect --user"
            f" {args.user} {args.platform} ...)"
        )
    return found


async def _record(
    pool: asyncpg.Pool,
    connection: StoreConnection,
    args: argparse.Namespace,
    high_water: datetime | None,
    error: str | None,
) -> None:
    """The run's outcome on the connection; a dry run changes nothing, this neither."""
    if args.dry_run:
        return
    async with pool.acquire() as conn:
        await record_run(
            conn,
            connection.user_id,
            connection.platform,
            high_water=high_water,
            error=error,
            since=args.since,
        )


def _instant(value: str) -> datetime:
    """An ISO 8601 time; without an offset, UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {value[:40]} (e.g. 2026-12-01T08:00:00Z)"
        ) from None
    return when if when.utcoffset() is not None else when.replace(tzinfo=UTC)


def register(top: Any) -> dict[tuple[str, str], Command]:
    run = top.add_parser("backfill", help="pull what a store's webhooks missed")
    run.set_defaults(command="run")
    run.add_argument("--user", required=True)
    run.add_argument("platform", choices=PLATFORMS)
    run.add_argument("--since", type=_instant, help="default: the last run's high-water - 10 min")
    run.add_argument("--until", type=_instant)
    run.add_argument("--dry-run", action="store_true", help="say what would change, append nothing")
    return {("backfill", "run"): cmd_backfill}
