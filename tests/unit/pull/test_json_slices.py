"""Each element of a JSON array as its exact bytes, whatever the spacing or the strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.json_slices import NotAnArray, array_items, member_slice
from tests.builders import FIXTURES

REST = FIXTURES / "woocommerce-rest"

_text = st.text(alphabet=st.sampled_from('ab"\\[]{},: \n\u00e9\u2028\U0001f600'), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)
_spacing = st.sampled_from([None, 0, 1, 3])


def _check_slices(body: bytes, items: list[bytes], values: list[object]) -> None:
    assert [json.loads(item) for item in items] == values
    position = 0
    for item in items:  # slices of the body, in order, never overlapping
        position = body.index(item, position) + len(item)


@given(st.lists(_json, max_size=6), _spacing, st.booleans())
def test_each_element_is_its_exact_slice(values, indent, ascii_only):
    body = json.dumps(values, indent=indent, ensure_ascii=ascii_only).encode()
    items = array_items(body)
    _check_slices(body, items, values)
    if indent is None:  # the same encoder, element by element: the very same bytes
        assert items == [json.dumps(v, ensure_ascii=ascii_only).encode() for v in values]


@given(st.lists(_json, max_size=5), st.sampled_from([b" ", b"\n", b"\t", b"\r\n  "]))
def test_whitespace_anywhere_between_tokens(values, space):
    parts = [json.dumps(v).encode() for v in values]
    body = space + b"[" + space + (space + b"," + space).join(parts) + space + b"]" + space
    items = array_items(body)
    assert items == parts


@given(st.lists(_json, max_size=5), _text)
def test_an_array_under_a_member(values, other):
    inner = json.dumps(values).encode()
    body = (
        b'{"a":'
        + json.dumps(other).encode()
        + b', "x": [1, {"orders": 2}] , "orders" : '
        + inner
        + b"}"
    )
    assert [json.loads(i) for i in array_items(body, member="orders")] == values


def test_strings_with_brackets_and_escaped_quotes():
    body = b'[ "a]\\"[", {"k": "}]\\\\"} ,[[]] , -1.5e3,true ]'
    assert array_items(body) == [b'"a]\\"["', b'{"k": "}]\\\\"}', b"[[]]", b"-1.5e3", b"true"]


def test_the_real_pages_slice_into_the_orders_they_hold():
    body = (REST / "047-day2-orders-modified-asc-p1.body").read_bytes()
    items = array_items(body)
    assert [json.loads(i)["id"] for i in items] == [26, 19, 20]
    assert b"[" + b",".join(items) + b"]" == body
    assert array_items((REST / "016-orders-modified-asc-p4.body").read_bytes()) == []


@pytest.mark.parametrize(
    ("body", "member"),
    [
        (b"", None),
        (b"[1,", None),
        (b'{"a": []}', None),
        (b"[]", "orders"),
        (b'{"a": 1}', "a"),
        (b'{"a": []}', "orders"),
        (b"\xff", None),
        (b"nul", None),
    ],
)
def test_what_is_not_an_array_is_refused(body, member):
    with pytest.raises(NotAnArray):
        array_items(body, member=member)


@pytest.mark.parametrize("member", [None, "orders"])
def test_an_answer_nested_too_deep_is_not_an_array_not_a_recursion_error(member):
    deep = b"[" * 200_000 + b"]" * 200_000
    body = deep if member is None else b'{"orders":' + deep + b"}"
    with pytest.raises(NotAnArray, match="too deeply nested"):
        array_items(body, member=member)


def test_a_member_is_sliced_out_exactly_with_its_offset():
    body = b'{ "notice" : "x}" ,\n "order" :\t{"id": 1, "note": "a \\" }"} }'
    item, at = member_slice(body, "order")
    assert item == b'{"id": 1, "note": "a \\" }"}' and body[at : at + len(item)] == item
    with pytest.raises(NotAnArray):
        member_slice(b'{"orders": []}', "order")
    with pytest.raises(NotAnArray):
        member_slice(b"[1]", "order")
