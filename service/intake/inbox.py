"""The inbox: deliveries we could not use yet (kept verbatim) and pings, per user.

A quarantined delivery keeps its exact bytes, headers and the reason, so that after a fix
(in our code or in the merchant's settings) ``ledger inbox reprocess`` can run it again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from projections.encoding import to_json
from service.intake.delivery import SpooledDelivery

log = logging.getLogger(__name__)


# Pings carry nothing to reprocess: only the latest few per user are worth showing.
PINGS_KEPT = 20
SIGNATURE_FAILURE = "invalid_signature"


async def keep_signature_failure(
    conn: asyncpg.Connection, delivery: SpooledDelivery, *, detail: str, kept: int
) -> int:
    """File a delivery refused for its signature, in a room of its own: the newest ``kept``
    per user stay, the oldest go. Anyone who has the token can post these, so they must
    never take the room of deliveries that came from the store (a real one with a wrong
    secret is among the newest, and is reprocessed once the secret is fixed)."""
    inbox_id = await keep(
        conn, delivery, kind="quarantined", reason=SIGNATURE_FAILURE, detail=detail
    )
    assert inbox_id is not None
    await conn.execute(
        "DELETE FROM inbox WHERE user_id = $1 AND reason = $2 AND state = 'open'"
        " AND inbox_id NOT IN (SELECT inbox_id FROM inbox WHERE user_id = $1 AND reason = $2"
        "  AND state = 'open' ORDER BY inbox_id DESC LIMIT $3)",
        delivery.user_id,
        SIGNATURE_FAILURE,
        kept,
    )
    return inbox_id


async def keep(
    conn: asyncpg.Connection,
    delivery: SpooledDelivery,
    *,
    kind: str,
    reason: str | None = None,
    field: str | None = None,
    detail: str | None = None,
    limit: int = 1000,
) -> int | None:
    """File a delivery; None when the user's inbox already holds ``limit`` open entries
    (the inbox is bounded per user, so one misconfigured store cannot fill the disk).
    Deliveries refused for their signature have their own room (``keep_signature_failure``)
    and do not count here."""
    if kind == "quarantined" and reason != SIGNATURE_FAILURE:
        open_entries = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE user_id = $1 AND state = 'open'"
            " AND reason IS DISTINCT FROM $2",
            delivery.user_id,
            SIGNATURE_FAILURE,
        )
        if open_entries >= limit:
            log.warning(
                "inbox of user %s is full (%d open entries): a %s delivery (%s) was not kept",
                delivery.user_id,
                open_entries,
                delivery.platform,
                reason,
            )
            return None
    inbox_id = await conn.fetchval(
        "INSERT INTO inbox (user_id, platform, endpoint, kind, reason, field, detail,"
        " headers, body, body_sha256, received_at, state)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)"
        " RETURNING inbox_id",
        delivery.user_id,
        delivery.platform,
        delivery.kind,
        kind,
        reason,
        field,
        detail,
        to_json(delivery.headers),
        delivery.body,
        delivery.body_sha256,
        delivery.received_at,
        "open" if kind == "quarantined" else "seen",
    )
    if kind == "ping":
        await conn.execute(
            "DELETE FROM inbox WHERE user_id = $1 AND kind = 'ping' AND inbox_id NOT IN"
            " (SELECT inbox_id FROM inbox WHERE user_id = $1 AND kind = 'ping'"
            "  ORDER BY inbox_id DESC LIMIT $2)",
            delivery.user_id,
            PINGS_KEPT,
        )
    return int(inbox_id)


def _entry(row: Any) -> dict[str, Any]:
    item = dict(row)
    item["received_at"] = item["received_at"].isoformat()
    if item["reprocessed_at"] is not None:
        item["reprocessed_at"] = item["reprocessed_at"].isoformat()
    item["outcome"] = orjson.loads(item["outcome"]) if item["outcome"] else None
    return item


_COLUMNS = """
inbox_id, platform, endpoint, kind, reason, field, detail, body_sha256, length(body) AS size,
received_at, state, reprocessed_at, outcome
"""


async def list_entries(
    conn: asyncpg.Connection, user_id: UUID, *, limit: int, before: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM inbox WHERE user_id = $1"  # noqa: S608 (constant columns)
        " AND ($2::bigint IS NULL OR inbox_id < $2) ORDER BY inbox_id DESC LIMIT $3",
        user_id,
        before,
        limit + 1,
    )
    page = rows[:limit]
    next_before = page[-1]["inbox_id"] if len(rows) > limit else None
    return [_entry(r) for r in page], next_before


async def get_entry(
    conn: asyncpg.Connection, user_id: UUID, inbox_id: int
) -> dict[str, Any] | None:
    """One entry of the user's, as list_entries shows it; None when they have no such one
    (never had, or dismissed)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM inbox WHERE user_id = $1 AND inbox_id = $2",  # noqa: S608
        user_id,
        inbox_id,
    )
    return None if row is None else _entry(row)


async def open_quarantined(
    conn: asyncpg.Connection, user_id: UUID, inbox_id: int | None = None
) -> list[tuple[int, SpooledDelivery]]:
    rows = await conn.fetch(
        "SELECT inbox_id, platform, endpoint, headers, body, received_at FROM inbox"
        " WHERE user_id = $1 AND kind = 'quarantined' AND state = 'open'"
        " AND ($2::bigint IS NULL OR inbox_id = $2) ORDER BY inbox_id",
        user_id,
        inbox_id,
    )
    return [
        (
            r["inbox_id"],
            SpooledDelivery(
                user_id=user_id,
                platform=r["platform"],
                kind=r["endpoint"],
                headers=orjson.loads(r["headers"]),
                body=bytes(r["body"]),
                received_at=r["received_at"],
                entry_id=f"inbox-{r['inbox_id']}",
            ),
        )
        for r in rows
    ]


async def mark_reprocessed(
    conn: asyncpg.Connection, inbox_id: int, outcome: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        "UPDATE inbox SET state = 'reprocessed', reprocessed_at = $2, outcome = $3::jsonb"
        " WHERE inbox_id = $1",
        inbox_id,
        at,
        to_json(outcome),
    )


async def still_quarantined(
    conn: asyncpg.Connection, inbox_id: int, reason: str, field: str | None, detail: str
) -> None:
    await conn.execute(
        "UPDATE inbox SET reason = $2, field = $3, detail = $4 WHERE inbox_id = $1",
        inbox_id,
        reason,
        field,
        detail,
    )


async def dismiss(
    conn: asyncpg.Connection, user_id: UUID, *, inbox_id: int | None, pings: bool
) -> int:
    """Delete one entry of the user's (``inbox_id``) or all their pings; returns how many.

    What a merchant dismisses is gone: it was a body the ledger could not use and the
    merchant has looked at, or a ping. Entries already reprocessed are in the ledger."""
    if pings:
        found = await conn.fetch(
            "DELETE FROM inbox WHERE user_id = $1 AND kind = 'ping' RETURNING inbox_id", user_id
        )
    else:
        found = await conn.fetch(
            "DELETE FROM inbox WHERE user_id = $1 AND inbox_id = $2 RETURNING inbox_id",
            user_id,
            inbox_id,
        )
    return len(found)
