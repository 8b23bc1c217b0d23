"""``ledger deliveries``: a user's delivery log (the rows of ``GET /api/deliveries``), and
``ledger deliveries prune``: its retention, applied now."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from aggregates.values import PLATFORMS
from projections import encoding
from service.accounts import users
from service.audit import deliveries
from service.cli.common import Command, CommandError, connect, say
from service.intake.delivery_rows import LOG_OUTCOMES
from service.settings import Settings
from service.store.eventstore import EventStore

DEFAULT_LIMIT = 100
# The table's columns, as the API names the fields.
_SHOWN = (
    "id",
    "received_at",
    "platform",
    "endpoint",
    "topic",
    "outcome",
    "status",
    "external_id",
    "duration_ms",
    "body_sha256",
)


async def cmd_deliveries_list(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    if args.user is None:
        raise CommandError("give --user NAME")
    query = deliveries.DeliveryQuery(
        outcome=args.outcome,
        platform=args.platform,
        topic=args.topic,
        received_from=args.received_from,
        received_to=args.received_to,
        external_id=args.external_id,
    )
    conn = await connect(settings)
    try:
        user_id = await users.user_id_by_name(conn, args.user)
        items = await _newest(conn, user_id, query, args.limit)
    finally:
        await conn.close()
    if args.json:
        say(*(encoding.to_json(item) for item in items))
    elif items:
        say("\t".join(_SHOWN), *("\t".join(_cell(item, name) for name in _SHOWN) for item in items))
    else:
        say("no deliveries")
    return 0


async def _newest(
    conn: Any, user_id: Any, query: deliveries.DeliveryQuery, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` deliveries, newest first, read page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < limit:
        page = await deliveries.list_deliveries(
            conn, user_id, query, cursor, min(deliveries.MAX_LIMIT, limit - len(found))
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def _cell(item: dict[str, Any], name: str) -> str:
    value = item[name]
    if name == "body_sha256":
        return str(value)[:12]
    return "-" if value is None else str(value)


async def cmd_deliveries_prune(
    args: argparse.Namespace, settings: Settings, store: EventStore
) -> int:
    name = args.prune_user or args.user  # ``deliveries --user NAME prune`` too
    conn = await connect(settings)
    try:
        user_id = None if name is None else await users.user_id_by_name(conn, name)
        gone = await deliveries.prune(
            conn, settings.deliveries_max_age, settings.deliveries_max_per_user, user_id
        )
    finally:
        await conn.close()
    days, most = settings.deliveries_max_age.days, settings.deliveries_max_per_user
    say(f"{gone} deliveries pruned (older than {days} days, or beyond the newest {most} per user)")
    return 0


def _time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value[:40]}") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with its offset, e.g. 2026-12-01T00:00Z")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"out of range in UTC: {value[:40]}") from None


def _limit(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 9 and int(value) > 0):
        raise argparse.ArgumentTypeError(f"a limit is a positive whole number, not {value[:30]}")
    return int(value)


def register(top: Any) -> dict[tuple[str, str], Command]:
    dl = top.add_parser("deliveries", help="a user's delivery log, newest first; prune it")
    dl_cmds = dl.add_subparsers(dest="command", required=False)
    dl.add_argument("--user", help="the user's name (required to list)")
    dl.add_argument("--outcome", choices=sorted(LOG_OUTCOMES))
    dl.add_argument("--platform", choices=sorted(PLATFORMS))
    dl.add_argument("--topic")
    dl.add_argument("--from", dest="received_from", type=_time, metavar="ISO")
    dl.add_argument("--to", dest="received_to", type=_time, metavar="ISO")
    dl.add_argument("--external-id", metavar="ID", help="the platform's order or product id")
    dl.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, metavar="N")
    dl.add_argument("--json", action="store_true", help="one JSON object per line")
    dl.set_defaults(command="list")
    prune = dl_cmds.add_parser("prune", help="apply the retention now (every user, or --user)")
    prune.add_argument("--user", dest="prune_user", help="this user's deliveries only")
    return {
        ("deliveries", "list"): cmd_deliveries_list,
        ("deliveries", "prune"): cmd_deliveries_prune,
    }
