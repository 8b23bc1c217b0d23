"""``ledger users ...``: users, their secrets and their store bindings."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from aggregates.values import PLATFORMS
from projections.encoding import to_json
from service.accounts import bindings, connections, sealing, users
from service.accounts import secrets as signing
from service.accounts.key_guard import checked_key
from service.accounts.keyring import Keyring
from service.cli.common import Command, connect, say
from service.settings import Settings
from service.store.eventstore import EventStore

EXPECTED: tuple[type[Exception], ...] = (
    users.UserExistsError,
    users.UnknownUserError,
    users.InvalidUserNameError,
    signing.UnknownPlatformError,
    signing.EmptySecretError,
    signing.SecretTooLongError,
    signing.SecretNotTextError,
)


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
    lines.append(
        "Shown once: store them now. Only their hashes are kept (and the token sealed with"
        " this machine's key, for the console's Integrations tab)."
    )
    return lines


def _sealer(settings: Settings) -> sealing.TokenSealer | None:
    """The key the console reveals tokens with; without one (var/ not writable), the token
    is only hashed, and the console asks for a rotation before it can show it."""
    try:
        return sealing.sealer(settings)
    except OSError as exc:
        print(f"note: no key at {settings.secret_key_file} ({exc.strerror})", file=sys.stderr)
        return None


async def cmd_users_create(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        new = await users.create_user(conn, args.name, _sealer(settings))
    finally:
        await conn.close()
    if args.json:
        record = {
            "user_id": str(new.user_id),
            "name": new.name,
            "webhook_token": new.webhook_token,
            "api_key": new.api_key,
        }
        say(to_json(record))
        return 0
    say(f"user {new.name} created, id {new.user_id}")
    say(*_secret_lines(new.webhook_token, new.api_key))
    return 0


async def cmd_users_list(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        rows = await users.list_users(conn)
    finally:
        await conn.close()
    for row in rows:
        say(f"{row['name']}\t{row['user_id']}\tcreated {row['created_at'].isoformat()}")
    if not rows:
        say("no users yet: ledger users create NAME")
    return 0


async def cmd_users_rotate(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    which = "token" if args.command == "rotate-token" else "api_key"
    conn = await connect(settings)
    try:
        secret = await users.rotate(conn, args.name, which, _sealer(settings))
    finally:
        await conn.close()
    say(f"user {args.name}: the old {which.replace('_', ' ')} no longer works")
    say(*_secret_lines(secret if which == "token" else None, secret if which != "token" else None))
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


async def cmd_users_set_secret(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    where = f"{args.name}/{args.platform}"
    secret = _read_secret(f"signing secret for {where}: ")
    conn = await connect(settings)
    try:
        async with conn.transaction():
            await signing.set_secret(
                conn,
                args.name,
                args.platform,
                secret,
                settings.secret_grace,
                Keyring(await checked_key(conn, settings)),
            )
            user_id = await users.user_id_by_name(conn, args.name)
            status = (await signing.secret_status(conn, user_id))[args.platform]
            now = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    until = status["previous_valid_until"]
    if until is not None and until > now:
        say(f"secret set for {where}; the previous one stays valid until {_when(until)}")
    else:
        say(f"secret set for {where}; no previous secret")
    return 0


async def cmd_users_clear_secret(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    conn = await connect(settings)
    try:
        await signing.clear_secret(conn, args.name, args.platform, settings.secret_grace)
    finally:
        await conn.close()
    say(
        f"secret cleared for {args.name}/{args.platform}:"
        " deliveries are no longer verified (the webhook token alone authenticates)"
    )
    return 0


async def cmd_users_show(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.name)
        user = next(u for u in await users.list_users(conn) if u["user_id"] == user_id)
        status = await signing.secret_status(conn, user_id)
        bound = await bindings.bindings_for(conn, user_id)
        linked = await connections.connection_status(conn, user_id)
        now = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    say(
        f"user {user['name']}",
        f"  id: {user_id}",
        f"  created: {_when(user['created_at'])}",
        f"  webhook token rotated: {_when(user['token_rotated_at'])}",
        f"  API key rotated: {_when(user['api_key_rotated_at'])}",
    )
    for platform in PLATFORMS:
        say(f"  {platform}:", *_platform_lines(status.get(platform), bound.get(platform), now))
        say(*_connection_lines(linked.get(platform)))
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


def _connection_lines(status: connections.ConnectionStatus | None) -> list[str]:
    """The store API connection: never its secret, a few characters of the key at most."""
    if status is None:
        return ["    store API: not connected (ledger connect --user NAME PLATFORM ...)"]
    key = f", key {status.key_prefix}" if status.key_prefix else ""
    lines = [
        f"    store API: {status.base_url}{key} (connected {_when(status.created_at)})",
        f"    last backfill: {_when(status.last_run_at)}; high-water: {_when(status.high_water)}",
    ]
    if status.failures:
        lines.append(
            f"    failing: {status.failures} run(s) in a row; last error: {status.last_error}"
        )
    return lines


async def cmd_users_unbind_store(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    conn = await connect(settings)
    try:
        was_bound = await bindings.unbind(conn, args.name, args.platform)
    finally:
        await conn.close()
    where = f"{args.name}/{args.platform}"
    if was_bound:
        say(f"store unbound for {where}; the next delivery naming a store binds it")
    else:
        say(f"no store was bound for {where}")
    return 0


def register(top: Any) -> dict[tuple[str, str], Command]:
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
        sub.add_argument("platform", choices=PLATFORMS)
    show = u_cmds.add_parser("show", help="a user's settings (never its secrets)")
    show.add_argument("name")
    return {
        ("users", "create"): cmd_users_create,
        ("users", "list"): cmd_users_list,
        ("users", "rotate-token"): cmd_users_rotate,
        ("users", "rotate-api-key"): cmd_users_rotate,
        ("users", "set-secret"): cmd_users_set_secret,
        ("users", "clear-secret"): cmd_users_clear_secret,
        ("users", "show"): cmd_users_show,
        ("users", "unbind-store"): cmd_users_unbind_store,
    }
