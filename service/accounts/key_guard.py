"""One server key per database: its fingerprint is kept in the database (table server_key,
migrations/0010_store_connections.sql), recorded the first time a key is used there.

A ``ledger`` command run where var/secret.key is another file (or with LEDGER_SECRET_KEY set
otherwise) would silently make or use another key, seal new secrets with it, and the service
would then refuse every delivery of those users. ``checked_key`` refuses such a key while
anything sealed is kept (signing secrets, store connections), before it seals anything, and
without making a key file afresh; with nothing sealed yet, the key in use is recorded instead.
The fingerprint is an HMAC under the key: it tells keys apart and reveals nothing of one.
"""

from __future__ import annotations

import hashlib
import hmac

import asyncpg

from service.accounts.sealing import server_key
from service.settings import Settings

_LABEL = b"ledger server key fingerprint v1"
_SEALED = (
    "SELECT EXISTS (SELECT 1 FROM user_secrets"
    "  WHERE secret_sealed IS NOT NULL OR previous_sealed IS NOT NULL)"
    " OR EXISTS (SELECT 1 FROM store_connections)"
)


class ServerKeyChangedError(Exception):
    """The server key is not the one this database's secrets are sealed with"""


def fingerprint(key: bytes) -> bytes:
    return hmac.new(key, _LABEL, hashlib.sha256).digest()


def _changed(settings: Settings) -> ServerKeyChangedError:
    # One line, naming where the key comes from: never the key, nor its fingerprint.
    path = settings.secret_key_file
    if settings.secret_key is not None:
        return ServerKeyChangedError(
            f"LEDGER_SECRET_KEY holds another key: set it as the service has it, or unset it"
            f" to use {path}"
        )
    return ServerKeyChangedError(
        f"{path} is missing or holds another key: put back the service's, or set"
        " LEDGER_SECRET_KEY to it"
    )


async def checked_key(conn: asyncpg.Connection, settings: Settings) -> bytes:
    """The server key (sealing.server_key), once it is known to be this database's."""
    async with conn.transaction():
        # One process at a time records or replaces it.
        await conn.execute("LOCK TABLE server_key IN SHARE ROW EXCLUSIVE MODE")
        stored = await conn.fetchval("SELECT fingerprint FROM server_key")
        sealed = stored is not None and bool(await conn.fetchval(_SEALED))
        if sealed and settings.secret_key is None and not settings.secret_key_file.exists():
            raise _changed(settings)  # a key made now could not be theirs: make none
        key = server_key(settings)
        if stored is not None and hmac.compare_digest(bytes(stored), fingerprint(key)):
            return key
        if sealed:
            raise _changed(settings)
        await conn.execute(
            "INSERT INTO server_key (fingerprint) VALUES ($1)"
            " ON CONFLICT (only_row) DO UPDATE SET fingerprint = excluded.fingerprint,"
            " recorded_at = now()",
            fingerprint(key),
        )
    return key
