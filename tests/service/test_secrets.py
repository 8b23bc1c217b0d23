"""Signing secrets: storage with a grace period, and the HMAC check against a real vector."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta

import asyncpg
import pytest

from service.accounts import secrets as signing
from service.accounts import users
from tests.support import FIXTURES, Merchant, create_merchant
from tests.test_cli import ledger

SIGNED = FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json"
SOURCE = SIGNED.with_name(SIGNED.name.removesuffix(".json") + ".source.txt")
GRACE = timedelta(hours=24)


def _vector() -> tuple[bytes, str, str]:
    """The fixture's exact bytes, and the secret and signature its source notes record."""
    notes = SOURCE.read_text(encoding="utf-8")
    secret = re.search(r"Webhook secret used in the same test[^:]*:\s*(\S+)", notes)
    sig = re.search(r"X-Wc-Webhook-Signature:\s*(\S+)", notes)
    assert secret and sig, "the source notes no longer record the test vector"
    return SIGNED.read_bytes(), secret.group(1), sig.group(1)


BODY, SECRET, SIGNATURE = _vector()


def woo(signature: str) -> dict[str, str]:
    return {"x-wc-webhook-signature": signature, "content-type": "application/json"}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# verify(): pure


def test_the_real_vector_verifies():
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, [SECRET]) == "signature_valid"
    assert signing.signature(BODY, SECRET) == SIGNATURE


def test_header_names_are_case_insensitive():
    headers = {"X-WC-Webhook-Signature": SIGNATURE}
    assert signing.verify("woocommerce", headers, BODY, [SECRET]) == "signature_valid"


def test_a_reserialised_body_fails():
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    compact = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    for body in (reserialised, compact, BODY + b"\n"):
        assert signing.verify("woocommerce", woo(SIGNATURE), body, [SECRET]) == (
            "invalid_signature"
        )


def test_a_missing_header_is_missing_not_an_error():
    assert signing.verify("woocommerce", {}, BODY, [SECRET]) == "missing_signature"
    assert signing.verify("woocommerce", woo("  "), BODY, [SECRET]) == "missing_signature"
    # The other platform's header does not count.
    shopify_style = {"x-shopify-hmac-sha256": SIGNATURE}
    assert signing.verify("woocommerce", shopify_style, BODY, [SECRET]) == "missing_signature"


@pytest.mark.parametrize(
    "garbage",
    [
        "not base64 at all!",
        "h1SjzQMPwd68MF5bficeFq20/RkQeRLsb9AVCUz/rLs",  # padding cut off
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 64).decode(),
        "h1SjzQMPwd68MF5bficeFq20/RkQeRLsb9AVCUz/rLs=\u00e9",
        "\x00\x01",
    ],
)
def test_garbage_signatures_are_invalid_never_an_exception(garbage):
    assert signing.verify("woocommerce", woo(garbage), BODY, [SECRET]) == "invalid_signature"


def test_a_wrong_secret_fails_and_any_candidate_may_match():
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, ["wrong"]) == "invalid_signature"
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, []) == "invalid_signature"
    candidates = ["new-secret", SECRET]
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, candidates) == "signature_valid"


def test_shopify_uses_its_own_header():
    body = b'{"id": 820982911946154508}'
    headers = {"x-shopify-hmac-sha256": sign(body, "shpss_secret")}
    assert signing.verify("shopify", headers, body, ["shpss_secret"]) == "signature_valid"
    assert signing.verify("shopify", woo(sign(body, "shpss_secret")), body, ["shpss_secret"]) == (
        "missing_signature"
    )


def test_an_unknown_platform_is_a_clear_error():
    with pytest.raises(signing.UnknownPlatformError):
        signing.verify("magento", {}, BODY, [SECRET])


# Storage


async def test_set_rotate_and_grace_period(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "woocommerce", now) == []

        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE)
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "woocommerce", now) == [SECRET]
        assert await signing.secrets_for(conn, shop.user_id, "shopify", now) == []
        # Kept as given, since HMACs need the key itself.
        stored = await conn.fetchval(
            "SELECT secret FROM user_secrets WHERE user_id = $1", shop.user_id
        )
        assert stored == SECRET

        await signing.set_secret(conn, shop.name, "woocommerce", "the-new-secret", GRACE)
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now)
        assert found == ["the-new-secret", SECRET]
        # Within the grace period a delivery signed with the old secret still verifies...
        assert signing.verify("woocommerce", woo(SIGNATURE), BODY, found) == "signature_valid"
        # ...and after it, not.
        later = await signing.secrets_for(
            conn, shop.user_id, "woocommerce", now + GRACE + timedelta(seconds=1)
        )
        assert later == ["the-new-secret"]
        assert signing.verify("woocommerce", woo(SIGNATURE), BODY, later) == "invalid_signature"


async def test_a_previous_secret_expires_in_the_database(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE)
        await signing.set_secret(conn, shop.name, "woocommerce", "replacement", GRACE)
        await conn.execute(
            "UPDATE user_secrets SET previous_valid_until = now() - interval '1 second'"
            " WHERE user_id = $1",
            shop.user_id,
        )
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now)
    assert found == ["replacement"]
    assert signing.verify("woocommerce", woo(SIGNATURE), BODY, found) == "invalid_signature"


