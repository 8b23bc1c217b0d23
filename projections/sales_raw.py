"""Sale events' fields read straight from their stored JSON, for the sales bulk loader.

A stored Decimal is ``{"_type_": "decimal_str", "_data_": str(value)}``, a datetime
``{"_type_": "datetime_iso", "_data_": value.isoformat()}`` and a UUID ``{"_type_":
"uuid_hex", "_data_": value.hex}`` (service/store/transcoder.py); these helpers turn such
fields into what ``SalesProjection.apply`` writes for the decoded event, as the text that a
COPY in text format gives PostgreSQL (projections/bulk_writer.py). A field of another shape
fails a lookup (KeyError, TypeError) or raises ValueError, and with it the batch, which the
rebuild then applies event by event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.values import product_ref
from projections.base import StoredUuids, raw_uuid
from projections.encoding import to_json

_STATUSES = frozenset(("pending", "sale", "cancelled", "refunded"))
_AMOUNTS = ("subtotal", "shipping", "tax", "discount", "total")
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


def time_text(value: datetime) -> str:
    """A timestamptz as COPY's text: the same instant asyncpg would send. asyncpg reads a
    time without an offset as local time and the server would read it in its own zone, so
    such a time (never stored by this ledger) is left to the per-event path."""
    if value.tzinfo is None:
        raise ValueError(f"a time without an offset: {value!r}")
    return value.isoformat()


def render_lines(lines: list[dict[str, Any]], platform: Any) -> str:
    """The ``lines`` jsonb of ``line_json``: each line with its stock key on ``platform``."""
    for line in lines:
        line["product_ref"] = product_ref(
            platform, line["product_id"], line["variation_id"], line["sku"]
        )
    return to_json(lines)


def line(stored: dict[str, Any], platform: Any) -> dict[str, Any]:
    """What ``line_json`` makes of a stored order line (``stored["_data_"]``), its
    ``product_ref`` on ``platform`` (None: unknown yet, set by ``render_lines``).

    The keys are written in the order PostgreSQL keeps a jsonb object's keys (shortest
    first, then bytewise), since it sorts the keys of every object it reads: given them in
    that order, its sort is one pass (the lines of 186,000 sales took it 1.8 s of CPU to
    read instead of 2.9). tests/unit/test_raw_reading.py holds them to ``OrderLine``'s fields.
    """
    data = stored["_data_"]
    # The fields OrderLine(**data) takes: eight, and the store's own bookkeeping (two, not
    # stored before it was read); another field fails the decoding, and so the batch.
    optional = ("reduced_stock" in data) + ("restocked" in data)
    if len(data) != 8 + optional:
        raise ValueError(f"not a stored order line: {sorted(data)}")
    ref = None
    if platform is not None:
        ref = product_ref(platform, data["product_id"], data["variation_id"], data["sku"])
    return {
        "sku": data["sku"],
        "name": data["name"],
        "total": data["total"]["_data_"],
        "line_id": data["line_id"],
        "quantity": data["quantity"],
        "restocked": data.get("restocked"),
        "product_id": data["product_id"],
        "unit_price": data["unit_price"]["_data_"],
        "product_ref": ref,
        "variation_id": data["variation_id"],
        "reduced_stock": data.get("reduced_stock"),
    }


class Values:
    """Decoding of stored values, memoised per batch (amounts and users repeat a lot)."""

    def __init__(self) -> None:
        self.users = StoredUuids()
        self.user_texts: dict[str, str] = {}
        self.amounts: dict[str, Decimal] = {}
        self.amount_texts: dict[str, str] = {}

    def amount(self, value: Any) -> Decimal:
        """A stored Decimal (``{"_type_": "decimal_str", "_data_": text}``)."""
        text = value["_data_"]
        found = self.amounts.get(text)
        if found is None:
            if value["_type_"] != "decimal_str":
                raise ValueError(f"not a stored Decimal: {value!r}")
            found = self.amounts[text] = Decimal(text)
        return found

    def amount_text(self, value: Any) -> str:
        """A stored Decimal as the text PostgreSQL reads as the same numeric: ``str()`` of
        it, which keeps its scale ("0.00") as asyncpg's binary encoding does."""
        text = value["_data_"]
        found = self.amount_texts.get(text)
        if found is None:
            found = self.amount_texts[text] = str(self.amount(value))
        return found

    def user_text(self, value: Any) -> str:
        """A stored UUID as its canonical text."""
        found = self.user_texts.get(value["_data_"])
        if found is None:
            found = self.user_texts[value["_data_"]] = str(raw_uuid(value))
        return found

    def details(self, d: dict[str, Any], platform: Any) -> list[Any]:
        """The amendable fields in column order, amounts as text (which asyncpg takes for
        the numeric arrays of ``UPDATE_SALES`` too). The lines are rendered now when the
        order's ``platform`` is known; else (None) they stay a list of lines still without
        their ``product_ref``, rendered once it is found (``render_lines``).

        A stored Decimal's text is ``str()`` of it, exactly what ``to_json`` writes for a
        line's amounts, so a line keeps its texts. A field of another shape fails the lookup
        (KeyError, TypeError) and with it the batch, which then goes event by event."""
        person = d["customer"]["_data_"]
        lines = [line(item, platform) for item in d["lines"]]
        texts, amount = self.amount_texts, self.amount_text
        # One call a sale, five amounts each: the known texts are looked up inline.
        amounts = [texts.get(d[k]["_data_"]) or amount(d[k]) for k in _AMOUNTS]
        rendered = lines if platform is None else to_json(lines)
        customer = (person["name"], person["email"], rendered)
        return [*customer, *amounts, d["currency"], d["payment_method"]]
