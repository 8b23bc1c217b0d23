"""Signing secrets in the database: storage with a grace period, rotation, clearing."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.accounts import secrets as signing
from service.accounts import users
from service.accounts.directory import Directory
from service.accounts.keyring import Keyring
from tests.builders import sign, signed_vector
from tests.support import create_merchant, server_keyring

BODY, SECRET, SIGNATURE = signed_vector()
GRACE = timedelta(hours=24)


def woo(signature: str) -> dict[str, str]:
    return {"x-wc-webhook-signature": signature, "content-type": "application/json"}


async def test_set_rotate_and_grace_period(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        assert (
            await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
            == []
        )

        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE, server_keyring())
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(
            conn, shop.user_id, "woocommerce", now, server_keyring()
        ) == [SECRET]
        assert await signing.secrets_for(conn, shop.user_id, "shopify", now, server_keyring()) == []
        # Kept sealed with the server key (HMACs need the key itself, so it opens again).
        stored = await conn.fetchrow(
            "SELECT secret, secret_sealed FROM user_secrets WHERE user_id = $1", shop.user_id
        )
        assert stored["secret"] is None and SECRET.encode() not in stored["secret_sealed"]
        assert server_keyring().open(stored["secret_sealed"]) == SECRET

        await signing.set_secret(
            conn, shop.name, "woocommerce", "the-new-secret", GRACE, server_keyring()
        )
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
        assert found == ["the-new-secret", SECRET]
        # Within the grace period a delivery signed with the old secret still verifies...
        assert signing.verify("woocommerce", woo(SIGNATURE), BODY, found) == "signature_valid"
        # ...and after it, not.
        later = await signing.secrets_for(
            conn, shop.user_id, "woocommerce", now + GRACE + timedelta(seconds=1), server_keyring()
        )
        assert later == ["the-new-secret"]
        assert signing.verify("woocommerce", woo(SIGNATURE), BODY, later) == "invalid_signature"


async def test_a_previous_secret_expires_in_the_database(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE, server_keyring())
        await signing.set_secret(
            conn, shop.name, "woocommerce", "replacement", GRACE, server_keyring()
        )
        await conn.execute(
            "UPDATE user_secrets SET previous_valid_until = now() - interval '1 second'"
            " WHERE user_id = $1",
            shop.user_id,
        )
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
    assert found == ["replacement"]
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, found) == "invalid_signature"


async def test_a_tiny_grace_period_ends(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(
            conn, shop.name, "shopify", "first", timedelta(0), server_keyring()
        )
        await signing.set_secret(
            conn, shop.name, "shopify", "second", timedelta(milliseconds=1), server_keyring()
        )
        # Past the millisecond of grace, whenever this runs.
        now = await conn.fetchval("SELECT now() + interval '2 milliseconds'")
        assert await signing.secrets_for(conn, shop.user_id, "shopify", now, server_keyring()) == [
            "second"
        ]


async def test_clearing_turns_verification_off(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE, server_keyring())
        await signing.clear_secret(conn, shop.name, "woocommerce", GRACE)
        now = await conn.fetchval("SELECT now()")
        assert (
            await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
            == []
        )
        status = await signing.secret_status(conn, shop.user_id)
        assert status["woocommerce"]["set_at"] is None
        # Clearing twice is harmless.
        await signing.clear_secret(conn, shop.name, "woocommerce", GRACE)
        await signing.clear_secret(conn, shop.name, "shopify", GRACE)
        # A secret set again within the grace period: the cleared one still counts.
        await signing.set_secret(conn, shop.name, "woocommerce", "again", GRACE, server_keyring())
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
    assert found == ["again", SECRET]


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ("", signing.EmptySecretError),
        (" \t\n", signing.EmptySecretError),
        ("s" * 1025, signing.SecretTooLongError),
        ("bad\udcffsecret", signing.SecretNotTextError),
    ],
)
async def test_unusable_secrets_are_refused_without_quoting_them(
    pool: asyncpg.Pool, secret: str, error: type[Exception]
):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        with pytest.raises(error) as caught:
            await signing.set_secret(
                conn, shop.name, "woocommerce", secret, GRACE, server_keyring()
            )
    if secret.strip():
        assert secret not in str(caught.value) and secret[:8] not in str(caught.value)
    assert type(caught.value).__doc__


async def test_a_secret_of_1024_characters_is_fine(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(
            conn, shop.name, "woocommerce", "s" * 1024, GRACE, server_keyring()
        )
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, server_keyring())
    assert found == ["s" * 1024]  # kept whole, not cut
    signed = woo(sign(BODY, "s" * 1024))
    assert signing.verify("woocommerce", signed, BODY, found) == "signature_valid"
    assert signing.verify("woocommerce", signed, BODY, ["s" * 1023]) == "invalid_signature"


async def test_unknown_user_and_platform(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        with pytest.raises(users.UnknownUserError):
            await signing.set_secret(
                conn, "nobody-at-all", "woocommerce", "x", GRACE, server_keyring()
            )
        with pytest.raises(users.UnknownUserError):
            await signing.clear_secret(conn, "nobody-at-all", "woocommerce", GRACE)
        with pytest.raises(signing.UnknownPlatformError):
            await signing.set_secret(conn, shop.name, "magento", "x", GRACE, server_keyring())
        with pytest.raises(signing.UnknownPlatformError):
            await signing.secrets_for(
                conn, shop.user_id, "magento", await conn.fetchval("SELECT now()"), server_keyring()
            )


async def test_a_secret_sealed_with_another_key_verifies_nothing(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
):
    """Not opened, it is never taken for "verification off": every delivery is refused."""
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(
            conn, shop.name, "woocommerce", SECRET, GRACE, Keyring(Fernet.generate_key())
        )
        now = await conn.fetchval("SELECT now()")
        keyring = server_keyring()
        with caplog.at_level(logging.ERROR):
            found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, keyring)
    assert found == [keyring.unopenable] and found != [SECRET]
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, found) == "invalid_signature"
    assert "sealed with another server key" in caplog.text and SECRET not in caplog.text


async def test_a_plain_secret_an_older_process_wrote_still_verifies(pool: asyncpg.Pool):
    """During an upgrade an older process may write the plain column: that row has a secret
    (verification on, with it), never "no secret" (verification off), until it is sealed."""
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO user_secrets (user_id, platform, secret, set_at)"
            " VALUES ($1, 'woocommerce', $2, now())",
            shop.user_id,
            SECRET,
        )
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "woocommerce", now, keyring) == [
            SECRET
        ]
        directory = Directory(keyring)
        for fresh in (False, True):
            row = await directory.secret_row(conn, shop.user_id, "woocommerce", fresh=fresh)
            assert row is not None and row.secret == SECRET
        # Replaced before it was sealed: the plain one stays valid as the previous one.
        await signing.set_secret(conn, shop.name, "woocommerce", "newer", GRACE, keyring)
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now, keyring)
        assert found == ["newer", SECRET]
        plain = await conn.fetchrow(
            "SELECT secret, previous_secret FROM user_secrets WHERE user_id = $1", shop.user_id
        )
        assert tuple(plain) == (None, None)


async def test_clearing_a_plain_secret_turns_verification_off(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    keyring = server_keyring()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO user_secrets (user_id, platform, secret, set_at)"
            " VALUES ($1, 'shopify', $2, now())",
            shop.user_id,
            SECRET,
        )
        await signing.clear_secret(conn, shop.name, "shopify", GRACE)
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "shopify", now, keyring) == []
        # Set again within the grace period, the cleared one still counts.
        await signing.set_secret(conn, shop.name, "shopify", "again", GRACE, keyring)
        found = await signing.secrets_for(conn, shop.user_id, "shopify", now, keyring)
        assert found == ["again", SECRET]
