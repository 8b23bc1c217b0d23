"""One store per connection: the first delivery naming its store binds it.

WooCommerce names the shop in ``X-WC-Webhook-Source`` (its home URL, "https://shop.example/"),
Shopify in ``X-Shopify-Shop-Domain`` ("shop.myshopify.com"). Once a user's platform is bound,
a delivery naming another store is refused, so that order 17 of store B is never taken for a
duplicate of order 17 of store A. A delivery naming no store (a curl test) is accepted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg

from service.accounts import users
from service.accounts.secrets import check_platform


def normalise_source(value: str) -> str:
    """The store name as compared and stored: scheme and host lower-cased, no trailing slash.

    The path keeps its case: two WordPress sites in different folders are different stores.
    """
    value = value.strip()
    if "://" in value:
        parts = urlsplit(value)
        value = urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()))
    else:
        host, slash, path = value.partition("/")
        value = host.lower() + slash + path
    return value.rstrip("/")


async def may_come_from(
    conn: asyncpg.Connection, user_id: UUID, platform: str, source: str | None
) -> bool:
    """Whether a delivery naming ``source`` may be recorded for this connection: it names no
    store, or the bound one, or none is bound yet. Reads only: a delivery binds its store
    when it is recorded (``check_source`` in the same transaction), so one that is
    quarantined never binds a store (a forged ``{}`` from another shop would lock the real
    one out)."""
    check_platform(platform)
    if source is None or not normalise_source(source):
        return True
    bound = await conn.fetchval(
        "SELECT source FROM store_bindings WHERE user_id = $1 AND platform = $2",
        user_id,
        platform,
    )
    return matches(bound, source)


def matches(bound: str | None, source: str) -> bool:
    """Whether a delivery naming ``source`` fits the store bound (None: none is yet)."""
    return bound is None or bound == normalise_source(source)


def binding(platform: str, source: str | None) -> tuple[str, str] | None:
    """What a delivery naming ``source`` binds when it is recorded: (platform, the store's
    normalised name); None when it names no store (a curl test), which binds nothing."""
    check_platform(platform)
    if source is None or not normalise_source(source):
        return None
    return platform, normalise_source(source)


async def check_source(
    conn: asyncpg.Connection, user_id: UUID, platform: str, source: str | None
) -> bool:
    """Whether a delivery naming ``source`` belongs to this user's connection.

    The first store named binds. Insert-then-compare is race-safe under READ COMMITTED (the
    default): a concurrent first delivery from another store waits on our uncommitted row and
    then sees it, so exactly one binds. Under REPEATABLE READ the loser gets a serialization
    failure instead, to be retried by the caller.
    """
    check_platform(platform)
    if source is None or not normalise_source(source):
        return True
    source = normalise_source(source)
    await conn.execute(
        "INSERT INTO store_bindings (user_id, platform, source) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id, platform) DO NOTHING",
        user_id,
        platform,
        source,
    )
    # A separate statement: under READ COMMITTED it sees a row committed while we waited.
    bound = await conn.fetchval(
        "SELECT source FROM store_bindings WHERE user_id = $1 AND platform = $2",
        user_id,
        platform,
    )
    return bool(bound == source)


async def unbind(conn: asyncpg.Connection, name: str, platform: str) -> bool:
    """Forget the store bound to the user's platform; True when one was bound."""
    check_platform(platform)
    user_id = await users.user_id_by_name(conn, name)
    deleted = await conn.fetchval(
        "DELETE FROM store_bindings WHERE user_id = $1 AND platform = $2 RETURNING source",
        user_id,
        platform,
    )
    return deleted is not None


async def bindings_for(conn: asyncpg.Connection, user_id: UUID) -> dict[str, dict[str, Any]]:
    """Per bound platform: ``{"source": ..., "bound_at": ...}``."""
    rows = await conn.fetch(
        "SELECT platform, source, bound_at FROM store_bindings WHERE user_id = $1"
        " ORDER BY platform",
        user_id,
    )
    return {r["platform"]: {"source": r["source"], "bound_at": r["bound_at"]} for r in rows}
