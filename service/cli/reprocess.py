"""``ledger reprocess``: re-read a user's stored deliveries with the current code."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from service.accounts import users
from service.audit.reprocess import code_version, reprocess
from service.cli.common import Command
from service.settings import Settings
from service.store.db import create_pool
from service.store.eventstore import EventStore


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("--since takes an ISO 8601 time with offset") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("--since needs a UTC offset, e.g. 2026-01-31T00:00Z")
    return parsed


def register(top: Any) -> dict[tuple[str, str], Command]:
    command = top.add_parser(
        "reprocess",
        help="re-read stored deliveries with the current code; append corrections",
    )
    command.add_argument("--user", required=True)
    command.add_argument(
        "--since", type=_since, help="only orders and products with a delivery since"
    )
    command.add_argument("--dry-run", action="store_true", help="print the differences only")
    command.set_defaults(command="reprocess")
    return {("reprocess", "reprocess"): cmd_reprocess}


async def cmd_reprocess(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    pool = await create_pool(settings.database_url, 2)
    try:
        async with pool.acquire() as conn:
            user_id = await users.user_id_by_name(conn, args.user)
        corrections = await reprocess(pool, store, user_id, since=args.since, dry_run=args.dry_run)
    finally:
        await pool.close()
    verb = "would correct" if args.dry_run else "corrected"
    for c in corrections:
        sys.stdout.write(f"{c.kind} {c.external_id} ({c.aggregate_id}): {verb}\n")
        for line in c.differences:
            sys.stdout.write(f"  {line}\n")
        for line in c.unreadable:
            sys.stdout.write(f"  unreadable now: {line}\n")
    sys.stdout.write(
        f"{_count(corrections, 'order')}, {_count(corrections, 'product')} {verb}"
        f" by {code_version()}\n"
        if corrections
        else "nothing to correct: the ledger reads as the current code reads it\n"
    )
    return 0


def _count(corrections: list[Any], kind: str) -> str:
    n = sum(1 for c in corrections if c.kind == kind)
    return f"{n} {kind}{'' if n == 1 else 's'}"
