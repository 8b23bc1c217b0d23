"""A JSON body laid out to be read, every token kept exactly as it was sent.

Parsing and dumping it again would show 19.99 for the 19.990 that was sent (or a float);
this only adds line breaks and indentation between tokens, so what a reader sees is what
the platform sent, character for character inside every string and number.
"""

from __future__ import annotations

INDENT = "  "
_CLOSING = {"{": "}", "[": "]"}


def indent_json(text: str) -> str:
    """``text`` with one line per member and element (``{}`` and ``[]`` stay whole)."""
    out: list[str] = []
    depth = 0
    in_string = escaped = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        i += 1
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch in _CLOSING:
            rest = text[i:].lstrip()
            if rest.startswith(_CLOSING[ch]):  # an empty object or array: keep it whole
                out.append(ch + _CLOSING[ch])
                i = n - len(rest) + 1
            else:
                depth += 1
                out.append(ch + "\n" + INDENT * depth)
        elif ch in "}]":
            depth = max(depth - 1, 0)
            out.append("\n" + INDENT * depth + ch)
        elif ch == ",":
            out.append(",\n" + INDENT * depth)
        elif ch == ":":
            out.append(": ")
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)
