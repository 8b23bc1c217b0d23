"""Reading the delivery log: a user's deliveries newest first, one in detail, the newest per
endpoint, and the retention that bounds it.

The log (migrations/0008_deliveries.sql) has one row per request that reached a webhook URL
with a valid token, written by service/intake/delivery_log.py. What these functions return
is JSON-ready (times ISO 8601, ids as strings); cursors are opaque strings. The HTTP API
(service/http/deliveries_api.py), ``ledger deliveries`` and the console read through here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from aggregates.values import PLATFORMS
from projections import encoding
from service.store.db import DatabaseUnavailableError, PoolBusyError, connection

log = logging.getLogger(__name__)

MAX_LIMIT = 500
ENDPOINTS = ("order", "product")


class InvalidCursorError(ValueError):
    """The cursor is not one this log issued."""


@dataclass(frozen=True)
class DeliveryQuery:
    """Filters, all optional: an exact outcome, platform, topic or external id (the
    platform's order or product id), and received from / to (both inclusive)."""

    outcome: str | None = None
    platform: str | None = None
    topic: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class DeliveryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


_SELECT = (
    "SELECT d.id, d.received_at, d.platform, d.endpoint, d.via, d.topic, d.delivery_id,"
    " d.event_id, d.webhook_id, d.triggered_at, d.store, d.body_sha256, d.body_size,"
    " d.verification, d.outcome, d.reason, d.status, d.duration_ms, d.sale_id, d.product_ref,"
    " d.external_id, d.inbox_id, d.positions"
)
# The statements are built from these constants only, never from input (hence the noqa:
# S608 below). The filters are the same in each list; the selective one is also stated
# plainly where it is given, so that a generic plan still takes its index.
_FILTERS = (
    " AND ($2::text IS NULL OR d.outcome = $2) AND ($3::text IS NULL OR d.platform = $3)"
    " AND ($4::text IS NULL OR d.topic = $4)"
    " AND ($5::timestamptz IS NULL OR d.received_at >= $5)"
    " AND ($6::timestamptz IS NULL OR d.received_at <= $6)"
    " AND ($7::text IS NULL OR d.external_id = $7)"
    " AND ($8::timestamptz IS NULL OR (d.received_at, d.id) < ($8, $9::bigint))"
    " ORDER BY d.received_at DESC, d.id DESC LIMIT $10"
)
_LIST_ALL = _SELECT + " FROM deliveries d WHERE d.user_id = $1" + _FILTERS
_LIST_BY_EXTERNAL_ID = (
    _SELECT + " FROM deliveries d WHERE d.user_id = $1 AND d.external_id = $7" + _FILTERS
)
_LIST_BY_OUTCOME = _SELECT + " FROM deliveries d WHERE d.user_id = $1 AND d.outcome = $2" + _FILTERS
_GET_SQL = (
    _SELECT  # noqa: S608 (constants only)
    + ", EXISTS (SELECT 1 FROM raw_deliveries r WHERE r.sha256 = d.body_sha256) AS raw_stored,"
    " (SELECT array_agg(e.state ORDER BY e.notification_id) FROM stored_events e"
    "  WHERE e.notification_id = ANY (d.positions)) AS states,"
    " (SELECT i.headers::text FROM inbox i WHERE i.inbox_id = d.inbox_id"
    "  AND i.user_id = d.user_id) AS inbox_headers"
    " FROM deliveries d WHERE d.user_id = $1 AND d.id = $2"
)
_LAST_SQL = (
    _SELECT + " FROM unnest($2::text[], $3::text[]) AS k(platform, endpoint)"  # noqa: S608 (constants only)
    " CROSS JOIN LATERAL (SELECT * FROM deliveries x WHERE x.user_id = $1"
    "  AND x.platform = k.platform AND x.endpoint = k.endpoint"
    "  ORDER BY x.received_at DESC, x.id DESC LIMIT 1) d"
)
_PRUNE_SQL = "SELECT ledger_prune_deliveries($1::interval, $2::integer, $3::uuid)"


async def list_deliveries(
    conn: Any, user_id: UUID, query: DeliveryQuery, cursor: str | None, limit: int
) -> DeliveryPage:
    """A page of the user's deliveries, newest first (received_at, then id); raises
    InvalidCursorError for a cursor this log did not issue."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
    after = _decode(cursor)
    sql = _LIST_ALL
    if query.external_id:
        sql = _LIST_BY_EXTERNAL_ID
    elif query.outcome:
        sql = _LIST_BY_OUTCOME
    rows = await conn.fetch(
        sql,
        user_id,
        query.outcome,
        query.platform,
        query.topic,
        query.received_from,
        query.received_to,
        query.external_id,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    items = [_item(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return DeliveryPage(items, _encode(last["received_at"], last["id"]) if last else None)


async def get_delivery(conn: Any, user_id: UUID, delivery_id: int) -> dict[str, Any] | None:
    """One delivery of the user's, with the request headers where they are kept (the
    receipt event it appended, else its inbox entry) and whether the raw body is stored
    (in raw_deliveries); None when the user has no such delivery."""
    row = await conn.fetchrow(_GET_SQL, user_id, delivery_id)
    if row is None:
        return None
    item = _item(row)
    headers, where = None, None
    for state in row["states"] or ():
        found = orjson.loads(state).get("headers")
        if isinstance(found, dict):  # the receipt (the first event may open the aggregate)
            headers, where = found, "receipt"
            break
    if headers is None and row["inbox_headers"] is not None:
        headers, where = orjson.loads(row["inbox_headers"]), "inbox"
    item.update(raw_body_stored=row["raw_stored"], headers=headers, headers_from=where)
    return item


async def last_deliveries(conn: Any, user_id: UUID) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest delivery per (platform, endpoint) the user has had any on."""
    pairs = [(p, e) for p in sorted(PLATFORMS) for e in ENDPOINTS]
    rows = await conn.fetch(_LAST_SQL, user_id, [p for p, _ in pairs], [e for _, e in pairs])
    return {(r["platform"], r["endpoint"]): _item(r) for r in rows}


