"""The elements of a JSON array as exact byte slices of the answer, never re-encoded.

A pulled order is kept as the platform wrote it, so its receipt traces to the very bytes of
the page it came in. The body is validated by the standard parser first; the scanner then
only has to find where each element of valid JSON starts and ends.
"""

from __future__ import annotations

import json

_SPACE = b" \t\n\r"
_QUOTE = 0x22
_BACKSLASH = 0x5C
_OPEN = {0x5B, 0x7B}  # [ {
_CLOSE = {0x5D, 0x7D}  # ] }
_SCALAR_END = b",]} \t\n\r"


class NotAnArray(ValueError):
    """The answer is not valid JSON, or not an array where one was expected."""


def array_items(body: bytes, member: str | None = None) -> list[bytes]:
    """The elements of the top-level array, or of the array under the top-level object's
    ``member`` (Shopify's ``{"orders": [...]}``)."""
    _parse(body)
    start = _skip(body, 0)
    if member is not None:
        start = _member(body, start, member)
    if start >= len(body) or body[start] != 0x5B:
        raise NotAnArray("the answer is not a JSON array" if member is None else f"no {member}")
    return _elements(body, start)


def member_slice(body: bytes, member: str) -> tuple[bytes, int]:
    """The value of the top-level object's ``member`` (Shopify's ``{"order": {...}}``) as its
    exact bytes, and where they start in ``body``."""
    _parse(body)
    start = _member(body, _skip(body, 0), member)
    end = _value_end(body, start)
    return body[start:end], start


def _parse(body: bytes) -> None:
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotAnArray("the answer is not valid JSON") from exc
    except RecursionError:  # the parser recurses per level: a hostile answer nests deep
        raise NotAnArray("the answer is too deeply nested to read") from None


def _skip(body: bytes, i: int) -> int:
    while i < len(body) and body[i] in _SPACE:
        i += 1
    return i


def _string_end(body: bytes, i: int) -> int:
    """The index after the string that starts (with its quote) at ``i``."""
    i += 1
    while body[i] != _QUOTE:
        i += 2 if body[i] == _BACKSLASH else 1
    return i + 1


def _value_end(body: bytes, i: int) -> int:
    first = body[i]
    if first == _QUOTE:
        return _string_end(body, i)
    if first not in _OPEN:
        while i < len(body) and body[i] not in _SCALAR_END:
            i += 1
        return i
    depth = 0
    while True:
        byte = body[i]
        if byte == _QUOTE:
            i = _string_end(body, i)
            continue
        if byte in _OPEN:
            depth += 1
        elif byte in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def _elements(body: bytes, i: int) -> list[bytes]:
    items: list[bytes] = []
    i = _skip(body, i + 1)
    if body[i] == 0x5D:
        return items
    while True:
        end = _value_end(body, i)
        items.append(body[i:end])
        i = _skip(body, end)
        if body[i] == 0x5D:
            return items
        i = _skip(body, i + 1)  # past the comma


def _member(body: bytes, i: int, name: str) -> int:
    """Where the value of the top-level object's member ``name`` starts."""
    if i >= len(body) or body[i] != 0x7B:
        raise NotAnArray(f"the answer is not a JSON object with {name}")
    i = _skip(body, i + 1)
    while i < len(body) and body[i] == _QUOTE:
        key_end = _string_end(body, i)
        key = json.loads(body[i:key_end])
        i = _skip(body, _skip(body, key_end) + 1)  # past the colon
        if key == name:
            return i
        i = _skip(body, _value_end(body, i))
        if body[i] == 0x2C:
            i = _skip(body, i + 1)
    raise NotAnArray(f"the answer has no {name}")
