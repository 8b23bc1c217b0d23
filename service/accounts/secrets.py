"""Signing secrets per user and platform, and the check of a delivery's HMAC signature.

A secret cannot be hashed, because verifying a delivery means computing HMAC-SHA256 of its
raw body with that same key: it is kept sealed with the server key (keyring.py) and opened
where it is read. When a secret is replaced or cleared it stays
valid as the previous one for a grace period, so that deliveries signed before the merchant
updated the store are not lost. Nothing here logs a secret or puts one in an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from aggregates.values import PLATFORMS
from service.accounts import users
from service.accounts.keyring import Keyring, SealedWithAnotherKeyError
from service.adapters import registry
from service.adapters.headers import header

MAX_SECRET_CHARS = 1024

SIGNATURE_VALID = "signature_valid"
MISSING_SIGNATURE = "missing_signature"
INVALID_SIGNATURE = "invalid_signature"

log = logging.getLogger(__name__)

_DIGEST_SIZE = hashlib.sha256().digest_size
_PLAIN = ("secret", "previous_secret")
# Every read of a user_secrets row takes these (see row_secrets).
SIGNING_COLUMNS = "secret, secret_sealed, previous_secret, previous_sealed, previous_valid_until"


class UnknownPlatformError(ValueError):
    """The platform is woocommerce or shopify."""


class EmptySecretError(ValueError):
    """The signing secret is empty or only whitespace."""


class SecretTooLongError(ValueError):
    """The signing secret is longer than 1024 characters."""


class SecretNotTextError(ValueError):
    """The signing secret is not text (not valid UTF-8, or it holds a NUL character)."""


def check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise UnknownPlatformError(platform)
    return platform


def _check_secret(secret: str, where: str) -> None:
    # The exceptions name the user and platform only: never the secret, nor a piece of it.
    if not secret.strip():
        raise EmptySecretError(where)
    if len(secret) > MAX_SECRET_CHARS:
        raise SecretTooLongError(where)
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        raise SecretNotTextError(where) from None
    if "\x00" in secret:  # PostgreSQL text cannot hold it
        raise SecretNotTextError(where)


async def set_secret(
    conn: asyncpg.Connection,
    name: str,
    platform: str,
    secret: str,
    grace: timedelta,
    keyring: Keyring,
) -> None:
    """Make ``secret`` current; the one it replaces stays valid until now() + ``grace``.

    Only the latest replaced secret is kept: a second change within the grace period ends the
    first one's at once. A secret cleared earlier, still in its grace period, stays as it is.
    """
    check_platform(platform)
    _check_secret(secret, f"{name}/{platform}")
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    user_id = await users.user_id_by_name(conn, name)
    # A plain value an older process wrote is sealed first, so that it is what is replaced.
    await seal_clear_secrets(conn, keyring)
    await conn.execute(
        "INSERT INTO user_secrets AS s (user_id, platform, secret_sealed, set_at)"
        " VALUES ($1, $2, $3, now())"
        " ON CONFLICT (user_id, platform) DO UPDATE SET"
        "  previous_sealed = coalesce(s.secret_sealed, s.previous_sealed),"
        "  previous_valid_until = CASE WHEN s.secret_sealed IS NULL"
        "   THEN s.previous_valid_until ELSE now() + $4::interval END,"
        "  secret_sealed = excluded.secret_sealed, set_at = excluded.set_at",
        user_id,
        platform,
        keyring.seal(secret),
        grace,
    )


async def clear_secret(
    conn: asyncpg.Connection, name: str, platform: str, grace: timedelta
) -> None:
    """Turn verification off: the token alone authenticates again.

    The cleared secret is remembered as the previous one until now() + ``grace``; it verifies
    nothing while no secret is current, but if a new one is set within the grace period the
    cleared one still counts, like any replaced secret.
    """
    check_platform(platform)
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    user_id = await users.user_id_by_name(conn, name)
    # A plain current value (an older process wrote it) is cleared too: it moves to the
    # plain previous column, which the next seal_clear_secrets seals.
    await conn.execute(
        "UPDATE user_secrets SET"
        " previous_sealed = CASE WHEN secret IS NULL THEN secret_sealed END,"
        " previous_secret = secret, previous_valid_until = now() + $3::interval,"
        " secret_sealed = NULL, secret = NULL, set_at = NULL"
        " WHERE user_id = $1 AND platform = $2"
        " AND (secret_sealed IS NOT NULL OR secret IS NOT NULL)",
        user_id,
        platform,
        grace,
    )


async def secrets_for(
    conn: asyncpg.Connection, user_id: UUID, platform: str, now: datetime, keyring: Keyring
) -> list[str]:
    """The secrets a delivery may be signed with; [] when verification is off."""
    check_platform(platform)
    row = await conn.fetchrow(
        f"SELECT {SIGNING_COLUMNS} FROM user_secrets"  # noqa: S608 (a constant)
        " WHERE user_id = $1 AND platform = $2",
        user_id,
        platform,
    )
    if row is None:
        return []
    return candidates(*row_secrets(keyring, row), row["previous_valid_until"], now)


def opened(keyring: Keyring, sealed: bytes | None) -> str | None:
    """A sealed secret in clear. One sealed with another key cannot be opened: it becomes a
    random secret, so that the deliveries it should verify are refused (and quarantined),
    never let in unverified as if verification were off."""
    if sealed is None:
        return None
    try:
        return keyring.open(sealed)
    except SealedWithAnotherKeyError:
        log.error("a signing secret was sealed with another server key: set it again")
        return keyring.unopenable


def row_secrets(keyring: Keyring, row: Any) -> tuple[str | None, str | None]:
    """A user_secrets row's current and previous secrets, in clear. A plain column that is
    not NULL (an older process wrote it during an upgrade; the next seal_clear_secrets seals
    it) is the newer value and counts: a row holding one never reads as "verification off"."""
    return (
        row["secret"] if row["secret"] is not None else opened(keyring, row["secret_sealed"]),
        row["previous_secret"]
        if row["previous_secret"] is not None
        else opened(keyring, row["previous_sealed"]),
    )


async def seal_clear_secrets(conn: asyncpg.Connection, keyring: Keyring) -> int:
    """Seal the signing secrets still kept in clear (a database from before migration 0010,
    or a value an older process wrote during an upgrade) and clear the plain columns;
    returns how many rows changed. Run after the migrations, by `ledger db migrate` and at
    the service's start. A plain value is the newer: it replaces a sealed one."""
    changed = 0
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT user_id, platform, secret, previous_secret FROM user_secrets"
            " WHERE secret IS NOT NULL OR previous_secret IS NOT NULL FOR UPDATE"
        )
        for row in rows:
            sealed = [None if row[c] is None else keyring.seal(row[c]) for c in _PLAIN]
            await conn.execute(
                "UPDATE user_secrets SET secret_sealed = coalesce($3, secret_sealed),"
                " previous_sealed = coalesce($4, previous_sealed),"
                " secret = NULL, previous_secret = NULL"
                " WHERE user_id = $1 AND platform = $2",
                row["user_id"],
                row["platform"],
                *sealed,
            )
            changed += 1
    return changed


