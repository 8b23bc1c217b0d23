"""The one place where platform JSON values become domain values.

Both adapters convert money, quantities, ids, text and timestamps only through these helpers, so
a rule (no floats for money, ``0`` is not an id, naive times are UTC) is decided once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal

from aggregates.values import ZERO

Reason = Literal[
    "invalid_json",
    "too_many_lines",
    "not_an_order",
    "not_a_product",
    "not_a_refund",
    "not_a_deletion",
    "unsupported_topic",
    "invalid_field",
    "missing_field",
    "unsupported_encoding",
    "unexpected_source",
]

# ASCII digits only: Python's \d (and Decimal, and int) also take full-width or Arabic-Indic
# digits, which no platform sends and which would not be the amount "exact as sent".
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,15}")
# Bounds that no real order reaches; beyond them a value is an attack or a bug, and letting it
# through would only fail later, in PostgreSQL, as an internal error.
_MAX_ADJUSTED_EXPONENT = 15
_MIN_ADJUSTED_EXPONENT = -20
_MAX_QUANTITY = 10**9
# Ids and SKUs key indexed rows; PostgreSQL's btree refuses keys of a few kB, and one such
# event would stall a projection, so longer values are refused here, with the field named.
_MAX_ID_LENGTH = 64
_MAX_SKU_LENGTH = 255
_MAX_DECIMAL_PLACES = 20


class PayloadError(Exception):
    """The body cannot be read as the platform object it claims to be.

    ``reason`` is a stable code for the error body, ``field`` the path of the offending value
    (``"line_items[0].quantity"``) or ``None`` for the whole body, ``detail`` human text.
    """

    def __init__(self, reason: Reason, field: str | None, detail: str) -> None:
        self.reason: Reason = reason
        self.field = field if field is None or len(field) <= 120 else field[:117] + "..."
        # A sentence for a person, never an echo of the body: bounded.
        self.detail = detail if len(detail) <= 200 else detail[:197] + "..."
        super().__init__(f"{field}: {detail}" if field else detail)


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error's detail shows it: as JSON writes it (``1E+400``, ``"3"``, never
    a Python repr such as ``Decimal('1E+400')``), shortened to ``limit`` characters."""
    if isinstance(value, Decimal):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = "(unprintable)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Altered(str):
    """A string that ``storable`` had to change: it held a NUL or a lone surrogate.

    Fine as text (a name), never as a key: two ids that differ only there would become one
    (``"7\\u0000"`` and ``"7\\ufffd"``), so ``ident`` and ``sku`` refuse it.
    """


def _invalid(field: str, expected: str, value: Any) -> PayloadError:
    return PayloadError("invalid_field", field, f"expected {expected}, got {shown(value)}")


