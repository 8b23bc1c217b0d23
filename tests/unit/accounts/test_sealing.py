"""The service's key (LEDGER_SESSION_KEY or var/session.key) and sealed tokens; and the
console's settings as read from the environment."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from service.accounts.sealing import TokenSealer, master_key
from service.settings import Settings, SettingsError


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path):
    settings = Settings(session_key_file=tmp_path / "var" / "session.key")
    key = master_key(settings)
    Fernet(key)
    mode = stat.S_IMODE(settings.session_key_file.stat().st_mode)
    assert mode == 0o600
    assert master_key(settings) == key  # read back, not made again


def test_the_setting_wins_and_a_bad_key_is_refused(tmp_path: Path):
    given = Fernet.generate_key().decode()
    settings = Settings(session_key=given, session_key_file=tmp_path / "unused.key")
    assert master_key(settings) == given.encode()
    assert not settings.session_key_file.exists()
    with pytest.raises(SettingsError, match="LEDGER_SESSION_KEY must be 32 url-safe"):
        master_key(Settings(session_key="short", session_key_file=tmp_path / "k"))
    bad_file = tmp_path / "bad.key"
    bad_file.write_text("not a key\n")
    with pytest.raises(SettingsError, match=r"bad\.key must be 32"):
        master_key(Settings(session_key_file=bad_file))


def test_a_sealed_token_opens_only_under_its_key():
    key = Fernet.generate_key()
    sealed = TokenSealer(key).seal("whk_secret")
    assert b"whk_secret" not in sealed
    assert TokenSealer(key).open(sealed) == "whk_secret"
    assert TokenSealer(Fernet.generate_key()).open(sealed) is None
    # Derived, not the key itself: the session cookies' Fernet cannot open a sealed token.
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x"
    with pytest.raises(InvalidToken):
        Fernet(key).decrypt(sealed)


def test_the_console_settings_from_the_environment():
    settings = Settings.from_env(
        {
            "LEDGER_SESSION_KEY": "k",
            "LEDGER_SESSION_HOURS": "2",
            "LEDGER_PUBLIC_URL": "https://ledger.example.com/",
        }
    )
    assert settings.session_key == "k"
    assert settings.session_lifetime == timedelta(hours=2)
    assert settings.public_url == "https://ledger.example.com"
    defaults = Settings.from_env({})
    assert defaults.session_key is None and defaults.public_url is None
    assert defaults.session_lifetime == timedelta(hours=12)
    for bad in ("ledger.example.com", "ftp://x", "https://", "https://x/?a=1"):
        with pytest.raises(SettingsError, match="LEDGER_PUBLIC_URL"):
            Settings.from_env({"LEDGER_PUBLIC_URL": bad})
    with pytest.raises(SettingsError, match="LEDGER_SESSION_HOURS"):
        Settings.from_env({"LEDGER_SESSION_HOURS": "0"})
