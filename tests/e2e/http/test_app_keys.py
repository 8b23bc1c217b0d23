"""The app factory touches no file: the server key is loaded (and checked against the one the
database's secrets are sealed with) when the app starts, by a cleanup_ctx."""

from __future__ import annotations

from pathlib import Path

from service.accounts.sealing import server_key
from service.http.app import create_app
from service.http.keys import KEYRING, TOKEN_SEALER
from service.settings import Settings
from tests.support import server_keyring, start_client


async def test_the_key_is_loaded_at_startup_not_by_the_factory(settings: Settings, tmp_path: Path):
    path = tmp_path / "var" / "secret.key"
    mine = Settings(
        database_url=settings.database_url,
        spool_dir=settings.spool_dir,
        max_loop_lag=settings.max_loop_lag,
        backfill_interval=0,
        secret_key_file=path,
    )
    create_app(mine)
    assert not path.exists()
    # The server key is put there before the start (a fresh one would not be the database's).
    path.parent.mkdir(parents=True)
    path.write_bytes(server_key(Settings()) + b"\n")
    client = await start_client(mine)
    try:
        app = client.server.app
        assert app[KEYRING].open(server_keyring().seal("cs_secret")) == "cs_secret"
        sealer = app[TOKEN_SEALER]
        assert sealer.open(sealer.seal("the-token")) == "the-token"
    finally:
        await client.close()
