"""The conversion helpers every adapter goes through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from service.adapters.body import check_lines, parse_json
from service.adapters.common import (
    PayloadError,
    divide,
    ident,
    money,
    optional_money,
    quantity,
    required_ident,
    sku,
    text,
    timestamp,
)
from service.adapters.headers import delivery_headers


def exact(actual: Decimal, expected: str) -> None:
    """Equal and with the same scale: Decimal("2.000") == Decimal("2") would hide a lost scale."""
    assert actual == Decimal(expected)
    assert str(actual) == expected


# parse_json


def test_parse_json_keeps_fractions_exact() -> None:
    doc = parse_json(b'{"price": 9.5, "big": 0.1, "total": "2.000", "n": 3}')
    assert doc == {"price": Decimal("9.5"), "big": Decimal("0.1"), "total": "2.000", "n": 3}
    assert isinstance(doc["price"], Decimal)
    assert isinstance(doc["n"], int)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b'{"a": 1,}', b"\xff\xfe{}", b'{"a": "\xc3"}', b"[" * 100_000],
)
def test_parse_json_rejects_what_is_not_json(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_json(body)
    assert caught.value.reason == "invalid_json"
    assert caught.value.field is None


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_parse_json_rejects_non_finite_numbers(constant: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_json(b'{"total": ' + constant + b"}")
    assert caught.value.reason == "invalid_json"
    assert constant.decode().lstrip("-") in caught.value.detail


def test_parse_json_tolerates_a_byte_order_mark() -> None:
    assert parse_json(b'\xef\xbb\xbf{"id": 1}') == {"id": 1}


# money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19.99", "19.99"),
        ("2.000", "2.000"),
        (" 5 ", "5"),
        (499, "499"),
        (0, "0"),
        (Decimal("9.5"), "9.5"),
        (Decimal("3.3333333333333335"), "3.3333333333333335"),
    ],
)
def test_money_is_exact_and_keeps_its_scale(value: Any, expected: str) -> None:
    exact(money(value, "total"), expected)


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        19.99,
        2.0,
        "abc",
        "1,50",
        "1_000",
        "NaN",
        "Infinity",
        "1e5",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1E+40"),
        [],
        {},
    ],
)
def test_money_rejects_anything_inexact_or_garbage(value: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        money(value, "line_items[2].total")
    assert caught.value.reason == "invalid_field"
    assert caught.value.field == "line_items[2].total"
    assert "line_items[2].total" in str(caught.value)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_money_is_zero_only_when_optional(value: Any) -> None:
    exact(money(value, "shipping_total", optional=True), "0")
    assert optional_money(value, "price") is None
    with pytest.raises(PayloadError) as caught:
        money(value, "total")
    assert (caught.value.reason, caught.value.field) == ("missing_field", "total")


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**12), max_value=10**12
    )
)
def test_money_round_trips_any_fixed_point_text(amount: Decimal) -> None:
    parsed = money(f"{amount:f}", "total", signed=True)
    assert parsed.as_tuple() == amount.as_tuple()


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_takes_integers_as_they_are(number: int) -> None:
    assert money(number, "price", signed=True) == Decimal(number)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_money_never_accepts_a_float(number: float) -> None:
    with pytest.raises(PayloadError):
        money(number, "price")


@pytest.mark.parametrize(
    ("amount", "count", "expected"),
    [("19.99", 1, "19.99"), ("10.00", 3, "3.33"), ("10", 4, "2.50"), ("2.000", 3, "0.667")],
)
def test_divide_quantizes_to_the_amounts_scale(amount: str, count: int, expected: str) -> None:
    exact(divide(Decimal(amount), count), expected)


def test_divide_by_zero_quantity_is_the_amount() -> None:
    exact(divide(Decimal("5.00"), 0), "5.00")


# quantity


@pytest.mark.parametrize(
    ("value", "expected"), [(2, 2), (0, 0), ("3", 3), (Decimal("2"), 2), (Decimal("2.0"), 2)]
)
def test_quantity_takes_whole_numbers(value: Any, expected: int) -> None:
    result = quantity(value, "quantity")
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [True, False, 1.0, 1.5, Decimal("1.5"), "1.5", "abc", "", -1, "-1", Decimal("1E+30"), []],
)
def test_quantity_rejects_non_whole_or_negative(value: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        quantity(value, "line_items[0].quantity")
    assert caught.value.field == "line_items[0].quantity"
    assert caught.value.reason in ("invalid_field", "missing_field")


def test_quantity_may_be_negative_when_signed() -> None:
    assert quantity(-3, "stock_quantity", signed=True) == -3


def test_missing_quantity_is_a_missing_field() -> None:
    with pytest.raises(PayloadError) as caught:
        quantity(None, "line_items[0].quantity")
    assert caught.value.reason == "missing_field"


# ids, text, timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), ("abc", "abc"), (" 7 ", "7"), (0, None), ("0", None), ("", None), (None, None)],
)
def test_ident(value: Any, expected: str | None) -> None:
    assert ident(value, "id") == expected


@pytest.mark.parametrize("value", [True, 1.5, Decimal("3"), -4, [], {}])
def test_ident_rejects_non_ids(value: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        ident(value, "line_items[1].product_id")
    assert caught.value.field == "line_items[1].product_id"


def test_required_ident_distinguishes_missing_from_empty() -> None:
    with pytest.raises(PayloadError) as missing:
        required_ident(None, "id")
    with pytest.raises(PayloadError) as empty:
        required_ident(0, "id")
    assert (missing.value.reason, missing.value.field) == ("missing_field", "id")
    assert (empty.value.reason, empty.value.field) == ("invalid_field", "id")
    assert required_ident(9999, "id") == "9999"


def test_text() -> None:
    assert text("Bar3") == "Bar3"
    assert text("") is None
    assert text("   ") is None
    assert text(None) is None
    assert text(345) == "345"
    with pytest.raises(PayloadError):
        text({"a": 1}, "sku")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-07-06T14:17:03", datetime(2023, 7, 6, 14, 17, 3, tzinfo=UTC)),
        ("2023-07-06T14:17:03Z", datetime(2023, 7, 6, 14, 17, 3, tzinfo=UTC)),
        (
            "2023-03-24T11:28:18-04:00",
            datetime(2023, 3, 24, 11, 28, 18, tzinfo=timezone(timedelta(hours=-4))),
        ),
    ],
)
def test_timestamp_is_aware_and_in_utc(value: str, expected: datetime) -> None:
    parsed = timestamp(value, "date_created_gmt")
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_that_does_not_exist_in_utc_is_refused(value: str) -> None:
    with pytest.raises(PayloadError) as err:
        timestamp(value, "date_modified_gmt")
    assert err.value.field == "date_modified_gmt"


@pytest.mark.parametrize("value", ["0." + "1" * 17000, "1" * 40, "1e5", "0.000000000000000000001"])
def test_amounts_beyond_plausible_size_are_refused(value: str) -> None:
    with pytest.raises(PayloadError):
        money(value, "total")


def test_ids_and_skus_that_could_not_key_a_row_are_refused() -> None:
    with pytest.raises(PayloadError) as err:
        ident("x" * 65, "id")
    assert err.value.field == "id"
    assert ident("x" * 64, "id") == "x" * 64
    with pytest.raises(PayloadError):
        sku("s" * 256, "line_items[0].sku")


def test_timestamp_absent_or_garbage() -> None:
    assert timestamp(None, "created_at") is None
    assert timestamp("", "created_at") is None
    for bad in ("yesterday", 1690000000, "2023-13-45T00:00:00"):
        with pytest.raises(PayloadError) as caught:
            timestamp(bad, "created_at")
        assert (caught.value.reason, caught.value.field) == ("invalid_field", "created_at")


# headers and errors


def test_delivery_headers_keep_the_platforms_and_never_credentials() -> None:
    headers = CIMultiDict(
        {
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": "c2lnbmF0dXJl",
            "User-Agent": "WooCommerce/8.0 Hookshot (WordPress/6.3)",
            "Content-Type": "application/json",
            "Authorization": "Bearer secret-token",
            "Cookie": "session=abc",
            "X-Shopify-Topic": "orders/create",
            "X-Forwarded-For": "10.0.0.1",
        }
    )
    assert delivery_headers(headers, "X-WC-") == {
        "x-wc-webhook-topic": "order.created",
        "x-wc-webhook-signature": "c2lnbmF0dXJl",
        "user-agent": "WooCommerce/8.0 Hookshot (WordPress/6.3)",
        "content-type": "application/json",
    }


def test_delivery_headers_drop_credential_headers_even_with_the_prefix() -> None:
    headers = {"X-Shopify-Access-Token": "shpat_secret", "x-shopify-topic": "orders/paid"}
    assert delivery_headers(headers, "x-shopify-") == {"x-shopify-topic": "orders/paid"}


def test_payload_error_message_names_the_field() -> None:
    error = PayloadError("invalid_field", "line_items[0].quantity", "expected a whole number")
    assert str(error) == "line_items[0].quantity: expected a whole number"
    assert str(PayloadError("invalid_json", None, "body is not valid JSON")) == (
        "body is not valid JSON"
    )


def test_negative_amounts_are_refused_unless_the_platform_writes_them_negated() -> None:
    with pytest.raises(PayloadError) as caught:
        money("-10.00", "total")
    assert (caught.value.reason, caught.value.field) == ("invalid_field", "total")
    exact(money("-10.00", "refunds[0].total", signed=True), "-10.00")
    exact(money("-0.00", "total"), "-0.00")  # zero, whatever its sign


@pytest.mark.parametrize("digits", ["\uff13", "\u0663", "1\u0660", "\u096a.50", "\uff11\uff10"])
def test_amounts_and_quantities_are_ascii_digits_only(digits: str) -> None:
    for read in (money, quantity):
        with pytest.raises(PayloadError) as caught:
            read(digits, "line_items[0].quantity")
        assert caught.value.reason == "invalid_field"


@pytest.mark.parametrize("depth", [65, 490, 975, 3000, 100_000])
def test_any_nesting_past_the_limit_is_invalid_json(depth: int) -> None:
    body = b'{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(PayloadError) as caught:
        parse_json(body)
    assert caught.value.reason == "invalid_json"


def test_nesting_up_to_the_limit_is_read() -> None:
    body = b"[" * 64 + b'"deep"' + b"]" * 64
    doc = parse_json(body)
    for _ in range(64):
        doc = doc[0]
    assert doc == "deep"


@pytest.mark.parametrize(
    ("one", "other"),
    [("7\\u0000", "7\ufffd"), ("7\\ud800", "7?"), ("A\\u0000B", "A\ufffdB")],
)
def test_ids_that_differ_never_become_one(one: str, other: str) -> None:
    """Sanitising keeps text storable; an id it had to change is refused, not merged."""
    doc = parse_json(f'{{"a": "{one}", "b": "{other}"}}'.encode())
    with pytest.raises(PayloadError) as caught:
        ident(doc["a"], "id")
    assert (caught.value.reason, caught.value.field) == ("invalid_field", "id")
    assert ident(doc["b"], "id") == other
    with pytest.raises(PayloadError):
        sku(doc["a"], "sku")
    assert type(text(doc["a"], "name")) is str  # as text it stays storable, and plain


def test_every_list_that_becomes_events_counts_toward_the_line_limit() -> None:
    doc = {"line_items": [{}], "refunds": [{"refund_line_items": [{}, {}]}] * 3}
    check_lines(doc, 10)  # 1 line, 3 refunds, 6 refund lines
    with pytest.raises(PayloadError) as caught:
        check_lines(doc, 9)
    assert caught.value.reason == "too_many_lines"
    with pytest.raises(PayloadError):
        check_lines({"variants": [{}] * 11}, 10)
