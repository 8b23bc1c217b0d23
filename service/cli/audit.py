"""``ledger stock adjust|history|reconcile``, ``ledger trace`` and ``ledger export``.

Corrections made here are events like any other, recorded with the operating-system user
as their actor. Read models are filled by the projection runner (the service, or
``ledger projections run``), so what these commands read is as current as that runner.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from aggregates.stock_adjustment import (
    AdjustmentConflictError,
    InvalidAdjustmentError,
    check_adjustment,
    check_product_ref,
)
from aggregates.values import PLATFORMS
from projections import encoding
from service.accounts import users
from service.audit import adjustments, trace
from service.cli.common import Command, failure_line, say
from service.settings import Settings
from service.store.db import create_pool
from service.store.eventstore import EventStore

EXPORT_PAGE = 1000
HISTORY_PAGE = 1000


class AuditCommandError(Exception):
    """The command cannot be carried out as given."""


_EXPECTED = (
    AuditCommandError,
    InvalidAdjustmentError,
    AdjustmentConflictError,
    adjustments.UnknownProductError,
    trace.TraceError,
)


def _expected_errors(command: Command) -> Command:
    """Report this module's expected failures as ``ledger`` reports its own: exit code 2."""

    async def run(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
        try:
            return await command(args, settings, store)
        except _EXPECTED as exc:
            sys.stderr.write(failure_line(exc))
            return 2

    return run


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a bare container)
        return f"uid-{os.getuid()}"


async def _with_user(
    settings: Settings, name: str, work: Callable[[asyncpg.Pool, UUID], Awaitable[int]]
) -> int:
    pool = await create_pool(settings.database_url, 2)
    try:
        async with pool.acquire() as conn:
            user_id = await users.user_id_by_name(conn, name)
        return await work(pool, user_id)
    finally:
        await pool.close()


def _signed(n: int) -> str:
    return f"{n:+d}"


