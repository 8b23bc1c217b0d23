"""``ledger projections``: run, inspect, rebuild and verify the read models."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

from projections.base import Projection
from projections.registry import all_projections
from service.cli.common import Command, connect
from service.projecting.lag import lags
from service.projecting.progress import announcing
from service.projecting.rebuild import Progress, Report, compare, rebuild, version_of
from service.projecting.runner import LOCK_SPACE, ProjectionRunner, lock_key
from service.settings import Settings
from service.store.db import create_pool
from service.store.eventstore import EventStore


class UnknownProjectionError(ValueError):
    """There is no projection by that name (see: ledger projections status)."""


def register(top: Any) -> dict[tuple[str, str], Command]:
    area = top.add_parser("projections", help="the read models: run, status, rebuild, verify")
    commands = area.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the projection runner (one active per projection)")
    commands.add_parser("status", help="version, position, head and lag of each projection")
    for name, text in (
        ("rebuild", "rebuild from the whole log beside the live tables, then swap them in"),
        ("verify", "rebuild into scratch tables and compare row by row; exit 1 on differences"),
    ):
        command = commands.add_parser(name, help=text)
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("name", nargs="?")
        which.add_argument("--all", action="store_true")
    return {
        ("projections", "run"): cmd_run,
        ("projections", "status"): cmd_status,
        ("projections", "rebuild"): cmd_rebuild,
        ("projections", "verify"): cmd_verify,
    }


def _selected(args: argparse.Namespace) -> list[Projection]:
    projections = all_projections()
    if args.all:
        return projections
    chosen = [p for p in projections if p.name == args.name]
    if not chosen:
        raise UnknownProjectionError(args.name)
    return chosen


async def cmd_run(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    pool = await create_pool(settings.database_url, 2)
    runner = ProjectionRunner(
        pool,
        store,
        all_projections(),
        settings.database_url,
        settings.projection_poll_interval,
    )
    task = asyncio.create_task(runner.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    sys.stdout.write("projection runner started (Ctrl-C stops it)\n")
    sys.stdout.flush()
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await pool.close()
    return 0


async def cmd_status(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        found = await lags(conn, store, [p.name for p in all_projections()])
        holders = await _lock_holders(conn)
        sys.stdout.write(
            "projection  version  position  head  lag(events)  lag(s)  failures  runner\n"
        )
        for projection, lag in zip(all_projections(), found, strict=True):
            failures = await conn.fetchval(
                "SELECT count(*) FROM projection_failures WHERE name = $1", projection.name
            )
            version = f"{lag.version}" + (
                "" if lag.version == version_of(projection) else f"->{version_of(projection)}"
            )
            holder = holders.get(lock_key(projection.name))
            runner = f"pid {holder}" if holder else "none active"
            sys.stdout.write(
                f"{projection.name:<11} {version:<8} {lag.position:<9} {lag.head:<5} "
                f"{lag.events:<12} {lag.seconds:<7.1f} {failures:<9} {runner}\n"
            )
    finally:
        await conn.close()
    return 0


async def _lock_holders(conn: Any) -> dict[int, int]:
    """Projection lock key -> the backend pid of the runner holding it (the active one)."""
    rows = await conn.fetch(
        "SELECT objid::bigint AS key, pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = $1 AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())",
        LOCK_SPACE,
    )
    return {int(r["key"]): int(r["pid"]) for r in rows}


def _bar(name: str) -> Callable[[Progress], None]:
    def report(p: Progress) -> None:
        total = max(p.head, 1)
        filled = int(30 * min(p.position, total) / total)
        eta = f"{p.eta_seconds:5.0f}s" if p.eta_seconds is not None else "    ?"
        sys.stderr.write(
            f"\r{name:<9} [{'#' * filled}{'.' * (30 - filled)}] {p.done} events "
            f"{p.rate:,.0f}/s ETA {eta}"
        )
        sys.stderr.flush()

    return report


def _both(first: Report, second: Report) -> Report:
    def report(p: Progress) -> None:
        first(p)
        second(p)

    return report


async def cmd_rebuild(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    for projection in _selected(args):
        # Announced on the database too: a service's /metrics shows how far it has got.
        async with announcing(settings.database_url, projection.name) as announce:
            report = _both(_bar(projection.name), announce)
            progress = await rebuild(settings.database_url, store, projection, report)
        sys.stderr.write("\n")
        sys.stdout.write(
            f"{projection.name}: rebuilt (v{version_of(projection)}), {progress.done} events, "
            f"{progress.rate:,.0f} events/s, swapped in\n"
        )
    return 0


async def cmd_verify(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    status = 0
    for projection in _selected(args):
        differences = await compare(settings.database_url, store, projection, _bar(projection.name))
        sys.stderr.write("\n")
        if differences:
            status = 1
            sys.stdout.write(f"{projection.name}: {len(differences)} difference(s)\n")
            for line in differences:
                sys.stdout.write(f"  {line}\n")
        else:
            sys.stdout.write(f"{projection.name}: identical to a rebuild from the log\n")
    return status
