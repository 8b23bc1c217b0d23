"""Rows a bulk loader copies in COPY's text format: one line a row, NULLs and escapes as
PostgreSQL reads them (tests/integration/store/test_bulk_rebuild.py reads them back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from projections.bulk_writer import text_field, text_line
from projections.sales_raw import Values, time_text


def test_plain_values_are_joined_by_tabs():
    assert text_line(("a", "Ana Ruiz", '[{"name":"x"}]')) == 'a\tAna Ruiz\t[{"name":"x"}]\n'


def test_none_is_null():
    assert text_line(("a", None, "b")) == "a\t\\N\tb\n"
    assert text_field(None) == "\\N"


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("Ana\tMaría", "Ana\\tMaría"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("C:\\shop", "C:\\\\shop"),
        ('[{"name":"12\\" shirt"}]', '[{"name":"12\\\\" shirt"}]'),  # JSON escaping a quote
        ("\\N", "\\\\N"),  # the text, not NULL
    ],
)
def test_separators_and_the_escape_are_escaped(value: str, field: str):
    assert text_field(value) == field
    assert text_line(("a", value, None)) == f"a\t{field}\t\\N\n"


def test_a_value_that_is_no_text_fails_as_asyncpg_would():
    with pytest.raises(TypeError):
        text_line(("a", 5))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        text_line(("a", None, 5))  # type: ignore[arg-type]


def test_amounts_keep_their_scale_as_text():
    values = Values()
    for text in ("15.50", "0", "0.00", "1E+2", "-2.50"):
        stored = {"_type_": "decimal_str", "_data_": text}
        assert values.amount_text(stored) == str(Decimal(text))
    with pytest.raises(ValueError, match="not a stored Decimal"):
        values.amount_text({"_type_": "datetime_iso", "_data_": "1.5"})


def test_times_are_the_instant_asyncpg_would_send():
    at = datetime(2026, 12, 1, 12, 45, 7, 642654, tzinfo=UTC)
    assert time_text(at) == "2026-12-01T12:45:07.642654+00:00"
    madrid = timezone(timedelta(hours=1))
    assert datetime.fromisoformat(time_text(at.astimezone(madrid))) == at
    # asyncpg reads a naive time as local time, the server in its own zone: neither is sure.
    with pytest.raises(ValueError, match="without an offset"):
        time_text(datetime(2026, 12, 1, 12, 45))
