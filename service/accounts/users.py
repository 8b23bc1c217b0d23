"""Users and their secrets: the webhook token (in the URL) and the API key (for queries).

Secrets are shown once at creation or rotation and stored only as sha256 hashes; a lookup
by hash followed by a constant-time comparison never reveals how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from service.accounts.sealing import TokenSealer

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TOKEN_PREFIX = "whk_"  # noqa: S105 (a visible prefix, not a secret)
API_KEY_PREFIX = "key_"


class UserExistsError(Exception):
    """A user with this name already exists."""


class UnknownUserError(Exception):
    """No user has this name."""


class InvalidUserNameError(ValueError):
    """A user name is 1-64 letters, digits, dots, dashes or underscores, starting alphanumeric."""


@dataclass(frozen=True)
class NewSecrets:
    user_id: UUID
    name: str
    webhook_token: str
    api_key: str


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


async def create_user(
    conn: asyncpg.Connection, name: str, sealer: TokenSealer | None = None
) -> NewSecrets:
    """A new user; with a ``sealer``, the token is also kept sealed for the console."""
    if not NAME_PATTERN.match(name):
        raise InvalidUserNameError(name)
    user = NewSecrets(uuid4(), name, new_secret(TOKEN_PREFIX), new_secret(API_KEY_PREFIX))
    try:
        await conn.execute(
            "INSERT INTO users (user_id, name, token_hash, api_key_hash, token_sealed)"
            " VALUES ($1, $2, $3, $4, $5)",
            user.user_id,
            name,
            secret_hash(user.webhook_token),
            secret_hash(user.api_key),
            None if sealer is None else sealer.seal(user.webhook_token),
        )
    except asyncpg.exceptions.UniqueViolationError:
        raise UserExistsError(name) from None
    return user


# Rotating a token replaces its sealed copy too (NULL without a key to seal the new one).
_ROTATE_SQL = {
    "token": "UPDATE users SET token_hash = $2, token_rotated_at = now(), token_sealed = $3"
    " WHERE name = $1 RETURNING user_id",
    "api_key": "UPDATE users SET api_key_hash = $2, api_key_rotated_at = now()"
    " WHERE name = $1 RETURNING user_id",
}


async def rotate(
    conn: asyncpg.Connection, name: str, which: str, sealer: TokenSealer | None = None
) -> str:
    """Replace the user's webhook token or API key; the old one stops working at once. A new
    token is kept sealed too with a ``sealer`` (without one, no sealed copy is left: it would
    be the old token's)."""
    secret = new_secret(TOKEN_PREFIX if which == "token" else API_KEY_PREFIX)
    args: list[Any] = [name, secret_hash(secret)]
    if which == "token":
        args.append(None if sealer is None else sealer.seal(secret))
    updated = await conn.fetchval(_ROTATE_SQL[which], *args)
    if updated is None:
        raise UnknownUserError(name)
    return secret


async def list_users(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT user_id, name, created_at, token_rotated_at, api_key_rotated_at"
        " FROM users ORDER BY name"
    )
    return [dict(r) for r in rows]


async def user_id_by_name(conn: asyncpg.Connection, name: str) -> UUID:
    user_id = await conn.fetchval("SELECT user_id FROM users WHERE name = $1", name)
    if user_id is None:
        raise UnknownUserError(name)
    return user_id  # type: ignore[no-any-return]


async def _authenticate(conn: asyncpg.Connection, column: str, secret: str) -> UUID | None:
    digest = secret_hash(secret)
    row = await conn.fetchrow(
        f"SELECT user_id, {column} AS h FROM users WHERE {column} = $1",  # noqa: S608
        digest,
    )
    if row is None or not hmac.compare_digest(bytes(row["h"]), digest):
        return None
    return row["user_id"]  # type: ignore[no-any-return]


async def user_for_token(conn: asyncpg.Connection, token: str) -> UUID | None:
    return await _authenticate(conn, "token_hash", token)


async def user_for_api_key(conn: asyncpg.Connection, api_key: str) -> UUID | None:
    return await _authenticate(conn, "api_key_hash", api_key)


async def token_hashes(conn: asyncpg.Connection) -> dict[bytes, UUID]:
    rows = await conn.fetch("SELECT token_hash, user_id FROM users")
    return {bytes(r["token_hash"]): r["user_id"] for r in rows}


class TokenCache:
    """A copy of the token hashes, to authenticate while the database is down.

    Replaced wholesale on every refresh, so a rotated token drops out within one interval.
    With a ``path`` the copy is also kept on disk (hashes only, mode 0600), so a service that
    starts while the database is down still accepts its users' deliveries.
    """

    def __init__(self, path: Path | None = None, database: str = "") -> None:
        self.path = path
        self.database = database  # whose users these are (see db.database_identity)
        self._hashes: dict[bytes, UUID] = {}

    def load(self) -> None:
        if self.path is None:
            return
        try:
            stored = orjson.loads(self.path.read_bytes())
            if stored.get("database") != self.database:
                log.warning("the token cache at %s is another database's: not used", self.path)
                return
            self._hashes = {bytes.fromhex(h): UUID(u) for h, u in stored["hashes"].items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError, KeyError):
            log.warning("no usable token cache at %s", self.path)

    def replace(self, hashes: dict[bytes, UUID]) -> None:
        changed = hashes != self._hashes
        self._hashes = hashes
        if changed and self.path is not None:
            self._save()

    def _save(self) -> None:
        assert self.path is not None
        hashes = {h.hex(): str(u) for h, u in self._hashes.items()}
        data = orjson.dumps({"database": self.database, "hashes": hashes})
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def remember(self, token: str, user_id: UUID) -> None:
        self._hashes = {**self._hashes, secret_hash(token): user_id}

    def user_for_token(self, token: str) -> UUID | None:
        digest = secret_hash(token)
        for known, user_id in self._hashes.items():
            if hmac.compare_digest(known, digest):
                return user_id
        return None


async def name_of(conn: asyncpg.Connection, user_id: UUID) -> str | None:
    name = await conn.fetchval("SELECT name FROM users WHERE user_id = $1", user_id)
    return None if name is None else str(name)


async def api_key_rotated_at(conn: asyncpg.Connection, user_id: UUID) -> tuple[bool, Any]:
    """Whether the user exists, and when their API key was last rotated (None: never)."""
    row = await conn.fetchrow("SELECT api_key_rotated_at FROM users WHERE user_id = $1", user_id)
    return (False, None) if row is None else (True, row["api_key_rotated_at"])


async def revealed_token(
    conn: asyncpg.Connection, user_id: UUID, sealer: TokenSealer
) -> str | None:
    """The user's current webhook token, when it is kept sealed under this key; else None."""
    row = await conn.fetchrow(
        "SELECT token_hash, token_sealed FROM users WHERE user_id = $1", user_id
    )
    if row is None or row["token_sealed"] is None:
        return None
    token = sealer.open(bytes(row["token_sealed"]))
    if token is None or not hmac.compare_digest(secret_hash(token), bytes(row["token_hash"])):
        return None
    return token


async def reseal_tokens(conn: asyncpg.Connection, former: TokenSealer, current: TokenSealer) -> int:
    """Seal again under ``current`` the webhook tokens still sealed under ``former`` (the key
    derived from the session key, before migration 0010); returns how many. One sealed
    under neither stays as it is (the tab asks for a rotation, as it did)."""
    moved = 0
    for row in await conn.fetch(
        "SELECT user_id, token_sealed FROM users WHERE token_sealed IS NOT NULL"
    ):
        sealed = bytes(row["token_sealed"])
        if current.open(sealed) is not None:
            continue
        token = former.open(sealed)
        if token is None:
            continue
        status = await conn.execute(
            "UPDATE users SET token_sealed = $2 WHERE user_id = $1 AND token_sealed = $3",
            row["user_id"],
            current.seal(token),
            sealed,
        )
        moved += status == "UPDATE 1"
    return moved
