"""The ``ledger`` command: serve, migrate, manage users, stores, inboxes, projections, audits.

Database: ``DATABASE_URL`` if set, else ``postgresql://postgres@127.0.0.1:5432/ledger``
(``./scripts/serve`` also starts a private cluster when no server answers there).
Every command about one user's data takes ``--user NAME``. Each area's commands live in a
module of their own, which registers its parsers; this one parses, runs, and turns the
expected failures into one line and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import asyncpg

from service.accounts.key_guard import ServerKeyChangedError
from service.accounts.keyring import SealedWithAnotherKeyError
from service.cli import (
    audit,
    backfill,
    connections,
    deliveries,
    inbox,
    projections,
    reprocess,
    serve,
    users,
)
from service.cli.common import Command, CommandError, failure_line
from service.settings import Settings, SettingsError
from service.store.db import mask_url
from service.store.eventstore import EventStore
from service.store.migrate import MigrationChangedError

_EXPECTED: tuple[type[Exception], ...] = (
    CommandError,
    MigrationChangedError,
    projections.UnknownProjectionError,
    *users.EXPECTED,
    *connections.EXPECTED,
    *backfill.EXPECTED,
    SealedWithAnotherKeyError,
    ServerKeyChangedError,
    SettingsError,
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[tuple[str, str], Command]]:
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__.splitlines()[0])
    top = parser.add_subparsers(dest="area", required=True)
    commands: dict[tuple[str, str], Command] = {}
    for area in (
        serve,
        users,
        connections,
        inbox,
        deliveries,
        projections,
        reprocess,
        audit,
        backfill,
    ):
        commands.update(area.register(top))
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``ledger ... | head``): nothing is left to say, and Python
        # must not complain when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.stderr.write(f"ledger: {exc}\n")
        return 2
    store = EventStore()
    if args.area == "serve":
        return serve.cmd_serve(args, settings, store)
    command = commands[(args.area, args.command)]
    try:
        return asyncio.run(command(args, settings, store))
    except _EXPECTED as exc:
        sys.stderr.write(failure_line(exc))
        return 2
    except BrokenPipeError:
        raise  # the reader went away: see main
    except (OSError, asyncpg.exceptions.PostgresError) as exc:
        sys.stderr.write(
            f"ledger: cannot use the database at {mask_url(settings.database_url)}: "
            f"{type(exc).__name__}\n"
        )
        return 3