async def test_a_tiny_grace_period_ends(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "shopify", "first", timedelta(0))
        await signing.set_secret(conn, shop.name, "shopify", "second", timedelta(milliseconds=1))
        await asyncio.sleep(0.01)
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "shopify", now) == ["second"]


async def test_clearing_turns_verification_off(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "woocommerce", SECRET, GRACE)
        await signing.clear_secret(conn, shop.name, "woocommerce", GRACE)
        now = await conn.fetchval("SELECT now()")
        assert await signing.secrets_for(conn, shop.user_id, "woocommerce", now) == []
        status = await signing.secret_status(conn, shop.user_id)
        assert status["woocommerce"]["set_at"] is None
        # Clearing twice is harmless.
        await signing.clear_secret(conn, shop.name, "woocommerce", GRACE)
        await signing.clear_secret(conn, shop.name, "shopify", GRACE)
        # A secret set again within the grace period: the cleared one still counts.
        await signing.set_secret(conn, shop.name, "woocommerce", "again", GRACE)
        now = await conn.fetchval("SELECT now()")
        found = await signing.secrets_for(conn, shop.user_id, "woocommerce", now)
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
            await signing.set_secret(conn, shop.name, "woocommerce", secret, GRACE)
    if secret.strip():
        assert secret not in str(caught.value) and secret[:8] not in str(caught.value)
    assert type(caught.value).__doc__


async def test_a_secret_of_1024_characters_is_fine(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        await signing.set_secret(conn, shop.name, "woocommerce", "s" * 1024, GRACE)


async def test_unknown_user_and_platform(pool: asyncpg.Pool):
    shop = await create_merchant(pool)
    async with pool.acquire() as conn:
        with pytest.raises(users.UnknownUserError):
            await signing.set_secret(conn, "nobody-at-all", "woocommerce", "x", GRACE)
        with pytest.raises(users.UnknownUserError):
            await signing.clear_secret(conn, "nobody-at-all", "woocommerce", GRACE)
        with pytest.raises(signing.UnknownPlatformError):
            await signing.set_secret(conn, shop.name, "magento", "x", GRACE)
        with pytest.raises(signing.UnknownPlatformError):
            await signing.secrets_for(
                conn, shop.user_id, "magento", await conn.fetchval("SELECT now()")
            )


# The command line


async def ledger_with_input(database_url: str, data: bytes, *args: str) -> tuple[int, str, str]:
    return await ledger(database_url, *args, stdin=data)


async def _current(pool: asyncpg.Pool, shop: Merchant, platform: str) -> list[str]:
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        return await signing.secrets_for(conn, shop.user_id, platform, now)


async def test_cli_set_show_and_clear_secret(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    code, out, err = await ledger_with_input(
        database_url, f"  {SECRET}\n".encode(), "users", "set-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert out.strip() == f"secret set for {shop.name}/woocommerce; no previous secret"
    assert SECRET not in out + err
    assert await _current(pool, shop, "woocommerce") == [SECRET]

    code, out, err = await ledger_with_input(
        database_url, b"rotated-secret", "users", "set-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert "the previous one stays valid until 20" in out
    assert "rotated-secret" not in out + err
    assert await _current(pool, shop, "woocommerce") == ["rotated-secret", SECRET]

    code, out, err = await ledger_with_input(database_url, b"", "users", "show", shop.name)
    assert code == 0, err
    assert f"id: {shop.user_id}" in out
    assert "signing secret: set since 20" in out and "previous secret: valid until" in out
    assert "signing secret: none" in out  # shopify
    assert "bound store: none yet" in out
    for secret in (SECRET, "rotated-secret", shop.token, shop.api_key):
        assert secret not in out + err

    code, out, err = await ledger_with_input(
        database_url, b"", "users", "clear-secret", shop.name, "woocommerce"
    )
    assert code == 0, err
    assert "no longer verified" in out
    assert await _current(pool, shop, "woocommerce") == []


async def test_cli_refuses_bad_secrets_and_names(pool: asyncpg.Pool, database_url: str):
    shop = await create_merchant(pool)
    code, out, err = await ledger_with_input(
        database_url, b" \n", "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "empty" in err
    long_secret = "z" * 2000
    code, out, err = await ledger_with_input(
        database_url, long_secret.encode(), "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "longer than 1024" in err and "zzzzzzzz" not in out + err
    code, out, err = await ledger_with_input(
        database_url, b"\xff\xfe", "users", "set-secret", shop.name, "shopify"
    )
    assert code == 2 and "UTF-8" in err
    code, _, err = await ledger_with_input(
        database_url, b"some-secret", "users", "set-secret", "nobody-here", "shopify"
    )
    assert code == 2 and "No user has this name" in err and "some-secret" not in err
    code, _, err = await ledger_with_input(
        database_url, b"some-secret", "users", "set-secret", shop.name, "magento"
    )
    assert code == 2 and "some-secret" not in err
    code, _, err = await ledger_with_input(database_url, b"", "users", "show", "nobody-here")
    assert code == 2 and "No user has this name" in err
    assert await _current(pool, shop, "shopify") == []
