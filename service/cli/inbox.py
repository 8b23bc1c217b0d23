"""``ledger inbox ...``: quarantined deliveries and pings, reprocessed or dismissed."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import asyncpg

from service.accounts import users
from service.cli.common import Command, CommandError, connect, say
from service.intake import inbox
from service.intake.inbox_reprocess import reprocess_entry
from service.intake.intake import pg_ingestor
from service.settings import Settings
from service.store.db import DatabaseUnavailableError, create_pool
from service.store.eventstore import EventStore

log = logging.getLogger(__name__)


async def cmd_inbox_list(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.user)
        entries, _ = await inbox.list_entries(conn, user_id, limit=1000)
    finally:
        await conn.close()
    for e in entries:
        why = f"{e['reason']} {e['field'] or ''}: {e['detail']}" if e["reason"] else ""
        say(
            f"{e['inbox_id']}\t{e['received_at']}\t{e['platform']}/{e['endpoint']}"
            f"\t{e['kind']}\t{e['state']}\t{why}"
        )
    if not entries:
        say("inbox empty")
    return 0


async def cmd_inbox_dismiss(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    if (args.id is None) == (not args.all_pings):
        raise CommandError("give either an inbox ID or --all-pings")
    conn = await connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.user)
        gone = await inbox.dismiss(conn, user_id, inbox_id=args.id, pings=args.all_pings)
    finally:
        await conn.close()
    if args.id is not None and not gone:
        raise CommandError(f"no inbox entry {args.id} for {args.user}")
    say(f"{gone} dismissed")
    return 0


async def cmd_inbox_reprocess(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    pool = await create_pool(settings.database_url, 2)
    try:
        async with pool.acquire() as conn:
            user_id = await users.user_id_by_name(conn, args.user)
            entries = await inbox.open_quarantined(conn, user_id, args.id)
        if args.id is not None and not entries:
            raise CommandError(f"no open quarantined delivery {args.id} for {args.user}")
        return await _reprocess(pool, store, entries, settings)
    finally:
        await pool.close()


async def _reprocess(
    pool: asyncpg.Pool, store: EventStore, entries: list[Any], settings: Settings
) -> int:
    ingestor = pg_ingestor(pool, store, settings)
    still = failed = 0
    for inbox_id, delivery in entries:
        try:
            again = await reprocess_entry(pool, ingestor, inbox_id, delivery)
        except DatabaseUnavailableError:
            raise
        except Exception as exc:  # a bug on this entry must not keep the others from going
            failed += 1
            log.exception("reprocessing inbox entry %s failed", inbox_id)
            say(f"{inbox_id}: failed ({type(exc).__name__}); left in the inbox, going on")
            continue
        body = again.body
        if not again.recorded:
            still += 1
            why = body.get("field") or again.reason
            say(f"{inbox_id}: still quarantined: {why} {body['detail']}")
        else:
            say(f"{inbox_id}: {body['status']} {body.get('sale_id', '')}".rstrip())
    done = len(entries) - still - failed
    say(f"{done} reprocessed, {still} still quarantined, {failed} failed")
    return 0 if still == failed == 0 else 1


def _inbox_id(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) < 2**63):
        raise argparse.ArgumentTypeError(f"an inbox id is a whole number, not {value[:30]}")
    return int(value)


def register(top: Any) -> dict[tuple[str, str], Command]:
    ib = top.add_parser("inbox", help="quarantined deliveries and pings")
    ib_cmds = ib.add_subparsers(dest="command", required=True)
    ib_list = ib_cmds.add_parser("list", help="list a user's inbox")
    ib_list.add_argument("--user", required=True)
    again = ib_cmds.add_parser("reprocess", help="run quarantined deliveries again")
    again.add_argument("--user", required=True)
    again.add_argument("id", nargs="?", type=_inbox_id)
    gone = ib_cmds.add_parser("dismiss", help="delete an inbox entry, or every ping")
    gone.add_argument("--user", required=True)
    gone.add_argument("id", nargs="?", type=_inbox_id)
    gone.add_argument("--all-pings", action="store_true")
    return {
        ("inbox", "list"): cmd_inbox_list,
        ("inbox", "reprocess"): cmd_inbox_reprocess,
        ("inbox", "dismiss"): cmd_inbox_dismiss,
    }
