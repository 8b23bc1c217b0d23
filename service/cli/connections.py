"""``ledger connect`` and ``ledger disconnect``: a user's store API connections.

The credential (a WooCommerce consumer secret, a Shopify Admin API access token) is read from
stdin, never from the command line (where ``ps`` and the shell's history would keep it): with
no echo on a terminal, else the first line. It is sealed with the server key before it is
kept, and no output of ``ledger`` ever shows it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from aggregates.values import PLATFORMS
from service.accounts import connections, store_urls
from service.accounts.key_guard import checked_key
from service.accounts.keyring import Keyring
from service.adapters.pulling import key_prefix
from service.cli.common import Command, connect, say
from service.settings import Settings
from service.store.eventstore import EventStore

EXPECTED: tuple[type[Exception], ...] = (
    store_urls.InvalidStoreUrlError,
    store_urls.InvalidShopDomainError,
    store_urls.InvalidConsumerKeyError,
    store_urls.InvalidStoreSecretError,
)
_ASKED = {
    "woocommerce": "WooCommerce consumer secret",
    "shopify": "Shopify Admin API access token",
}


def read_line_secret(prompt: str) -> str:
    """One line: from a getpass prompt on a terminal (not echoed), else stdin's first."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    raw = sys.stdin.buffer.readline()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise store_urls.InvalidStoreSecretError("stdin") from None


async def cmd_connect(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    platform = args.command
    if platform == "woocommerce":
        base_url = store_urls.store_url(args.url)
        key: str | None = store_urls.consumer_key(args.key)
    else:
        base_url, key = store_urls.shop_url(args.shop), None
    where = f"{args.user}/{platform}"
    secret = store_urls.store_secret(read_line_secret(f"{_ASKED[platform]} for {where}: "), "stdin")
    conn = await connect(settings)
    try:
        keyring = Keyring(await checked_key(conn, settings))
        await connections.connect_store(conn, args.user, platform, base_url, key, secret, keyring)
    finally:
        await conn.close()
    shown = f" with key {key_prefix(key)}" if key else ""
    say(
        f"connected {where} to {base_url}{shown}; the {_ASKED[platform].split(' ', 1)[1]}"
        " is kept sealed with the server key",
        "backfill it: ledger backfill --user NAME PLATFORM (the service also does, every"
        f" {settings.backfill_interval} minute(s))"
        if settings.backfill_interval
        else "backfill it: ledger backfill --user NAME PLATFORM (the schedule is off)",
    )
    return 0


async def cmd_disconnect(args: argparse.Namespace, settings: Settings, store: EventStore) -> int:
    conn = await connect(settings)
    try:
        removed = await connections.disconnect_store(conn, args.user, args.platform)
    finally:
        await conn.close()
    where = f"{args.user}/{args.platform}"
    say(
        f"disconnected {where}; its credential is gone" if removed else f"{where} was not connected"
    )
    return 0


def register(top: Any) -> dict[tuple[str, str], Command]:
    c = top.add_parser("connect", help="connect a user's store API (the secret is read from stdin)")
    c.add_argument("--user", required=True)
    platforms = c.add_subparsers(dest="command", required=True)
    woo = platforms.add_parser("woocommerce", help="a WooCommerce REST API key")
    woo.add_argument("--url", required=True, help="the store's URL, e.g. https://shop.example")
    woo.add_argument("--key", required=True, help="the consumer key (ck_...)")
    shop = platforms.add_parser("shopify", help="a Shopify Admin API access token")
    shop.add_argument("--shop", required=True, help="the shop's domain, e.g. my-shop.myshopify.com")
    d = top.add_parser("disconnect", help="forget a user's store API connection")
    d.add_argument("--user", required=True)
    d.add_argument("platform", choices=PLATFORMS)
    d.set_defaults(command="")
    return {
        ("connect", "woocommerce"): cmd_connect,
        ("connect", "shopify"): cmd_connect,
        ("disconnect", ""): cmd_disconnect,
    }
