"""The shapes a store connection's address and credentials must have, checked before anything
is kept. Each error's docstring is the one line ``ledger`` and the console show; its own text
names where the value came from, never a credential (nor a piece of one)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_CREDENTIAL_CHARS = 1024
MAX_KEY_CHARS = 256
_SHOP = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
_SHOPIFY_SUFFIX = ".myshopify.com"


class InvalidStoreUrlError(ValueError):
    """The store URL must look like https://shop.example or http://HOST[:PORT][/PATH]
    (no user, query or fragment)."""


class InvalidShopDomainError(ValueError):
    """The shop must be its myshopify.com domain, like my-shop.myshopify.com (or just
    my-shop)."""


class InvalidConsumerKeyError(ValueError):
    """The consumer key must be one word of at most 256 printable characters (WooCommerce's
    start with ck_)."""


class InvalidStoreSecretError(ValueError):
    """The consumer secret or access token must be one word of at most 1024 printable
    characters."""


def store_url(raw: str) -> str:
    """A WooCommerce store's URL as given, without a trailing slash."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidStoreUrlError("--url") from None
    host = parts.hostname
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in text)
        or (port is not None and not 0 < port < 65536)
        or not _nameable(host)
    ):
        raise InvalidStoreUrlError("--url")
    return text.rstrip("/")


def _nameable(host: str) -> bool:
    """Whether a request can name the host: IDNA encodes it (each label 1-63 characters),
    as the HTTP client will before it sends anything."""
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def shop_url(raw: str) -> str:
    """``https://{shop}.myshopify.com`` from the shop's name, domain or URL."""
    text = raw.strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.rstrip("/")
    shop = text.removesuffix(_SHOPIFY_SUFFIX)
    if not _SHOP.fullmatch(shop):
        raise InvalidShopDomainError("--shop")
    return f"https://{shop}{_SHOPIFY_SUFFIX}"


def _word(value: str, longest: int) -> bool:
    return 0 < len(value) <= longest and value.isprintable() and not any(c.isspace() for c in value)


def consumer_key(raw: str) -> str:
    key = raw.strip()
    if not _word(key, MAX_KEY_CHARS):
        raise InvalidConsumerKeyError("--key")
    return key


def store_secret(raw: str, where: str) -> str:
    secret = raw.strip()
    if not _word(secret, MAX_CREDENTIAL_CHARS):
        raise InvalidStoreSecretError(where)
    return secret
