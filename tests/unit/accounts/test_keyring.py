"""The server key (LEDGER_SECRET_KEY or var/secret.key), the shapes of store connections, and
the settings of the schedule."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.accounts import secrets as signing
from service.accounts import store_urls
from service.accounts.keyring import Keyring, SealedWithAnotherKeyError
from service.settings import Settings, SettingsError


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path):
    settings = Settings(secret_key_file=tmp_path / "var" / "secret.key")
    sealed = Keyring.from_settings(settings).seal("cs_the-consumer-secret")
    assert stat.S_IMODE(settings.secret_key_file.stat().st_mode) == 0o600
    assert b"cs_the-consumer-secret" not in sealed
    # Read back, not made again: another process opens what this one sealed.
    assert Keyring.from_settings(settings).open(sealed) == "cs_the-consumer-secret"


def test_the_setting_wins_a_bad_one_is_refused_and_another_key_opens_nothing(tmp_path: Path):
    given = Fernet.generate_key().decode()
    settings = Settings(secret_key=given, secret_key_file=tmp_path / "unused.key")
    sealed = Keyring.from_settings(settings).seal("shpat_token")
    assert not settings.secret_key_file.exists()
    assert Keyring(given.encode()).open(sealed) == "shpat_token"
    with pytest.raises(SettingsError, match="LEDGER_SECRET_KEY must be 32 url-safe"):
        Keyring.from_settings(Settings(secret_key="short", secret_key_file=tmp_path / "k"))
    with pytest.raises(SealedWithAnotherKeyError) as caught:
        Keyring(Fernet.generate_key()).open(sealed)
    assert "shpat" not in str(caught.value)


def test_the_key_is_not_the_session_key_and_not_in_the_settings_repr(tmp_path: Path):
    settings = Settings.from_env(
        {
            "LEDGER_SECRET_KEY": "k" * 44,
            "LEDGER_BACKFILL_INTERVAL": "15",
            "DATABASE_URL": "postgresql://h/db",
        }
    )
    assert settings.secret_key == "k" * 44 and settings.session_key is None
    assert "k" * 44 not in repr(settings)
    assert settings.backfill_interval == 15
    assert Settings.from_env({"DATABASE_URL": "postgresql://h/db"}).backfill_interval == 60
    off = Settings.from_env({"LEDGER_BACKFILL_INTERVAL": "0", "DATABASE_URL": "postgresql://h/db"})
    assert off.backfill_interval == 0
    for bad in ("-1", "soon", "99999999"):
        with pytest.raises(SettingsError, match="LEDGER_BACKFILL_INTERVAL"):
            Settings.from_env(
                {"LEDGER_BACKFILL_INTERVAL": bad, "DATABASE_URL": "postgresql://h/db"}
            )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://shop.example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("http://127.0.0.1:8089/wp/", "http://127.0.0.1:8089/wp"),
    ],
)
def test_store_urls_are_kept_as_given(given: str, kept: str):
    assert store_urls.store_url(given) == kept


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example",
        "ftp://shop.example",
        "https://",
        "https://u:p@shop.example",
        "https://shop.example/?a=1",
        "https://shop.example/#x",
        "https://shop .example",
        "http://shop.example:99999",
        "https://" + "a" * 64 + ".example",  # a host label is 63 characters at most
        "https://shop..example",
        "",
    ],
)
def test_bad_store_urls_are_refused_in_one_line(bad: str):
    with pytest.raises(store_urls.InvalidStoreUrlError) as caught:
        store_urls.store_url(bad)
    assert "\n" not in " ".join((type(caught.value).__doc__ or "").split())


@pytest.mark.parametrize(
    "given", ["my-shop", "my-shop.myshopify.com", "https://My-Shop.myshopify.com/"]
)
def test_shop_domains_become_the_myshopify_url(given: str):
    assert store_urls.shop_url(given) == "https://my-shop.myshopify.com"


@pytest.mark.parametrize(
    "bad", ["", "-shop", "my shop", "shop.example.com", "https://evil.example/x.myshopify.com"]
)
def test_bad_shop_domains_are_refused(bad: str):
    with pytest.raises(store_urls.InvalidShopDomainError):
        store_urls.shop_url(bad)


def test_keys_and_secrets_are_one_printable_word():
    assert store_urls.consumer_key(" ck_0123456789abcdef\n") == "ck_0123456789abcdef"
    assert store_urls.store_secret("cs_x\n", "stdin") == "cs_x"
    for bad in ("", "two words", "tab\there", "x" * 257):
        with pytest.raises(store_urls.InvalidConsumerKeyError):
            store_urls.consumer_key(bad)
    for bad in ("", " ", "a b", "\x00", "x" * 1025):
        with pytest.raises(store_urls.InvalidStoreSecretError) as caught:
            store_urls.store_secret(bad, "stdin")
        assert str(caught.value) == "stdin"


def test_what_another_keys_secret_verifies_with_is_held_per_keyring():
    key = Fernet.generate_key()
    one, two = Keyring(key), Keyring(key)
    assert not hasattr(signing, "UNOPENABLE")
    assert one.unopenable != two.unopenable and len(one.unopenable) >= 32
    foreign = Keyring(Fernet.generate_key()).seal("whsec")
    assert signing.opened(one, foreign) == one.unopenable
