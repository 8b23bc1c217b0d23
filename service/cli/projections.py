"""``ledger projections``: run, inspect, rebuild and verify the read models."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from projections.base import Projection
from projections.registry import all_projections
from service.cli.common import Command, connect
from service.projecting.rebuild import Progress, compare, rebuild, version_of
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
        head = int(
            await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        )
        rows = {
            r["name"]: r
            for r in await conn.fetch("SELECT name, position, version FROM projection_positions")
        }
        holders = await _lock_holders(conn)
        sys.stdout.write(
            "projection  version  position  head  lag(events)  lag(s)  failures  runner\n"
        )
        for projection in all_projections():
            row = rows.get(projection.name)
            position = row["position"] if row else 0
            lag_seconds = await _lag_seconds(conn, store, position, head)
            failures = await conn.fetchval(
                "SELECT count(*) FROM projection_failures WHERE name = $1", projection.name
            )
            stored = row["version"] if row else None
            version = f"{stored}" + (
                "" if stored == version_of(projection) else f"->{version_of(projection)}"
            )
            holder = holders.get(lock_key(projection.name))
            runner = f"pid {holder}" if holder else "none active"
            sys.stdout.write(
                f"{projection.name:<11} {version:<8} {position:<9} {head:<5} "
                f"{head - position:<12} {lag_seconds:<7.1f} {failures:<9} {runner}\n"
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


async def _lag_seconds(conn: Any, store: EventStore, position: int, head: int) -> float:
    """How long the oldest event the projection has not applied has been waiting."""
    if position >= head:
        return 0.0
    batch = await store.read_after(conn, position, 1)
    if not batch:
        return 0.0
    waited: float = (datetime.now(UTC) - batch[0].event.timestamp).total_seconds()
    return max(0.0, waited)


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


async def cmd_rebuild(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    for projection in _selected(args):
        progress = await rebuild(settings.database_url, store, projection, _bar(projection.name))
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
