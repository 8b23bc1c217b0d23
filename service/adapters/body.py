"""A webhook body as JSON the adapters can read: exact decimals, storable text, bounded.

Every rule about the body as a whole lives here: its encoding, its nesting, the text
PostgreSQL cannot store, how many lines it may carry.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NoReturn

from service.adapters.common import Altered, PayloadError, shown

# No real order nests deeper than a few levels (an order, its lines, their meta, a value);
# beyond this a body is refused before anything walks it.
MAX_DEPTH = 64


def parse_json(body: bytes, content_encoding: str | None = None) -> Any:
    """Decode a webhook body with exact decimals; floats never appear in the result.

    Bodies are kept as they arrived, so a compressed one is refused by name (neither platform
    compresses webhook bodies; a body that is, is kept for a person to look at).
    """
    if content_encoding and content_encoding.strip().lower() not in ("identity", ""):
        raise PayloadError(
            "unsupported_encoding", None, f"Content-Encoding {shown(content_encoding)}: send JSON"
        )
    try:
        # utf-8-sig: some PHP stacks prepend a BOM, which is not a reason to drop a sale.
        decoded = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError("invalid_json", None, "body is not valid UTF-8") from exc
    try:
        doc = json.loads(decoded, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            "invalid_json", None, f"body is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise PayloadError("invalid_json", None, "body is not valid JSON") from exc
    return storable(doc)


def _storable_text(value: str) -> str:
    if value.isascii() and "\x00" not in value:
        return value
    fixed = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return value if fixed == value else Altered(fixed)


def storable(doc: Any) -> Any:
    """The document with strings PostgreSQL can store: JSON may carry ``\\u0000`` and lone
    surrogates, which ``text`` and ``jsonb`` refuse (and one such event would stall a
    projection for good). NUL becomes U+FFFD and a lone surrogate ``?`` (marked ``Altered``);
    the raw body keeps the original bytes. Walked without recursion, and refused past
    ``MAX_DEPTH`` levels, so no nesting can exhaust the stack."""
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any, int]] = [(root, 0, 0)]
    while stack:
        parent, key, depth = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            parent[key] = _storable_text(value)
        elif isinstance(value, list | dict):
            if depth >= MAX_DEPTH:
                raise PayloadError(
                    "invalid_json", None, f"body nests deeper than {MAX_DEPTH} levels"
                )
            if isinstance(value, dict):
                value = parent[key] = {_storable_text(k): v for k, v in value.items()}
            stack.extend(
                (value, k, depth + 1)
                for k in (value if isinstance(value, dict) else range(len(value)))
            )
    return root[0]


def _reject_constant(name: str) -> NoReturn:
    raise PayloadError("invalid_json", None, f"body contains {name}, which is not a number")


# The lists of a body whose items become events or rows: an order's lines and refunds (and
# their lines), a refund's lines, a product's variants.
_COUNTED = ("line_items", "refunds", "refund_line_items", "variants")


def check_lines(doc: Any, limit: int) -> None:
    """Refuse a body whose lines, refunds, refund lines and variants add up to more than
    ``limit``, before anything reads them.

    Real orders have a few of each; tens of thousands under the body size limit would take
    seconds to record, and their events would stall the projections for every user.
    """
    if not isinstance(doc, dict):
        return
    count = 0
    for name in _COUNTED:
        items = doc.get(name)
        if isinstance(items, list):
            count += len(items)
            if name == "refunds":
                nested = (r.get("refund_line_items") for r in items if isinstance(r, dict))
                count += sum(len(lines) for lines in nested if isinstance(lines, list))
    if count > limit:
        raise PayloadError(
            "too_many_lines",
            None,
            f"{count} lines, refunds and variants; at most {limit} are taken (LEDGER_MAX_LINES)",
        )
