"""One JSON encoder for what the ledger shows: exact money, ids and times as text."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import orjson
import pytest
from asyncpg.pgproto.pgproto import UUID as PgUUID

from projections.encoding import dumps, to_json
from service.http.params import encode_cursor, respond

SALE = UUID("6f1c1f4e-2f0b-5c3e-9a53-1f2b3c4d5e6f")


def test_money_is_its_exact_text_scale_and_all():
    assert to_json({"total": Decimal("19.990"), "tax": Decimal("0.10")}) == (
        '{"total":"19.990","tax":"0.10"}'
    )
    assert to_json([Decimal("-2.50"), Decimal("1E+2")]) == '["-2.50","1E+2"]'


def test_ids_and_times_are_canonical_text():
    at = datetime(2026, 12, 1, 10, 30, 5, 120, tzinfo=UTC)
    assert orjson.loads(dumps({"id": SALE, "at": at, "day": date(2026, 12, 1)})) == {
        "id": str(SALE),
        "at": "2026-12-01T10:30:05.000120+00:00",
        "day": "2026-12-01",
    }


def test_the_uuids_asyncpg_returns_are_ids_too():
    """asyncpg's UUID type is a uuid.UUID subclass that orjson does not know."""
    row_id = PgUUID(str(SALE))
    assert to_json({"sale_id": row_id}) == f'{{"sale_id":"{SALE}"}}'


def test_anything_else_is_a_named_error():
    with pytest.raises(TypeError, match="set"):
        dumps({"x": {1}})


def test_indented_output_for_people():
    assert dumps({"a": 1}, indent=True) == b'{\n  "a": 1\n}'


def test_the_api_answers_a_numeric_column_uncast():
    """A query returning numeric as Decimal is answered, not a 500."""
    response = respond({"items": [{"amount": Decimal("5.50"), "sale_id": SALE}]})
    assert response.status == 200
    assert response.body == b'{"items":[{"amount":"5.50","sale_id":"%s"}]}' % str(SALE).encode()


def test_cursors_carry_positions_as_the_same_text():
    assert encode_cursor(None) is None
    cursor = encode_cursor([Decimal("10.00"), SALE])
    assert cursor is not None
    assert orjson.loads(base64.urlsafe_b64decode(cursor)) == ["10.00", str(SALE)]
