"""The app factory touches no file: the server key (checked against the one the database's
secrets are sealed with) and the console's session key are loaded when the app starts, by a
cleanup_ctx."""

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
        session_key_file=tmp_path / "var" / "session.key",
    )
    create_app(mine)
    assert not path.exists() and not mine.session_key_file.exists()
    # The server key is put there before the start (a fresh one would not be the database's).
    path.parent.mkdir(parents=True)
    path.write_bytes(server_key(Settings()) + b"\n")
    client = await start_client(mine)
    try:
        app = client.server.app
        assert app[KEYRING].open(server_keyring().seal("cs_secret")) == "cs_secret"
        sealer = app[TOKEN_SEALER]
        assert sealer.open(sealer.seal("the-token")) == "the-token"
        # The console's sessions use the session key made at the start.
        assert mine.session_key_file.exists()
        answer = await client.get("/console/login", allow_redirects=False)
        assert answer.status == 200
        assert "ledger_console" in answer.cookies
    finally:
        await client.close()