async def prune(
    conn: Any, max_age: timedelta, max_per_user: int, user_id: UUID | None = None
) -> int:
    """Delete rows older than ``max_age`` and each user's beyond the newest
    ``max_per_user`` (``user_id``: that user's only); how many went (0 when another
    pruning is running)."""
    return int(await conn.fetchval(_PRUNE_SQL, max_age, max_per_user, user_id))


async def run_pruning(
    pool: asyncpg.Pool, max_age: timedelta, max_per_user: int, interval: float
) -> None:
    """The service's retention task: prune at start, then every ``interval`` seconds."""
    while True:
        try:
            async with connection(pool) as conn:
                gone = await prune(conn, max_age, max_per_user)
            if gone:
                log.info("delivery log: %d rows past retention pruned", gone)
        except (DatabaseUnavailableError, PoolBusyError):
            log.debug("delivery log pruning put off: database unavailable or busy")
        except asyncpg.PostgresError:
            log.exception("pruning the delivery log failed; trying again later")
        await asyncio.sleep(interval)


def _item(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "received_at": r["received_at"].isoformat(),
        "platform": r["platform"],
        "endpoint": r["endpoint"],
        "via": r["via"],
        "topic": r["topic"],
        "delivery_id": r["delivery_id"],
        "event_id": r["event_id"],
        "webhook_id": r["webhook_id"],
        "triggered_at": r["triggered_at"],
        "store": r["store"],
        "body_sha256": r["body_sha256"],
        "body_size": r["body_size"],
        "verification": r["verification"],
        "outcome": r["outcome"],
        "reason": r["reason"],
        "status": r["status"],
        "duration_ms": round(r["duration_ms"], 3),
        "sale_id": str(r["sale_id"]) if r["sale_id"] is not None else None,
        "product_ref": r["product_ref"],
        "external_id": r["external_id"],
        "inbox_id": r["inbox_id"],
        "positions": list(r["positions"]),
    }


def _encode(received_at: datetime, delivery_id: int) -> str:
    raw = encoding.dumps([received_at.isoformat(), delivery_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, delivery_id = orjson.loads(raw)
        if not (isinstance(when, str) and type(delivery_id) is int):
            raise TypeError
        at = datetime.fromisoformat(when)
        if at.tzinfo is None or not 0 < delivery_id < 2**63:
            raise ValueError
        return at.astimezone(UTC), delivery_id  # out of range in UTC: OverflowError
    except (binascii.Error, TypeError, ValueError, OverflowError, orjson.JSONDecodeError):
        raise InvalidCursorError("cursor is not one this log issued") from None
