"""The console's pure parts: both languages for every string, money, the language choice,
and the sign-in limiter's bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.http.console import i18n
from service.http.console.auth import safe_next
from service.http.console.ratelimit import AttemptLimiter
from service.http.console.readable import indent_json


def test_no_two_tables_share_a_key():
    keys = [key for catalog in i18n.CATALOGS for key in catalog]
    assert len(keys) == len(set(keys))


def test_a_body_is_laid_out_with_every_token_as_sent():
    body = '{"total":19.990,"b":[ ],"c":{},"s":"a, {b}\\" c","n":[1,{"e":null}]}'
    shown = indent_json(body)
    assert shown.splitlines() == [
        "{",
        '  "total": 19.990,',
        '  "b": [],',
        '  "c": {},',
        '  "s": "a, {b}\\" c",',
        '  "n": [',
        "    1,",
        "    {",
        '      "e": null',
        "    }",
        "  ]",
        "}",
    ]
    assert "".join(shown.split()) == "".join(body.split())


def test_every_string_is_in_both_languages():
    for catalog in i18n.CATALOGS:
        for key, pair in catalog.items():
            assert len(pair) == len(i18n.LANGUAGES), key
            assert all(text.strip() for text in pair), key
    assert i18n.translate("es", "nav.sales") == "Ventas"
    assert i18n.translate("en", "nav.sales") == "Sales"


@pytest.mark.parametrize(
    ("header", "chosen", "lang"),
    [
        ("", None, "en"),
        ("es-ES,es;q=0.9,en;q=0.8", None, "es"),
        ("en-US,en;q=0.9,es;q=0.8", None, "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", None, "es"),
        ("de", None, "en"),
        ("es", "en", "en"),
        ("en", "es", "es"),
        ("es;q=abc, en;q=0.1", "xx", "en"),
        ("es;q=nan, en;q=0.1", None, "en"),  # not qvalues: float() would read these
        ("es;q=inf, en;q=0.5", None, "en"),
        ("es;q=1e0, en;q=0.5", None, "en"),
    ],
)
def test_the_language_is_the_switch_else_accept_language(header: str, chosen: str, lang: str):
    assert i18n.choose(header, chosen) == lang


def test_money_is_written_the_currency_way_with_the_exact_value_behind():
    en = i18n.money("en", "1234.50", "EUR")
    assert "€1,234.50" in en and 'data-value="1234.50"' in en and 'title="1234.50 EUR"' in en
    es = i18n.money("es", "1234.50", "EUR")
    assert "1234,50\xa0€" in es or "1.234,50\xa0€" in es
    assert 'data-value="19.990"' in i18n.money("en", Decimal("19.990"), None)
    assert "19.99" in i18n.money("en", "19.99", None)
    assert "&lt;b&gt;" in i18n.money("en", "<b>", "USD")  # not a number: shown, escaped
    assert i18n.money("en", None, "USD") == ""


def test_the_limiter_counts_failures_per_name_within_its_window():
    now = [0.0]
    limiter = AttemptLimiter(limit=3, window=60, max_names=100, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a", "k") == 0
        limiter.failed("a", "k")
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b", "k") == 60  # the key prefix is limited from anywhere
    assert limiter.retry_after("b") == 0
    now[0] = 59.5
    assert limiter.retry_after("a") == 1
    now[0] = 60
    assert limiter.retry_after("a", "k") == 0


def test_the_limiter_forgets_the_oldest_names_beyond_its_bound():
    limiter = AttemptLimiter(limit=1, window=60, max_names=50)
    for i in range(1000):
        limiter.failed(f"address:{i}")
    assert len(limiter) == 50
    assert limiter.retry_after("address:999") > 0


@pytest.mark.parametrize(
    ("raw", "goes"),
    [
        ("/console/sales?q=1", "/console/sales?q=1"),
        ("//evil.example/console", "/console/sales"),
        ("https://evil.example/", "/console/sales"),
        ("/console\\@evil", "/console/sales"),
        (None, "/console/sales"),
        ("/api/sales", "/console/sales"),
    ],
)
def test_a_form_only_sends_back_into_the_console(raw: object, goes: str):
    assert safe_next(raw) == goes
