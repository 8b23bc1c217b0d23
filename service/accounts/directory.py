"""Who may deliver what, cached in the process: token hashes, signing secrets, store bindings.

A webhook needs all three before it can be recorded, and they change rarely (a rotation, a
new secret, the first delivery of a store), so reading them from the database on every
delivery costs round trips for nothing. Each is kept as a copy of its whole table, loaded on
first use. Any change to those tables is announced on ``ledger_accounts`` by a trigger when
it commits (migrations/0007_append_function.sql), whichever process made it, and
``listen()`` drops the changed copy at once: a rotated token stops working in this process
as soon as PostgreSQL delivers the notification (milliseconds; the test bounds it at 1 s).

The copies are trusted only while the listening connection is up: until it is connected,
and from the moment it is lost until it is back (when every copy is dropped, since changes
made meanwhile were not heard), every lookup reads the database as before. A copy loaded
while a change was announced is not kept (each table's generation counts the changes).

Only what lets a delivery in is taken from a copy. Before refusing anything (an unknown
token, a signature that matches no cached secret, a store that is not the cached binding)
the table is read again, so a change that lets more in (a new user, a new secret, an unbind)
holds at once everywhere, and only a change that shuts something out (a rotated token, a
replaced secret) waits for its notification, within the bound above. The append checks the
store binding itself (ledger_append), so a stale binding can never record a foreign store.

Tokens are looked up by their SHA-256 (service/accounts/users.py): the dictionary lookup
compares digests, which an attacker cannot choose, so it leaks nothing a constant-time
comparison would protect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from service.accounts.keyring import Keyring
from service.accounts.secrets import SIGNING_COLUMNS, row_secrets
from service.accounts.users import secret_hash
from service.store.db import is_unavailable

log = logging.getLogger(__name__)

CHANNEL = "ledger_accounts"
# Seconds between the listener's checks that its connection still answers (and how long an
# answer may take): the longest a silently dead connection keeps stale copies trusted.
HEARTBEAT = 1.0
TABLES = ("users", "user_secrets", "store_bindings")

T = TypeVar("T")


@dataclass(frozen=True)
class SecretRow:
    secret: str | None
    previous_secret: str | None
    previous_valid_until: datetime | None


_LOADS: dict[str, str] = {
    "users": "SELECT token_hash, user_id FROM users",
    "user_secrets": f"SELECT user_id, platform, {SIGNING_COLUMNS} FROM user_secrets",  # noqa: S608
    "store_bindings": "SELECT user_id, platform, source FROM store_bindings",
}


# The reads before a refusal: one row, by key, never a whole table.
_SIGNING_ROW = (
    f"SELECT {SIGNING_COLUMNS} FROM user_secrets"  # noqa: S608 (a constant)
    " WHERE user_id = $1 AND platform = $2"
)
_ONE_BINDING = "SELECT source FROM store_bindings WHERE user_id = $1 AND platform = $2"


def _secret_row(keyring: Keyring, r: Any) -> SecretRow:
    """A user_secrets row with its secrets in clear (kept sealed at rest; a plain value an
    older process wrote counts too: secrets.row_secrets)."""
    return SecretRow(*row_secrets(keyring, r), r["previous_valid_until"])


def _shape(table: str, rows: list[Any], keyring: Keyring) -> dict[Any, Any]:
    if table == "users":
        return {bytes(r["token_hash"]): r["user_id"] for r in rows}
    if table == "user_secrets":
        return {(r["user_id"], r["platform"]): _secret_row(keyring, r) for r in rows}
    return {(r["user_id"], r["platform"]): r["source"] for r in rows}


class Directory:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.listening = False
        self._copies: dict[str, dict[Any, Any]] = {}
        self._generations = dict.fromkeys(TABLES, 0)
        self.loads = 0  # how many times a table was read (tests and the benchmark look)

    def changed(self, table: str | None = None) -> None:
        """Drop the copy of ``table`` (None: of every table)."""
        for name in TABLES if table is None else (table,):
            if name in self._generations:
                self._generations[name] += 1
                self._copies.pop(name, None)

    async def _table(self, conn: asyncpg.Connection, table: str) -> dict[Any, Any]:
        copy = self._copies.get(table) if self.listening else None
        if copy is not None:
            return copy
        generation = self._generations[table]
        copy = _shape(table, list(await conn.fetch(_LOADS[table])), self.keyring)
        self.loads += 1
        if self.listening and generation == self._generations[table]:
            self._copies[table] = copy
        return copy

    def generation(self, table: str) -> int:
        """How many changes of ``table`` this process has heard of (or assumed, on a lost
        listener): a copy loaded before the latest is not used."""
        return self._generations[table]

    def cached(self, table: str) -> bool:
        """Whether lookups in ``table`` are answered from the copy (else they read it)."""
        return self.listening and table in self._copies

    def known_user(self, token: str) -> UUID | None:
        """The token's user from the copy alone (None: not there, or no copy to trust)."""
        copy = self._copies.get("users") if self.listening else None
        found: UUID | None = None if copy is None else copy.get(secret_hash(token))
        return found

    async def user_for_token(self, conn: asyncpg.Connection, token: str) -> UUID | None:
        digest = secret_hash(token)
        found = (await self._table(conn, "users")).get(digest)
        if found is None and self.cached("users"):
            # A refusal is never taken from the copy: a user created a moment ago, in
            # another process, is accepted at once. One indexed read, as before the cache
            # (never the whole table: an unknown token needs no credentials to send).
            found = await conn.fetchval("SELECT user_id FROM users WHERE token_hash = $1", digest)
        return found

    async def secret_row(
        self, conn: asyncpg.Connection, user_id: UUID, platform: str, fresh: bool = False
    ) -> SecretRow | None:
        """The user's signing secrets; ``fresh`` reads the table (before refusing a
        signature, so that a secret set a moment ago elsewhere is honoured at once)."""
        if fresh:
            row = await conn.fetchrow(_SIGNING_ROW, user_id, platform)
            return None if row is None else _secret_row(self.keyring, row)
        found = (await self._table(conn, "user_secrets")).get((user_id, platform))
        return found

    async def bound_source(
        self, conn: asyncpg.Connection, user_id: UUID, platform: str, fresh: bool = False
    ) -> str | None:
        """The store bound to the user's platform; ``fresh`` reads the table (before
        refusing a delivery, so that an unbind made a moment ago elsewhere holds at once;
        accepting needs no such care: the append checks the binding itself)."""
        if fresh:
            value = await conn.fetchval(_ONE_BINDING, user_id, platform)
            return None if value is None else str(value)
        found = (await self._table(conn, "store_bindings")).get((user_id, platform))
        return found

    async def listen(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        """Hear changes until cancelled, reconnecting with backoff; the copies are used
        only while this runs connected."""
        delay = 0.5
        while True:
            conn = None
            try:
                conn = await connect()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._heard)
                # Changes made before this point were not heard: start from nothing.
                self.changed()
                self.listening = True
                delay = 0.5
                await self._keep_alive(conn, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_unavailable(exc) and not isinstance(exc, TimeoutError):
                    log.exception("listening for account changes failed; retrying")
            finally:
                self.listening = False
                self.changed()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    async def _keep_alive(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is lost or stops answering. A connection that went
        half-open (a NAT or load balancer dropped it silently) reports nothing by itself and
        would hear nothing: a query every HEARTBEAT seconds, answered within as long, is
        what keeps the copies trusted."""
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), HEARTBEAT)
            except TimeoutError:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), HEARTBEAT)

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self.changed(payload or None)
