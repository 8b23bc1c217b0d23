"""The server key a database's secrets are sealed with is recorded there by its fingerprint:
a ``ledger`` command or a service using another key (LEDGER_SECRET_KEY set otherwise, or a
var/secret.key made afresh elsewhere) refuses in one line, instead of sealing new secrets
that the service, with the right key, would then refuse every delivery of."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.accounts import key_guard
from service.accounts import secrets as signing
from service.accounts.sealing import server_key
from service.settings import Settings
from tests.support import create_merchant, ledger, server_keyring

OTHER = {"LEDGER_SECRET_KEY": Fernet.generate_key().decode()}
SECRET = "whsec-the-first-one-5c4b3a"


async def _sealed_under_the_server_key(pool: asyncpg.Pool, database_url: str) -> str:
    """A user with a signing secret set by ``ledger`` itself (so the key is recorded)."""
    shop = await create_merchant(pool)
    code, _, err = await ledger(
        database_url, "users", "set-secret", shop.name, "woocommerce", stdin=SECRET.encode()
    )
    assert code == 0, err
    return shop.name


def _refusal(err: str) -> None:
    assert err.count("\n") == 1, err
    assert "LEDGER_SECRET_KEY" in err and str(Settings().secret_key_file) in err
    assert "Traceback" not in err and SECRET not in err


async def test_a_command_with_another_server_key_is_refused(pool: asyncpg.Pool, database_url: str):
    name = await _sealed_under_the_server_key(pool, database_url)
    code, _, err = await ledger(
        database_url, "users", "set-secret", name, "woocommerce", stdin=b"whsec-x", env=OTHER
    )
    assert code == 2, err
    _refusal(err)
    code, _, err = await ledger(
        database_url,
        "connect", "--user", name, "shopify", "--shop", "my-shop",
        stdin=b"shpat_0123456789abcdef", env=OTHER,
    )  # fmt: skip
    assert code == 2, err
    _refusal(err)
    async with pool.acquire() as conn:
        user_id = await conn.fetchval("SELECT user_id FROM users WHERE name = $1", name)
        now = await conn.fetchval("SELECT now()")
        kept = await signing.secrets_for(conn, user_id, "woocommerce", now, server_keyring())
        connected = await conn.fetchval(
            "SELECT count(*) FROM store_connections WHERE user_id = $1", user_id
        )
    assert (kept, connected) == ([SECRET], 0)  # nothing was sealed under the other key


async def test_the_service_with_another_server_key_refuses_to_start(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
):
    await _sealed_under_the_server_key(pool, database_url)
    env = {
        **os.environ,
        **OTHER,
        "DATABASE_URL": database_url,
        "LEDGER_SPOOL_DIR": str(tmp_path / "spool"),
        "LEDGER_BACKFILL_INTERVAL": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.cli", "serve", "--port", "0"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:  # it started after all: stop it
            proc.kill()
            await proc.wait()
    assert proc.returncode == 2, err
    _refusal(err.decode())


async def test_a_missing_key_file_is_not_made_afresh_while_secrets_are_sealed(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
):
    await _sealed_under_the_server_key(pool, database_url)
    elsewhere = Settings(database_url=database_url, secret_key_file=tmp_path / "var" / "secret.key")
    async with pool.acquire() as conn:
        with pytest.raises(key_guard.ServerKeyChangedError) as caught:
            await key_guard.checked_key(conn, elsewhere)
        assert str(elsewhere.secret_key_file) in str(caught.value)
        assert not elsewhere.secret_key_file.exists()
        # The right key passes, and the fingerprint reveals nothing of it.
        assert await key_guard.checked_key(conn, Settings()) == server_key(Settings())
        stored = await conn.fetchval("SELECT fingerprint FROM server_key")
    assert stored == key_guard.fingerprint(server_key(Settings()))
    assert server_key(Settings()) not in bytes(stored)