def money(value: Any, field: str, *, optional: bool = False, signed: bool = False) -> Decimal:
    """An exact amount, keeping the scale it was sent with (``"2.000"`` stays three places).

    With ``optional``, a missing or empty value is zero; otherwise it is a ``missing_field``.
    Floats are refused: by the time a float exists, the exact amount is already lost. An
    amount is not negative (a sale of less than nothing is no sale) unless ``signed``, for
    the few the platform writes negated (WooCommerce's refund totals).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return ZERO
        raise PayloadError("missing_field", field, "an amount is required")
    amount = _to_decimal(value, field)
    adjusted = amount.adjusted()
    exponent = amount.as_tuple().exponent
    plausible = (
        (not amount or _MIN_ADJUSTED_EXPONENT <= adjusted <= _MAX_ADJUSTED_EXPONENT)
        and isinstance(exponent, int)
        and exponent >= -_MAX_DECIMAL_PLACES
    )
    if not plausible:
        raise _invalid(field, "an amount of plausible size", value)
    if amount < 0 and not signed:
        raise _invalid(field, "an amount that is not negative", value)
    return amount


def _to_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool | float):
        raise _invalid(field, "an exact amount (a string or an integer)", value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise _invalid(field, "an amount", value)


def optional_money(value: Any, field: str) -> Decimal | None:
    """An amount that may be absent (a variable product's empty ``price``); not negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return money(value, field)


def divide(amount: Decimal, count: int) -> Decimal:
    """``amount / count`` at the amount's scale, at least cents and at most 8 places.

    Used only where a platform sends no unit price; ``count`` 0 gives the amount itself.
    """
    if count == 0:
        return amount
    exponent = amount.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 2
    step = Decimal(1).scaleb(-min(max(places, 2), 8))
    return (amount / count).quantize(step, rounding=ROUND_HALF_UP)


def quantity(value: Any, field: str, *, signed: bool = False) -> int:
    """A whole count: an int, an integral decimal or a digit string; negative only if signed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PayloadError("missing_field", field, "a quantity is required")
    number = _to_int(value, field)
    if abs(number) > _MAX_QUANTITY:
        raise _invalid(field, "a quantity of plausible size", value)
    if number < 0 and not signed:
        raise _invalid(field, "a quantity that is not negative", value)
    return number


def _to_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise _invalid(field, "a whole number", value)
    if isinstance(value, int):
        return value
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() <= _MAX_ADJUSTED_EXPONENT  # before int(): 1E+999999 is costly
        and value == value.to_integral_value()
    ):
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise _invalid(field, "a whole number", value)


def ident(value: Any, field: str) -> str | None:
    """A platform id as opaque text; ``0``, ``"0"``, ``""`` and ``None`` mean "none"."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value) if value else None
    if isinstance(value, str):
        if isinstance(value, Altered):
            raise _invalid(field, "an id without NUL or invalid characters", value)
        stripped = value.strip()
        if len(stripped) > _MAX_ID_LENGTH:
            raise _invalid(field, f"an id of at most {_MAX_ID_LENGTH} characters", value)
        return None if stripped in ("", "0") else stripped
    raise _invalid(field, "an id (a number or a string)", value)


def sku(value: Any, field: str) -> str | None:
    """A SKU as sent (it may key stock), or ``None`` when blank."""
    if isinstance(value, Altered):
        raise _invalid(field, "a SKU without NUL or invalid characters", value)
    found = text(value, field)
    if found is not None and len(found) > _MAX_SKU_LENGTH:
        raise _invalid(field, f"a SKU of at most {_MAX_SKU_LENGTH} characters", value)
    return found


@contextmanager
def exact_arithmetic() -> Iterator[None]:
    """Sums and products of bounded amounts with no rounding (the default context keeps
    28 digits; amounts here have at most 36)."""
    with localcontext() as ctx:
        ctx.prec = 100
        yield


def required_ident(value: Any, field: str) -> str:
    """An id that must be present: absent is ``missing_field``, empty or 0 ``invalid_field``."""
    if value is None:
        raise PayloadError("missing_field", field, "an id is required")
    found = ident(value, field)
    if found is None:
        raise _invalid(field, "a non-empty id", value)
    return found


def text(value: Any, field: str | None = None) -> str | None:
    """A string as sent, or ``None`` when absent or blank; numbers become their text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return str(value) if value.strip() else None  # plain str, even of an Altered one
    raise _invalid(field or "?", "text", value)


def full_name(person: Mapping[str, Any], path: str) -> str | None:
    """``first_name`` and ``last_name`` joined, or ``None`` when both are blank."""
    first = text(person.get("first_name"), f"{path}.first_name") or ""
    last = text(person.get("last_name"), f"{path}.last_name") or ""
    return f"{first.strip()} {last.strip()}".strip() or None


def timestamp(value: Any, field: str) -> datetime | None:
    """An ISO 8601 time as an aware datetime; a naive one is UTC (WooCommerce's ``*_gmt``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _invalid(field, "an ISO 8601 timestamp", value)
    try:
        parsed = datetime.fromisoformat(value.strip())
        # In UTC, as stored; a time that cannot be expressed there is not a real one.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise _invalid(field, "an ISO 8601 timestamp", value) from exc


def as_object(value: Any, field: str) -> Mapping[str, Any]:
    """A JSON object, or an empty one when absent.

    An empty list also counts as empty: PHP serialises an empty array as ``[]``, so WooCommerce
    sends ``"billing": []`` where it means "no billing details".
    """
    if value is None or value == []:
        return {}
    if isinstance(value, dict):
        return value
    raise _invalid(field, "an object", value)


def as_list(value: Any, field: str) -> list[Any]:
    """A JSON array, or an empty one when absent."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _invalid(field, "a list", value)


def objects(value: Any, field: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each object of a JSON array with its path, ``("line_items[0]", {...})``."""
    for index, item in enumerate(as_list(value, field)):
        path = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise _invalid(path, "an object", item)
        yield path, item
