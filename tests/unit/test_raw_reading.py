"""The bulk loaders' reading of stored fields (projections/sales_raw.py, raw_receipts.py),
against what ``apply`` writes for the decoded event."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import orjson
import pytest

from aggregates.order import Order
from aggregates.values import OrderLine
from projections.base import Recorded, receipt_source
from projections.encoding import to_json
from projections.raw_receipts import jsonb_ordered_view
from projections.sales import line_json
from projections.sales_raw import line, render_lines
from service.adapters.woocommerce import order_from_json
from service.store.transcoder import create_mapper
from tests.builders import delivery, woo_order


def _jsonb_order(keys: list[str]) -> list[str]:
    """How PostgreSQL orders a jsonb object's keys: shortest first, then bytewise."""
    return sorted(keys, key=lambda k: (len(k.encode()), k.encode()))


def _snapshot() -> Any:
    return order_from_json(woo_order(7))


def _sale() -> tuple[Any, list[dict[str, Any]]]:
    """A SaleRecorded (a line by id, one by variation, one by SKU only) and its stored lines."""
    body = woo_order(7)
    body["line_items"].append({"id": 3, "sku": "S-1", "quantity": 2, "total": "3.10"})
    order = Order.open(UUID(int=7), "woocommerce", "7")
    order.receive(delivery(), order_from_json(body))
    sale = next(e for e in order.collect_events() if isinstance(e, Order.SaleRecorded))
    return sale, orjson.loads(create_mapper().to_stored_event(sale).state)["lines"]


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_a_stored_line_is_what_line_json_makes_of_the_decoded_one(platform: str):
    sale, stored = _sale()
    expected = orjson.loads(to_json([line_json(x, platform) for x in sale.lines]))
    assert [line(s, platform) for s in stored] == expected
    # A line whose platform the batch does not know yet gets its reference at flush.
    later = [line(s, None) for s in stored]
    assert orjson.loads(render_lines(later, platform)) == expected


def test_its_keys_are_order_lines_fields_in_jsonb_order():
    _, stored = _sale()
    fields = [f.name for f in dataclasses.fields(OrderLine)]
    assert list(line(stored[0], "woocommerce")) == _jsonb_order([*fields, "product_ref"])


@pytest.mark.parametrize("absent", [("reduced_stock", "restocked"), ("restocked",)])
def test_a_line_without_the_stores_bookkeeping_decodes_as_its_defaults(absent: tuple[str]):
    sale, stored = _sale()
    for name in absent:
        del stored[0]["_data_"][name]
    found = line(stored[0], "woocommerce")
    assert (found["reduced_stock"], found["restocked"]) == (sale.lines[0].reduced_stock, None)


@pytest.mark.parametrize("change", ["an unknown field", "a missing one"])
def test_any_other_fields_fail_as_the_decoding_does(change: str):
    _, stored = _sale()
    data = stored[0]["_data_"]
    if change == "an unknown field":
        data["colour"] = "red"
    else:
        del data["name"]
    with pytest.raises((ValueError, KeyError)):
        line(stored[0], "woocommerce")
    with pytest.raises(TypeError):
        OrderLine(**data)


def test_a_receipts_view_is_receipt_source_with_its_keys_in_jsonb_order():
    order = Order.open(UUID(int=7), "woocommerce", "7")
    headers = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "3"}
    order.receive(delivery(delivery_id="9", source="https://shop", headers=headers), _snapshot())
    received = next(e for e in order.collect_events() if isinstance(e, Order.OrderReceived))
    recorded = Recorded(41, received)
    position = (41, received.originator_id, received.originator_version)
    view = jsonb_ordered_view(position, vars(received), received.received_at.isoformat())
    assert view == receipt_source(recorded)
    assert list(view) == _jsonb_order(list(view))
    assert list(view["delivery"]) == _jsonb_order(list(view["delivery"]))
