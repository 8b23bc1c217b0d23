"""After a real backfill over HTTP (the WooCommerce stand-in on 127.0.0.1, OAuth-signed
requests) with both platforms connected and both signing secrets set and replaced, every
table of every schema that is not PostgreSQL's own, read as text, holds no credential in
clear: not the consumer key nor its secret, the Shopify token, a signing secret, the webhook
token, nor any request's oauth_signature."""

from __future__ import annotations

import re

import asyncpg

from tests.standins.woocommerce import WooCommerceStandIn
from tests.support import create_merchant, ledger

KEY = "ck_a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11c"
SECRET = "cs_b0b5ec12b0b5ec12b0b5ec12b0b5ec12b0b5ec12"
TOKEN = "shpat_ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7"
SIGNING = {"woocommerce": "whsec-woo-d0g-5e1f", "shopify": "whsec-shop-ca7-5e1f"}
SINCE = ("--since", "2026-11-30T00:00:00")
_SYSTEM = "nspname IN ('pg_catalog', 'information_schema') OR nspname LIKE 'pg\\_%'"


async def _dump(conn: asyncpg.Connection) -> str:
    tables = await conn.fetch(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS t"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE c.relkind IN ('r', 'p', 'm') AND NOT ({_SYSTEM})"
    )
    lines = []
    for row in tables:
        # Each whole row as text (bytea as its hex escape, as psql or pg_dump would show it).
        rows = await conn.fetch(f"SELECT t::text AS line FROM {row['t']} AS t")
        lines.extend(r["line"] for r in rows)
    return "\n".join(lines)


async def test_no_schema_holds_a_credential_in_clear_after_a_backfill(
    pool: asyncpg.Pool, database_url: str
):
    shop = await create_merchant(pool, "clear")
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    try:
        connect = ("connect", "--user", shop.name, "woocommerce", "--url", standin.url)
        code, _, err = await ledger(database_url, *connect, "--key", KEY, stdin=SECRET.encode())
        assert code == 0, err
        code, _, err = await ledger(
            database_url,
            "connect", "--user", shop.name, "shopify", "--shop", "clear-shop",
            stdin=TOKEN.encode(),
        )  # fmt: skip
        assert code == 0, err
        for platform, secret in SIGNING.items():
            for value in (secret + "-old", secret):
                code, _, err = await ledger(
                    database_url, "users", "set-secret", shop.name, platform, stdin=value.encode()
                )
                assert code == 0, err
        code, out, err = await ledger(
            database_url, "backfill", "--user", shop.name, "woocommerce", *SINCE
        )
        assert code == 0, (out, err)
        assert "10 new sales" in out
        signed = [r.path_qs for r in standin.requests if "oauth_signature=" in r.path_qs]
        assert signed  # the requests were OAuth-signed: their signatures are what to look for
    finally:
        await standin.close()

    async with pool.acquire() as conn:
        text = await _dump(conn)
    assert shop.name in text and "backfill" in text  # the dump did read the rows
    secrets = [KEY, SECRET, TOKEN, shop.token, shop.api_key]
    secrets += [s for secret in SIGNING.values() for s in (secret, secret + "-old")]
    for secret in secrets:
        assert secret not in text
        assert secret.encode().hex() not in text  # nor as bytes
    for needle in ("oauth_signature=", "oauth_signature%3d"):
        assert re.search(re.escape(needle) + r"[^&\s\"]+", text, re.IGNORECASE) is None
        assert needle.encode().hex() not in text.lower()
