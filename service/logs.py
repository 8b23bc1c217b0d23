"""Logging that never carries a secret.

Webhook URLs hold a per-user token as a path segment, so every path is redacted before it is
logged, and a `SecretFilter` on the handlers scrubs whatever slips through (aiohttp's own
"Error handling request" records quote the raw request line of malformed requests).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aggregates.values import PLATFORMS
from projections.encoding import to_json

REDACTED = "***"
# Literal path segments after the token that name a route, not a secret.
ROUTE_SUFFIXES = frozenset({"producto"})
_WEBHOOK_WORDS = frozenset({"webhook", "webhooks"})

_HANDLER_NAME = "pyme-ledger.stderr"
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Every attribute a bare LogRecord has: the rest of a record's attributes are its extra fields.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
# Loggers whose records may quote a request line; a filter on a logger also covers handlers
# that are added after configure_logging runs.
_REQUEST_LOGGERS = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "asyncio",
)
# The secrets this service issues carry a visible prefix (service/accounts/users.py: TOKEN_PREFIX,
# API_KEY_PREFIX), so one is scrubbed wherever it appears, also in a mistyped path that no
# rule below recognises as a webhook path.
# Our tokens and keys, WooCommerce's consumer keys and secrets, Shopify's access tokens.
_ISSUED = re.compile(r"\b(whk|key|ck|cs|shpat|shpca|shppa|shpss)_[A-Za-z0-9_-]{8,}")
_SEPARATORS = re.compile(r"[/\\]+")
_SPLIT = re.compile(r"([/\\]+)")
UNSAFE_CHARS = re.compile(r"[^\x20-\x7e]")
# Whether a text may hold a webhook path (re's case-insensitive match, like str.lower, takes
# the Kelvin sign for a k).
_WEBHOOKISH = re.compile("webhook", re.IGNORECASE)
_WORD = re.compile(r"[^\s'\"<>]+")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer(?=\s)|basic(?=\s+[A-Za-z0-9+/=._~-]{8}))(\s+)[^\s'\",;]+")
_SECRET_FIELD = re.compile(
    r"(?i)(authorization|cookie|set-cookie|x-wc-webhook-signature|x-shopify-hmac-sha256"
    r"|x-shopify-access-token|api[_-]?key|consumer[_-]?key|oauth_signature|secret|token"
    r"|password)"
    r"(['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic)\s+)?[^\s'\",;&}]+"
)


def _decode(text: str) -> str:
    """Undo percent-encoding, repeatedly, so %2577ebhook still reads as webhook."""
    for _ in range(4):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return text


def _kept_after_webhook(position: int, decoded: str) -> bool:
    """Whether a segment after the `webhook` one names a route, not a secret: the platform
    (first), an empty segment (a doubled or trailing slash), a route suffix (after the
    token, which is never kept)."""
    if not decoded:
        return True
    if _SEPARATORS.search(decoded):
        return False  # an encoded slash: segments hide inside it
    word = decoded.lower()
    return (position == 0 and word in PLATFORMS) or (position >= 2 and word in ROUTE_SUFFIXES)


def redact_path(path: str) -> str:
    """Return `path` as received, without its query string and with any webhook token
    replaced by ***.

    A path counts as a webhook path when any segment, once percent-decoded, starts with
    "webhook" (so /api/webhooks/..., /API/%57ebhook/... and //api//webhook/... are caught
    too). Everything after that segment is redacted but the platform, empty segments and
    known route suffixes. The rest is written as it came, separators and percent-encoding
    too, so a mistyped path never looks like the one that works.
    """
    path = _ISSUED.sub(rf"\1_{REDACTED}", path.split("?", 1)[0].split("#", 1)[0])
    parts = _SPLIT.split(path)  # segments at even positions, separators between them
    after = None  # how many segments since the webhook one
    for i in range(0, len(parts), 2):
        raw = parts[i]
        decoded = _decode(raw)
        if after is not None:
            parts[i] = raw if _kept_after_webhook(after, decoded) else REDACTED
            after += 1
            continue
        words = _SEPARATORS.split(decoded)
        hit = next((w for w in words if w.lower().startswith("webhook")), None)
        if hit is None:
            parts[i] = UNSAFE_CHARS.sub("?", raw)
        elif decoded.lower() in _WEBHOOK_WORDS:
            after = 0
        else:
            # A token glued on (/api/webhookTOKEN), or behind an encoded slash.
            parts[i] = (decoded[:7] if decoded == hit else "") + REDACTED
            after = 1
    return "".join(parts)


def _redact_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.endswith('.py"') or word.endswith(".py"):
        # A source file in a traceback (service/http/webhooks.py), never a request path.
        if "/api/" not in word:
            return word
    if "webhook" in word.lower() or ("%" in word and "webhook" in _decode(word).lower()):
        return redact_path(word)
    return word


def redact_text(text: str) -> str:
    """Scrub webhook paths, Bearer/Basic credentials and `secret: value` pairs from text."""
    # Every log record passes here (twice a webhook: its access line and its delivery line),
    # and the word pass calls Python for each word: skip it when no word can be a webhook
    # path (_redact_word changes only words that hold "webhook", maybe percent-encoded).
    if "%" in text or _WEBHOOKISH.search(text):
        text = _WORD.sub(_redact_word, text)
    text = _ISSUED.sub(rf"\1_{REDACTED}", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{REDACTED}", text)
    return _SECRET_FIELD.sub(rf"\1\2{REDACTED}", text)


class SecretFilter(logging.Filter):
    """Last line of defence: rewrites each record so no handler can format a secret.

    The message is formatted first (a secret may sit in `record.args`), then redacted, and
    the args cleared; exception and stack text are rendered and redacted the same way.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError, IndexError):
            message = f"{record.msg} [unformattable log arguments dropped]"
        record.msg = redact_text(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None  # formatters now use the redacted exc_text
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name, value in extra_fields(record).items():
            setattr(record, name, _redact_value(value))
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What ``extra=`` added to a record (any attribute a bare LogRecord lacks)."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and k[:1] != "_"}


def _redact_value(value: Any) -> Any:
    """An extra field as it may be logged: numbers and None as they are, anything else as
    redacted text (a value's str may quote a secret as much as a message may)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the record's extra fields, and
    the exception or stack text when there is one (already redacted by the SecretFilter)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in extra_fields(record).items():
            # Redacted again: this handler may lack a SecretFilter; and JSON-safe, always.
            doc.setdefault(name, _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return to_json(doc)


def install_secret_filter(target: logging.Handler | logging.Logger) -> None:
    """Add a SecretFilter to `target` unless it already has one."""
    if not any(isinstance(f, SecretFilter) for f in target.filters):
        target.addFilter(SecretFilter())


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr at `level`, as readable lines (`fmt` "text") or one JSON object per
    line ("json"), with every root handler and aiohttp logger redacting secrets.

    Safe to call more than once (the last call's format wins). Handlers added to the root
    logger later must be passed to `install_secret_filter` themselves.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())
    stderr = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if stderr is None:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.set_name(_HANDLER_NAME)
        root.addHandler(stderr)
    stderr.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_LOG_FORMAT))
    for handler in root.handlers:
        install_secret_filter(handler)
    for name in _REQUEST_LOGGERS:
        install_secret_filter(logging.getLogger(name))