def candidates(
    secret: str | None, previous: str | None, previous_valid_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets a delivery may be signed with at ``now``, given a user_secrets row: the
    current one, and the previous one until its grace ends; [] when verification is off."""
    if secret is None:
        return []
    found = [secret]
    if (
        previous is not None
        and previous != secret
        and previous_valid_until is not None
        and now < previous_valid_until
    ):
        found.append(previous)
    return found


async def secret_status(conn: asyncpg.Connection, user_id: UUID) -> dict[str, dict[str, Any]]:
    """Per platform with a row: when the current secret was set and until when the previous
    one is valid (either may be None). Never the secrets themselves."""
    rows = await conn.fetch(
        "SELECT platform, set_at, previous_valid_until FROM user_secrets WHERE user_id = $1",
        user_id,
    )
    return {
        r["platform"]: {"set_at": r["set_at"], "previous_valid_until": r["previous_valid_until"]}
        for r in rows
    }


def signature(body: bytes, secret: str) -> str:
    """The base64 HMAC-SHA256 of ``body`` under ``secret``, as the platforms send it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(platform: str, headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> str:
    """Check a delivery's signature against every candidate secret, in constant time each.

    ``body`` must be the raw bytes received: re-serialised JSON never matches. Callers decide
    first whether verification is on (``secrets`` non-empty); with no candidates a signature
    cannot be valid. A malformed header is an invalid signature, never an exception.
    """
    # The header the platform puts its base64 HMAC-SHA256 of the raw body in.
    value = header(headers, registry.PLATFORMS[check_platform(platform)].SIGNATURE_HEADER)
    if value is None:
        return MISSING_SIGNATURE
    try:
        claimed = base64.b64decode(value.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        return INVALID_SIGNATURE
    if len(claimed) != _DIGEST_SIZE:
        return INVALID_SIGNATURE
    valid = False
    # Every candidate is compared, so the time taken does not tell which one matched.
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        valid |= hmac.compare_digest(expected, claimed)
    return SIGNATURE_VALID if valid else INVALID_SIGNATURE
