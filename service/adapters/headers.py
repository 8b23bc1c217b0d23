"""The headers of a delivery: read by name, and the ones worth keeping with it."""

from __future__ import annotations

from collections.abc import Mapping

# Header names that may carry credentials; dropped even when they carry the platform prefix.
_SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "password", "api-key")
_GENERIC_HEADERS = ("user-agent", "content-type", "content-encoding")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name, ``None`` when absent or blank."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted and value.strip():
            return value.strip()
    return None


def delivery_headers(headers: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The headers worth keeping with a delivery, names lower-cased; never credentials."""
    prefix = prefix.lower()
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if any(word in lowered for word in _SECRET_HEADER_WORDS):
            continue
        if lowered.startswith(prefix) or lowered in _GENERIC_HEADERS:
            # aiohttp decodes non-UTF-8 header bytes with surrogate escapes.
            kept[lowered] = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return kept
