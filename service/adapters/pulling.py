"""Pure helpers of the API clients (service/http/pull/): what the platforms' answers mean.

Header names live here because the platforms' own headers are named by their adapters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from service.adapters.json_slices import member_slice

SHOPIFY_ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 (a header name)
WOOCOMMERCE_TOTAL_PAGES_HEADER = "X-WP-TotalPages"

# Response headers never kept with an exchange (they may carry credentials or sessions).
_DROPPED_WORDS = ("authorization", "cookie", "token", "secret", "password", "api-key")
# WooCommerce's Link headers repeat every request parameter, its own credentials included.
_CREDENTIAL_PARAM = re.compile(
    r"((?:oauth_[a-z_]+|consumer_key|consumer_secret)=)[^&>;\s]*", re.IGNORECASE
)
_LINK = re.compile(r"<([^>]*)>\s*;([^,]*)")
# What each platform answers, and only it, for an order id it does not know (a 404): any
# other 404 (a proxy's page, WordPress's rest_no_route) says nothing about the order.
_NO_SUCH_ORDER: dict[str, Callable[[Any], bool]] = {
    "woocommerce": lambda doc: (
        isinstance(doc, dict) and doc.get("code") == "woocommerce_rest_shop_order_invalid_id"
    ),
    "shopify": lambda doc: doc == {"errors": "Not Found"},
}
# Where an order asked for by id is in its answer: Shopify wraps it in ``{"order": ...}``.
_LOOKUP_MEMBER = {"shopify": "order"}


def no_such_order(platform: str, body: bytes) -> bool:
    """Whether a 404 to an order lookup is the platform's own answer that it has no such
    order (deleted for good), as ../shared/fixtures/woocommerce-rest/026 and 027 show."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return _NO_SUCH_ORDER[platform](doc)


def looked_up_order(platform: str, body: bytes) -> tuple[bytes, int]:
    """The order in a 200 answer to a lookup by id, as its exact bytes and their offset;
    raises NotAnArray when the answer does not hold one."""
    member = _LOOKUP_MEMBER.get(platform)
    if member is None:
        return body, 0
    return member_slice(body, member)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers worth keeping as evidence: no credential in any of them."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if any(word in name.lower() for word in _DROPPED_WORDS):
            continue
        value = _CREDENTIAL_PARAM.sub(r"\1REDACTED", value)
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


# delay-seconds (RFC 9110: digits), with the fraction Shopify sends ("2.0"); never "inf",
# "nan" or "1e3", which Python's float would read. A negative one waits nothing.
_DELAY_SECONDS = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,6})?")


def retry_after(value: str | None, now: datetime, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` (seconds, possibly with a fraction as Shopify
    sends, or an HTTP date), at most ``cap``; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        seconds = int(Decimal(text) * 1000) / 1000  # exact to the millisecond
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), cap)


def next_page_info(link: str | None) -> str | None:
    """The ``page_info`` of the ``rel="next"`` URL in a Shopify ``Link`` header."""
    if not link:
        return None
    for url, attributes in _LINK.findall(link):
        if re.search(r'rel\s*=\s*"?next"?', attributes):
            values = parse_qs(urlsplit(url).query).get("page_info")
            return values[0] if values else None
    return None


def wc_time(moment: datetime, *, round_up: bool = False) -> str:
    """A WooCommerce filter date (UTC, sent with ``dates_are_gmt=true``), second-precise:
    rounded down by default, so an exclusive bound never skips its own second."""
    moment = moment.astimezone(UTC)
    if round_up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def shopify_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def total_pages(headers: Mapping[str, str]) -> int | None:
    for name, value in headers.items():
        if name.lower() == WOOCOMMERCE_TOTAL_PAGES_HEADER.lower():
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def key_prefix(key: str | None) -> str:
    """What may be shown of a consumer key, wherever it is shown (``users show``, a 401's
    line): its first 7 characters (``ck_1234``), enough to tell which, and never more than
    a third of it."""
    text = key or ""
    return f"{text[: min(7, len(text) // 3)]}\u2026"
