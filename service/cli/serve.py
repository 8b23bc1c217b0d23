"""``ledger serve`` and ``ledger db migrate``: the service, and the database it needs."""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Any

from aiohttp import web

from service.cli.common import Command, connect, say
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
    finally:
        await conn.close()
    where = mask_url(settings.database_url)
    say(f"database {'created' if created else 'present'}: {where}")
    say(f"schema: {len(applied)} migration(s) applied" if applied else "schema: current")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    configure_logging(settings.log_level)
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
        )
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
    db = top.add_parser("db", help="database set-up").add_subparsers(dest="command", required=True)
    db.add_parser("migrate", help="create the database if missing and apply the schema")
    return {("db", "migrate"): cmd_migrate}
