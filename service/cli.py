"""The ``ledger`` command: serve, migrate, and manage users and their inboxes.

Database: ``DATABASE_URL`` if set, else ``postgresql://postgres@127.0.0.1:5432/ledger``
(``./scripts/serve`` also starts a private cluster when no server answers there).
Every command about one user's data takes ``--user NAME``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from service import bindings, cli_audit, cli_projections, cli_reprocess, inbox, users
from service import secrets as signing
from service.db import DatabaseUnavailableError, create_pool, ensure_database, mask_url, migrate
from service.eventstore import EventStore
from service.ingest import Ingestor
from service.settings import Settings, SettingsError
from service.spool import SpoolLocked

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


class CommandError(Exception):
    """The command cannot be carried out as given."""


def _print(*lines: str) -> None:
    for line in lines:
        sys.stdout.write(line + "\n")


async def _connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url, timeout=10)


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    created = await ensure_database(settings.database_url)
    conn = await _connect(settings)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    where = mask_url(settings.database_url)
    _print(f"database {'created' if created else 'present'}: {where}")
    _print(f"schema: {len(applied)} migration(s) applied" if applied else "schema: current")
    return 0


def _secret_lines(token: str | None, api_key: str | None) -> list[str]:
    lines = []
    if token:
        lines += [
            f"webhook token: {token}",
            "  WooCommerce orders:   POST /api/webhook/woocommerce/<token>",
            "  WooCommerce products: POST /api/webhook/woocommerce/<token>/producto",
            "  Shopify orders:       POST /api/webhook/shopify/<token>",
        ]
    if api_key:
        lines.append(f"API key: {api_key}   (Authorization: Bearer <key>)")
    lines.append("Shown once: store them now. Only their hashes are kept.")
    return lines


async def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        new = await users.create_user(conn, args.name)
    finally:
        await conn.close()
    if args.json:
        record = {
            "user_id": str(new.user_id),
            "name": new.name,
            "webhook_token": new.webhook_token,
            "api_key": new.api_key,
        }
        _print(orjson.dumps(record).decode())
        return 0
    _print(f"user {new.name} created, id {new.user_id}")
    _print(*_secret_lines(new.webhook_token, new.api_key))
    return 0


async def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        rows = await users.list_users(conn)
    finally:
        await conn.close()
    for row in rows:
        _print(f"{row['name']}\t{row['user_id']}\tcreated {row['created_at'].isoformat()}")
    if not rows:
        _print("no users yet: ledger users create NAME")
    return 0


async def cmd_users_rotate(args: argparse.Namespace, settings: Settings) -> int:
    which = "token" if args.command == "rotate-token" else "api_key"
    conn = await _connect(settings)
    try:
        secret = await users.rotate(conn, args.name, which)
    finally:
        await conn.close()
    _print(f"user {args.name}: the old {which.replace('_', ' ')} no longer works")
    _print(
        *_secret_lines(secret if which == "token" else None, secret if which != "token" else None)
    )
    return 0


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def _read_secret(prompt: str) -> str:
    """The whole of stdin (or a getpass prompt on a terminal), without surrounding whitespace.

    Never echoed, never printed: errors name the user and platform only.
    """
    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise signing.SecretNotTextError("stdin") from None


async def cmd_users_set_secret(args: argparse.Namespace, settings: Settings) -> int:
    where = f"{args.name}/{args.platform}"
    secret = _read_secret(f"signing secret for {where}: ")
    conn = await _connect(settings)
    try:
        async with conn.transaction():
            await signing.set_secret(conn, args.name, args.platform, secret, settings.secret_grace)
            user_id = await users.user_id_by_name(conn, args.name)
            status = (await signing.secret_status(conn, user_id))[args.platform]
            now = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    until = status["previous_valid_until"]
    if until is not None and until > now:
        _print(f"secret set for {where}; the previous one stays valid until {_when(until)}")
    else:
        _print(f"secret set for {where}; no previous secret")
    return 0


async def cmd_users_clear_secret(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        await signing.clear_secret(conn, args.name, args.platform, settings.secret_grace)
    finally:
        await conn.close()
    _print(
        f"secret cleared for {args.name}/{args.platform}:"
        " deliveries are no longer verified (the webhook token alone authenticates)"
    )
    return 0


async def cmd_users_show(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.name)
        user = next(u for u in await users.list_users(conn) if u["user_id"] == user_id)
        status = await signing.secret_status(conn, user_id)
        bound = await bindings.bindings_for(conn, user_id)
        now = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    _print(
        f"user {user['name']}",
        f"  id: {user_id}",
        f"  created: {_when(user['created_at'])}",
        f"  webhook token rotated: {_when(user['token_rotated_at'])}",
        f"  API key rotated: {_when(user['api_key_rotated_at'])}",
    )
    for platform in signing.PLATFORMS:
        _print(f"  {platform}:", *_platform_lines(status.get(platform), bound.get(platform), now))
    return 0


def _platform_lines(
    status: dict[str, Any] | None, bound: dict[str, Any] | None, now: datetime
) -> list[str]:
    set_at = status and status["set_at"]
    until = status and status["previous_valid_until"]
    lines = [
        f"    signing secret: set since {_when(set_at)}"
        if set_at
        else "    signing secret: none (deliveries are not verified)"
    ]
    if until and until > now:
        later = "" if set_at else " (counts only if a new secret is set before then)"
        lines.append(f"    previous secret: valid until {_when(until)}{later}")
    if bound:
        lines.append(f"    bound store: {bound['source']} (since {_when(bound['bound_at'])})")
    else:
        lines.append("    bound store: none yet (the first delivery naming a store binds it)")
    return lines


async def cmd_users_unbind_store(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        was_bound = await bindings.unbind(conn, args.name, args.platform)
    finally:
        await conn.close()
    where = f"{args.name}/{args.platform}"
    if was_bound:
        _print(f"store unbound for {where}; the next delivery naming a store binds it")
    else:
        _print(f"no store was bound for {where}")
    return 0


async def cmd_inbox_list(args: argparse.Namespace, settings: Settings) -> int:
    conn = await _connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.user)
        entries, _ = await inbox.list_entries(conn, user_id, limit=1000)
    finally:
        await conn.close()
    for e in entries:
        why = f"{e['reason']} {e['field'] or ''}: {e['detail']}" if e["reason"] else ""
        _print(
            f"{e['inbox_id']}\t{e['received_at']}\t{e['platform']}/{e['endpoint']}"
            f"\t{e['kind']}\t{e['state']}\t{why}"
        )
    if not entries:
        _print("inbox empty")
    return 0


async def cmd_inbox_dismiss(args: argparse.Namespace, settings: Settings) -> int:
    if (args.id is None) == (not args.all_pings):
        raise CommandError("give either an inbox ID or --all-pings")
    conn = await _connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.user)
        gone = await inbox.dismiss(conn, user_id, inbox_id=args.id, pings=args.all_pings)
    finally:
        await conn.close()
    if args.id is not None and not gone:
        raise CommandError(f"no inbox entry {args.id} for {args.user}")
    _print(f"{gone} dismissed")
    return 0


async def cmd_inbox_reprocess(args: argparse.Namespace, settings: Settings) -> int:
    pool = await create_pool(settings.database_url, 2)
    try:
        async with pool.acquire() as conn:
            user_id = await users.user_id_by_name(conn, args.user)
            entries = await inbox.open_quarantined(conn, user_id, args.id)
        if args.id is not None and not entries:
            raise CommandError(f"no open quarantined delivery {args.id} for {args.user}")
        return await _reprocess(pool, entries, settings)
    finally:
        await pool.close()


async def _reprocess(pool: asyncpg.Pool, entries: list[Any], settings: Settings) -> int:
    ingestor = Ingestor.from_settings(pool, EventStore(), settings)
    still = failed = 0
    for inbox_id, delivery in entries:
        try:
            answer = await ingestor.ingest(delivery, keep_rejected=False)
        except DatabaseUnavailableError:
            raise
        except Exception as exc:  # a bug on this entry must not keep the others from going
            failed += 1
            log.exception("reprocessing inbox entry %s failed", inbox_id)
            _print(f"{inbox_id}: failed ({type(exc).__name__}); left in the inbox, going on")
            continue
        body = answer.body
        async with pool.acquire() as conn:
            if answer.http_status >= 400 or body["status"] == "quarantined":
                still += 1
                reason = body.get("reason") or body.get("error") or "rejected"
                await inbox.still_quarantined(
                    conn, inbox_id, reason, body.get("field"), body["detail"]
                )
                _print(
                    f"{inbox_id}: still quarantined: {body.get('field') or reason} {body['detail']}"
                )
            else:
                await inbox.mark_reprocessed(conn, inbox_id, body, datetime.now(UTC))
                _print(f"{inbox_id}: {body['status']} {body.get('sale_id', '')}".rstrip())
    done = len(entries) - still - failed
    _print(f"{done} reprocessed, {still} still quarantined, {failed} failed")
    return 0 if still == failed == 0 else 1


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from service.app import create_app
    from service.logs import RedactingAccessLogger, configure_logging

    configure_logging(settings.log_level)
    _print(f"database: {mask_url(settings.database_url)}")
    _print(f"spool (deliveries kept while the database is down): {settings.spool_dir}")
    _print(f"serving on http://{args.host}:{args.port}")
    try:
        web.run_app(
            create_app(settings),
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


def _inbox_id(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) < 2**63):
        raise argparse.ArgumentTypeError(f"an inbox id is a whole number, not {value[:30]}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__.splitlines()[0])
    top = parser.add_subparsers(dest="area", required=True)

    serve = top.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    db = top.add_parser("db", help="database set-up").add_subparsers(dest="command", required=True)
    db.add_parser("migrate", help="create the database if missing and apply the schema")

    u = top.add_parser("users", help="users and their secrets")
    u_cmds = u.add_subparsers(dest="command", required=True)
    create = u_cmds.add_parser("create", help="create a user; prints its secrets once")
    create.add_argument("name")
    create.add_argument("--json", action="store_true")
    u_cmds.add_parser("list", help="list users (never their secrets)")
    for name in ("rotate-token", "rotate-api-key"):
        rotate = u_cmds.add_parser(name, help="issue a new secret; the old one stops at once")
        rotate.add_argument("name")
    set_secret = u_cmds.add_parser(
        "set-secret", help="set a platform's signing secret, read from stdin (never echoed)"
    )
    clear_secret = u_cmds.add_parser(
        "clear-secret", help="stop verifying signatures: the token alone authenticates"
    )
    unbind = u_cmds.add_parser("unbind-store", help="forget the store bound to a platform")
    for sub in (set_secret, clear_secret, unbind):
        sub.add_argument("name")
        sub.add_argument("platform", choices=signing.PLATFORMS)
    show = u_cmds.add_parser("show", help="a user's settings (never its secrets)")
    show.add_argument("name")

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
    _AREA_COMMANDS.update(cli_projections.register(top))
    _AREA_COMMANDS.update(cli_reprocess.register(top))
    _AREA_COMMANDS.update(cli_audit.register(top))
    return parser


# Commands of the areas that register themselves (ledger projections ...).
_AREA_COMMANDS: dict[tuple[str, str], Command] = {}

_ASYNC_COMMANDS: dict[tuple[str, str], Command] = {
    ("db", "migrate"): cmd_migrate,
    ("users", "create"): cmd_users_create,
    ("users", "list"): cmd_users_list,
    ("users", "rotate-token"): cmd_users_rotate,
    ("users", "rotate-api-key"): cmd_users_rotate,
    ("users", "set-secret"): cmd_users_set_secret,
    ("users", "clear-secret"): cmd_users_clear_secret,
    ("users", "show"): cmd_users_show,
    ("users", "unbind-store"): cmd_users_unbind_store,
    ("inbox", "list"): cmd_inbox_list,
    ("inbox", "reprocess"): cmd_inbox_reprocess,
    ("inbox", "dismiss"): cmd_inbox_dismiss,
}

_EXPECTED = (
    cli_projections.UnknownProjectionError,
    CommandError,
    users.UserExistsError,
    users.UnknownUserError,
    users.InvalidUserNameError,
    signing.UnknownPlatformError,
    signing.EmptySecretError,
    signing.SecretTooLongError,
    signing.SecretNotTextError,
)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``ledger ... | head``): nothing is left to say, and Python
        # must not complain when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.stderr.write(f"ledger: {exc}\n")
        return 2
    if args.area == "serve":
        return cmd_serve(args, settings)
    command = {**_ASYNC_COMMANDS, **_AREA_COMMANDS}[(args.area, args.command)]
    try:
        return asyncio.run(command(args, settings))
    except _EXPECTED as exc:
        sys.stderr.write(f"ledger: {type(exc).__doc__.strip()} ({exc})\n")  # type: ignore[union-attr]
        return 2
    except BrokenPipeError:
        raise  # the reader went away: see main
    except (OSError, asyncpg.exceptions.PostgresError) as exc:
        sys.stderr.write(
            f"ledger: cannot use the database at {mask_url(settings.database_url)}: "
            f"{type(exc).__name__}\n"
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
