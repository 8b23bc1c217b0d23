"""Bringing what is kept at rest under the server key, after the migrations: signing secrets
still in clear are sealed (migrations/0010_store_connections.sql made room for them), and
webhook tokens sealed under the former, session-derived key are sealed again.

SQL cannot do it (the keys are not in the database), so ``ledger db migrate`` runs this
right after the migrations, and the service at each start (a value an older process wrote
during an upgrade is sealed then). Both steps find nothing to do once done.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.accounts import sealing, users
from service.accounts.key_guard import checked_key
from service.accounts.keyring import Keyring
from service.accounts.sealing import TokenSealer
from service.accounts.secrets import seal_clear_secrets
from service.settings import Settings


@dataclass(frozen=True)
class Sealed:
    secrets: int  # user_secrets rows whose clear values were sealed
    tokens: int  # webhook tokens moved to the server key


async def seal_at_rest(conn: asyncpg.Connection, settings: Settings) -> Sealed:
    key = await checked_key(conn, settings)  # ServerKeyChangedError: another key
    secrets = await seal_clear_secrets(conn, Keyring(key))
    tokens = await users.reseal_tokens(conn, sealing.former_sealer(settings), TokenSealer(key))
    return Sealed(secrets, tokens)
