"""``ledger serve`` and ``ledger db migrate``: the service, and the database it needs."""

from __future__ import annotations

import argparse
import errno
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from service.accounts.at_rest import seal_at_rest
from service.accounts.key_guard import ServerKeyChangedError
from service.cli.common import Command, connect, failure_line, say
from service.cli.workers import supervise
from service.http.access_log import RedactingAccessLogger
from service.http.app import create_app
from service.intake.spool import SpoolLocked
from service.logs import configure_logging
from service.projecting.rebuild import prepare_database
from service.settings import Settings
from service.store.db import ensure_database, mask_url
from service.store.eventstore import EventStore


async def cmd_migrate(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    created = await ensure_database(settings.database_url)
    conn = await connect(settings)
    try:
        applied = await prepare_database(conn)
        # Migration 0010 made room for sealed signing secrets; the key is not in the
        # database, so sealing the ones kept in clear is done here (and at the service's
        # start: service/http/app.py).
        sealed = await seal_at_rest(conn, settings)
    finally:
        await conn.close()
    where = mask_url(settings.database_url)
    say(f"database {'created' if created else 'present'}: {where}")
    say(f"schema: {len(applied)} migration(s) applied" if applied else "schema: current")
    if sealed.secrets:
        say(f"signing secrets: {sealed.secrets} row(s) sealed with the server key")
    if sealed.tokens:
        say(f"webhook tokens: {sealed.tokens} sealed again with the server key")
    return 0


def worker_settings(settings: Settings, index: int) -> Settings:
    """Worker ``index``'s settings: its own spool directory (worker 0 keeps the configured
    one, so one worker behaves as before; worker i uses ``worker-i`` inside it), and the
    projection runner in worker 0 only (several would only stand by for each other)."""
    if index == 0:
        return settings
    return replace(
        settings, spool_dir=settings.spool_dir / f"worker-{index}", run_projections=False
    )


def orphaned_spools(settings: Settings, workers: int) -> list[Path]:
    """Spool directories of workers beyond ``workers`` that still hold deliveries: answered
    202 by a run with more workers, and replayed by no worker of this one."""
    found = []
    for directory in sorted(settings.spool_dir.glob("worker-*")):
        index = directory.name.removeprefix("worker-")
        held = any(directory.glob("[0-9]*.json"))
        if index.isdigit() and int(index) >= workers and held:
            found.append(directory)
    return found


def cmd_serve(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    configure_logging(settings.log_level, settings.log_format)
    if args.worker is None:
        orphans = orphaned_spools(settings, args.workers)
        if orphans:
            sys.stderr.write(
                f"ledger: {orphans[-1]} holds deliveries that only worker"
                f" {orphans[-1].name.removeprefix('worker-')} replays: start with --workers"
                f" {int(orphans[-1].name.removeprefix('worker-')) + 1} until it is empty\n"
            )
            return 2
    if args.workers > 1 and args.worker is None:
        return supervise(args)
    index = args.worker or 0
    settings = worker_settings(settings, index)
    if args.worker is None:
        say(f"database: {mask_url(settings.database_url)}")
        say(f"spool (deliveries kept while the database is down): {settings.spool_dir}")
        say(f"serving on http://{args.host}:{args.port}")
    try:
        web.run_app(
            create_app(settings, store),
            host=args.host,
            port=args.port,
            access_log_class=RedactingAccessLogger,
            print=None,
            # Several workers share the port; the kernel spreads connections among them.
            reuse_port=args.worker is not None,
        )
    except ServerKeyChangedError as exc:
        sys.stderr.write(failure_line(exc))
        return 2
    except SpoolLocked:
        sys.stderr.write(
            f"ledger: the spool {settings.spool_dir} is held by another ledger service: give"
            " each service its own LEDGER_SPOOL_DIR\n"
        )
        return 2
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        sys.stderr.write(
            f"ledger: cannot listen on {args.host}:{args.port}, which another program uses:"
            " stop it or choose another --port\n"
        )
        return 2
    return 0


def register(top: Any) -> dict[tuple[str, str], Command]:
    """The ``serve`` parser (run by ``main`` itself: it owns its event loop) and ``db``."""
    serve = top.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="serving processes sharing the port (SO_REUSEPORT); the projections run in"
        " the first (default 1)",
    )
    # Set by --workers for each process it starts: which worker this is.
    serve.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    db = top.add_parser("db", help="database set-up").add_subparsers(dest="command", required=True)
    db.add_parser("migrate", help="create the database if missing and apply the schema")
    return {("db", "migrate"): cmd_migrate}


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
