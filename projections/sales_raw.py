"""Sale events' fields read straight from their stored JSON, for the sales bulk loader.

A stored Decimal is ``{"_type_": "decimal_str", "_data_": str(value)}`` and a datetime
``{"_type_": "datetime_iso", "_data_": value.isoformat()}`` (service/store/transcoder.py); these
helpers turn such fields into what ``SalesProjection.apply`` writes for the decoded event.
A field of another shape fails a lookup (KeyError, TypeError) or raises ValueError, and with
it the batch, which the rebuild then applies event by event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.values import product_ref
from projections.base import StoredUuids
from projections.encoding import to_json

_STATUSES = frozenset(("pending", "sale", "cancelled", "refunded"))
_fromisoformat = datetime.fromisoformat


def status(d: dict[str, Any]) -> tuple[str, str]:
    status, platform_status = d["status"], d["platform_status"]
    if status not in _STATUSES or type(platform_status) is not str:
        raise ValueError(f"not a sale status: {status!r}, {platform_status!r}")
    return status, platform_status


def stored_datetime(value: Any) -> datetime:
    if value["_type_"] != "datetime_iso":
        raise ValueError(f"not a stored datetime: {value!r}")
    return _fromisoformat(value["_data_"])


def render_lines(lines: list[dict[str, Any]], platform: Any) -> str:
    """The ``lines`` jsonb of ``line_json``: each line with its stock key on ``platform``."""
    for line in lines:
        line["product_ref"] = product_ref(
            platform, line["product_id"], line["variation_id"], line["sku"]
        )
    return to_json(lines)


class Values:
    """Decoding of stored values, memoised per batch (amounts and users repeat a lot)."""

    def __init__(self) -> None:
        self.users = StoredUuids()
        self.amounts: dict[str, Decimal] = {}

    def amount(self, value: Any) -> Decimal:
        """A stored Decimal (``{"_type_": "decimal_str", "_data_": text}``)."""
        text = value["_data_"]
        found = self.amounts.get(text)
        if found is None:
            if value["_type_"] != "decimal_str":
                raise ValueError(f"not a stored Decimal: {value!r}")
            found = self.amounts[text] = Decimal(text)
        return found

    def details(self, d: dict[str, Any]) -> list[Any]:
        """The amendable fields in column order; lines still without their ``product_ref``.

        A stored Decimal's text is ``str()`` of it, exactly what ``to_json`` writes for a
        line's amounts, so a line keeps its texts. A field of another shape fails the lookup
        (KeyError, TypeError) and with it the batch, which then goes event by event."""
        person = d["customer"]["_data_"]
        lines = []
        for item in d["lines"]:
            line = item["_data_"]
            line["unit_price"] = line["unit_price"]["_data_"]
            line["total"] = line["total"]["_data_"]
            # Lines stored before the store's bookkeeping was read have neither field.
            line.setdefault("reduced_stock", None)
            line.setdefault("restocked", None)
            lines.append(line)
        amount = self.amount
        return [
            *(person["name"], person["email"], lines),
            *(amount(d["subtotal"]), amount(d["shipping"]), amount(d["tax"])),
            *(amount(d["discount"]), amount(d["total"]), d["currency"], d["payment_method"]),
        ]