async def cmd_adjust(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    # Refuse bad input before printing a key that nothing will ever use.
    check_product_ref(args.product_ref)
    check_adjustment(args.by, args.reason)
    key = args.key if args.key is not None else str(uuid4())
    if args.key is None:
        say(f"key: {key}   (repeat the command with --key {key} to retry safely)")

    async def work(pool: asyncpg.Pool, user_id: UUID) -> int:
        actor = f"cli:{os_user()}"
        done = await adjustments.adjust(
            pool,
            store,
            user_id,
            key,
            args.product_ref,
            args.by,
            args.reason,
            actor,
            create=args.create,
        )
        what = "adjusted" if done.status == "adjusted" else "duplicate: already adjusted"
        say(
            f"{what} {done.product_ref} by {_signed(done.by)}"
            f" (adjustment {done.adjustment_id}, position {done.notification_id})"
        )
        return 0

    return await _with_user(settings, args.user, work)


def _movement_line(m: dict[str, Any]) -> str:
    cause = f"sale {m['sale_id']}" if m["sale_id"] else f"adjustment {m['adjustment_id']}"
    why = m["reason"] or ""
    if m["actor"]:
        why = f"{why} [{m['actor']}]"
    return (
        f"{m['notification_id']}\t{m['kind']}\t{_signed(m['delta'])}\t{m['balance']}"
        f"\t{m['event']} v{m['originator_version']}\t{cause}\t{why}"
    ).rstrip()


async def cmd_history(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    async def work(pool: asyncpg.Pool, user_id: UUID) -> int:
        async with pool.acquire() as conn:
            # One snapshot for every page, so the last balance is the level shown.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await _history_pages(conn, user_id, args.product_ref)

    return await _with_user(settings, args.user, work)


async def _history_pages(conn: Any, user_id: UUID, product_ref: str) -> int:
    after, balance, level = 0, 0, None
    say("position\tkind\tdelta\tbalance\tevent\tcaused by\treason")
    while True:
        page = await trace.stock_history(
            conn, user_id, product_ref, after=after, limit=HISTORY_PAGE
        )
        if page is None:
            raise AuditCommandError(f"no stock is recorded for {product_ref}")
        level = page["quantity"]
        for movement in page["movements"]:
            say(_movement_line(movement))
            balance = movement["balance"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    say(f"{product_ref}: final balance {balance}, stock level {level}")
    return 0


async def cmd_reconcile(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    async def work(pool: asyncpg.Pool, user_id: UUID) -> int:
        found = await adjustments.discrepancies(pool, user_id)
        if not found:
            say("nothing to reconcile")
            return 0
        for d in found:
            say(
                f"{d.product_ref}\tledger {d.ledger}\tplatform {d.reported}"
                f" (reported at {d.reported_at_text})\tdrift {_signed(d.by)}"
            )
        if not args.apply:
            say(f"{len(found)} to reconcile; --apply appends the adjustments")
            return 0
        done = await adjustments.reconcile(pool, store, user_id, found, f"cli:{os_user()}")
        whats = {
            "adjusted": "adjusted",
            "duplicate": "already adjusted for this report",
            "refused": "not adjusted: no adjustment takes this reference",
        }
        for a in done:
            what = whats[a.status]
            say(f"{a.product_ref}: {what} by {_signed(a.by)} (adjustment {a.adjustment_id})")
        return 0

    return await _with_user(settings, args.user, work)


def _external(value: str) -> tuple[str, str]:
    platform, _, external_id = value.partition(":")
    if platform not in PLATFORMS or not external_id:
        raise AuditCommandError(f"--external takes PLATFORM:EXTERNAL_ID, not {value!r}")
    return platform, external_id


async def cmd_trace(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    if (args.sale_id is None) == (args.external is None):
        raise AuditCommandError("give either SALE_ID or --external PLATFORM:EXTERNAL_ID")
    external = _external(args.external) if args.external is not None else None
    try:
        sale_id = UUID(args.sale_id) if args.sale_id is not None else None
    except ValueError:
        raise AuditCommandError(f"{args.sale_id!r} is not a sale id") from None

    async def work(pool: asyncpg.Pool, user_id: UUID) -> int:
        async with pool.acquire() as conn:
            if external is not None:
                found = await trace.trace_external(conn, store, user_id, *external)
            else:
                assert sale_id is not None
                found = await trace.trace(conn, store, user_id, sale_id)
        say(encoding.dumps(found, indent=True).decode())
        return 0

    return await _with_user(settings, args.user, work)


async def cmd_export(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    async def work(pool: asyncpg.Pool, user_id: UUID) -> int:
        after = 0
        out = sys.stdout.buffer
        while True:
            async with pool.acquire() as conn:
                items, next_after = await trace.export_page(
                    conn, store, user_id, after=after, limit=EXPORT_PAGE
                )
            out.write(b"".join(encoding.dumps(item) + b"\n" for item in items))
            out.flush()
            if next_after is None:
                return 0
            after = next_after

    return await _with_user(settings, args.user, work)


def register(top: Any) -> dict[tuple[str, str], Command]:
    """Add the audit commands to the ``ledger`` parser's subcommands."""
    st = top.add_parser("stock", help="stock corrections, history and reconciliation")
    st_cmds = st.add_subparsers(dest="command", required=True)
    adj = st_cmds.add_parser("adjust", help="append a stock adjustment (who and why recorded)")
    adj.add_argument("--user", required=True)
    adj.add_argument("product_ref", metavar="PRODUCT_REF")
    adj.add_argument("--by", type=int, required=True, help="the change, e.g. 5 or -2")
    adj.add_argument("--reason", required=True)
    adj.add_argument("--key", help="idempotency key (default: a new one, printed)")
    adj.add_argument(
        "--create", action="store_true", help="adjust a product the ledger has never seen"
    )
    hist = st_cmds.add_parser("history", help="every movement with its cause and balance")
    hist.add_argument("--user", required=True)
    hist.add_argument("product_ref", metavar="PRODUCT_REF")
    rec = st_cmds.add_parser("reconcile", help="compare with the platform's reported counts")
    rec.add_argument("--user", required=True)
    rec.add_argument("--apply", action="store_true", help="adjust the ledger to those counts")

    tr = top.add_parser("trace", help="a sale back to the delivery that caused it")
    tr.add_argument("--user", required=True)
    tr.add_argument("sale_id", nargs="?", metavar="SALE_ID")
    tr.add_argument("--external", metavar="PLATFORM:EXTERNAL_ID")
    tr.set_defaults(command="trace")

    ex = top.add_parser("export", help="a user's own events, for auditors")
    ex.add_argument("--user", required=True)
    ex.add_argument("--format", choices=["jsonl"], default="jsonl")
    ex.set_defaults(command="export")
    return {
        ("stock", "adjust"): _expected_errors(cmd_adjust),
        ("stock", "history"): _expected_errors(cmd_history),
        ("stock", "reconcile"): _expected_errors(cmd_reconcile),
        ("trace", "trace"): _expected_errors(cmd_trace),
        ("export", "export"): _expected_errors(cmd_export),
    }
