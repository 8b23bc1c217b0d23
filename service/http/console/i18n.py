"""The console's two languages and money in each currency's own format (Babel).

Messages are a dict per language of our own (messages.py) rather than gettext catalogs: two
languages and a few hundred strings need no compile step at build time, a missing Spanish
string is a unit test failure instead of a silent fallback, and templates read them with
``t("key")``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal
from markupsafe import Markup

from service.http.console.messages import CORE
from service.http.console.messages_deliveries import DELIVERIES
from service.http.console.messages_integrations import INTEGRATIONS
from service.http.console.messages_stock import STOCK

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
# Babel's locale for each language: the way a Spanish speaker writes 1.234,56 US$.
LOCALES = {"en": "en_US", "es": "es_ES"}
# Every page group's table, merged: key -> (English, Spanish). A page group adds its own.
CATALOGS: tuple[dict[str, tuple[str, str]], ...] = (CORE, INTEGRATIONS, STOCK, DELIVERIES)
MESSAGES: dict[str, dict[str, str]] = {
    lang: {k: pair[i] for catalog in CATALOGS for k, pair in catalog.items()}
    for i, lang in enumerate(LANGUAGES)
}


# A qvalue (RFC 9110): 0 to 1 with at most three decimals; anything else counts as 0.
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def choose(accept_language: str, chosen: str | None) -> str:
    """The language switched to, else the best of Accept-Language, else English."""
    if chosen in LANGUAGES:
        return chosen
    best, best_q = DEFAULT_LANGUAGE, Decimal(0)
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = Decimal(1)
        if params.strip().startswith("q="):
            raw = params.strip()[2:]
            q = Decimal(raw) if _QVALUE.fullmatch(raw) else Decimal(0)
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


def translate(lang: str, key: str, **values: object) -> str:
    text = MESSAGES[lang][key]
    return text.format(**values) if values else text


def money(lang: str, value: str | Decimal | None, currency: str | None) -> Markup:
    """The amount as the currency writes it, with the exact stored value behind it."""
    if value is None:
        return Markup("")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return Markup('<span class="money">{}</span>').format(value)
    locale = LOCALES[lang]
    if currency and len(currency) == 3 and currency.isalpha():
        shown = format_currency(amount, currency.upper(), locale=locale)
    else:
        shown = format_decimal(amount, locale=locale, decimal_quantization=False)
    exact = f"{value} {currency or ''}".strip()
    return Markup('<span class="money" data-value="{}" title="{}">{}</span>').format(
        str(value), exact, shown
    )
