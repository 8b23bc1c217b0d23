"""The HMAC check of a delivery's signature, against WooCommerce's own signed vector."""

from __future__ import annotations

import base64
import json

import pytest

from service.accounts import secrets as signing
from tests.builders import sign, signed_vector

BODY, SECRET, SIGNATURE = signed_vector()


def woo(signature: str) -> dict[str, str]:
    return {"x-wc-webhook-signature": signature, "content-type": "application/json"}


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
