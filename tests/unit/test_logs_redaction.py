"""redact_text skips its word pass when no word can be a webhook path: the same text out as
the full pass, for any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service import logs

WORDS = st.sampled_from(
    [
        "/api/webhook/woocommerce/whk_abcdefgh12345678",
        "/API/%57ebhook/shopify/tok",
        "WEBHOO\u212a/x",  # a Kelvin sign lower-cases to k
        "webhooks",
        "%2577ebhook",
        "token=abc123",
        "Bearer abcdefgh",
        "key_abcdefgh12345678",
        "service/http/webhooks.py",
        "plain",
        "100%",
        " ",
        "\n",
    ]
)


def _full(text: str) -> str:
    text = logs._WORD.sub(logs._redact_word, text)
    text = logs._ISSUED.sub(rf"\1_{logs.REDACTED}", text)
    text = logs._AUTH_SCHEME.sub(rf"\1\2{logs.REDACTED}", text)
    return logs._SECRET_FIELD.sub(rf"\1\2{logs.REDACTED}", text)


@given(st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12).map(" ".join))
def test_the_quick_path_redacts_exactly_as_the_full_one(text: str) -> None:
    assert logs.redact_text(text) == _full(text)
