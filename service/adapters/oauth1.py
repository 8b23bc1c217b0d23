"""OAuth 1.0a one-legged signatures, as WooCommerce checks them on plain HTTP.

The base string is the method, the request URL over the store's own (home) URL without its
query, and every parameter but ``oauth_signature``, percent-encoded (RFC 3986) and sorted
byte-wise, each part encoded once more when joined; the key is the consumer secret and ``&``
(one-legged: no token secret). ../shared/fixtures/woocommerce-rest/ shows the exact strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8: only unreserved characters stay as they are."""
    return quote(value, safe="-._~")


def base_url(url: str) -> str:
    """The URL part of a base string: scheme and host lower-cased, no default port, no
    query or fragment; the site's root is its home URL itself, with no slash (042)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, host, path, "", ""))


def base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    pairs = sorted(
        (percent_encode(k), percent_encode(v)) for k, v in params if k != "oauth_signature"
    )
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), percent_encode(base_url(url)), percent_encode(normalized)))


def signature(text: str, consumer_secret: str, algorithm: str = "HMAC-SHA256") -> str:
    # WooCommerce appends "&" to the secret as stored, unencoded (its secrets are cs_ + hex).
    key = (consumer_secret + "&").encode()
    digest = hmac.new(key, text.encode(), ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def signed_params(
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
    *,
    consumer_key: str,
    consumer_secret: str,
    nonce: str,
    timestamp: int,
    algorithm: str = "HMAC-SHA256",
) -> list[tuple[str, str]]:
    """``params`` followed by the ``oauth_*`` parameters that sign them (for the query)."""
    given = list(params)
    oauth = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", algorithm),
        ("oauth_timestamp", str(timestamp)),
    ]
    text = base_string(method, url, given + oauth)
    return [*given, *oauth, ("oauth_signature", signature(text, consumer_secret, algorithm))]


def query_string(params: Iterable[tuple[str, str]]) -> str:
    """A query whose decoding gives back exactly the values that were signed."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params)
