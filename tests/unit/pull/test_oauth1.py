"""The OAuth 1.0a signer reproduces the real store's base strings byte for byte."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from service.adapters.oauth1 import base_string, base_url, percent_encode, signed_params
from tests.builders import FIXTURES

REST = FIXTURES / "woocommerce-rest"
SIGNED = sorted(
    p
    for p in REST.glob("*.json")
    if (json.loads(p.read_text()).get("auth") or {}).get("signature_base_string")
)
SITE = "http://127.0.0.1:35082"  # the captured store's home URL


def _capture(path):
    capture = json.loads(path.read_text())
    logical = urlsplit(capture["logical_path"])
    params = parse_qsl(logical.query, keep_blank_values=True)
    return capture, logical.path, params


@pytest.mark.parametrize("path", SIGNED, ids=lambda p: p.stem)
def test_every_captured_base_string_is_reproduced(path):
    capture, logical_path, params = _capture(path)
    auth = capture["auth"]
    # The key is redacted in the captures (006 sent a made-up one, kept as sent).
    key = "ck_" + "0" * 40 if "unknown-consumer-key" in path.stem else "REDACTED"
    oauth = [
        ("oauth_consumer_key", key),
        ("oauth_nonce", auth["oauth_nonce"]),
        ("oauth_signature_method", auth["signature_method"]),
        ("oauth_timestamp", auth["oauth_timestamp"]),
    ]
    expected = auth["signature_base_string"]
    assert base_string(capture["method"], SITE + logical_path, params + oauth) == expected


def test_the_modified_after_capture_is_among_them():
    """The one with a value that needs encoding (the colons of a date), encoded twice."""
    names = {p.stem for p in SIGNED}
    assert "017-orders-modified-after-p1" in names
    assert len(SIGNED) >= 20


def test_the_signature_is_the_hmac_sha256_of_the_base_string_keyed_by_the_secret_and_amp():
    _, logical_path, params = _capture(REST / "046-day2-orders-modified-after.json")
    signed = signed_params(
        "GET",
        SITE + logical_path,
        params,
        consumer_key="ck_test",
        consumer_secret="cs_secret",
        nonce="n0nce",
        timestamp=1796115468,
    )
    assert signed[: len(params)] == params
    names = [k for k, _ in signed[len(params) :]]
    assert names == [
        "oauth_consumer_key",
        "oauth_nonce",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_signature",
    ]
    text = base_string("GET", SITE + logical_path, signed)
    digest = hmac.new(b"cs_secret&", text.encode(), hashlib.sha256).digest()
    assert dict(signed)["oauth_signature"] == base64.b64encode(digest).decode()
    assert "oauth_signature%3D" not in text


def test_the_base_url_drops_the_default_port_the_query_and_lowercases_the_host():
    assert base_url("HTTP://Shop.Example:80/wp-json/wc/v3/orders?x=1") == (
        "http://shop.example/wp-json/wc/v3/orders"
    )
    assert base_url("http://127.0.0.1:35082/a") == "http://127.0.0.1:35082/a"
    assert base_url("http://127.0.0.1:35082/?rest_route=/x") == "http://127.0.0.1:35082"


def test_percent_encoding_is_rfc_3986():
    assert percent_encode("a b+c~d-e.f_g:h/é") == "a%20b%2Bc~d-e.f_g%3Ah%2F%C3%A9"
