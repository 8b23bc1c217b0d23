"""A delivery log row from what the intake knows: pure, so the edge cases are cheap to state."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from importlib import resources

import pytest

from service.intake.delivery import SpooledDelivery
from service.intake.delivery_log import COLUMNS
from service.intake.delivery_rows import LOG_OUTCOMES, log_row, named_id
from service.intake.ingest import QUEUED, Answer
from tests.builders import as_body

USER = uuid.uuid4()
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def _delivery(body: bytes, headers: dict[str, str] | None = None, **kw: str) -> SpooledDelivery:
    platform = kw.get("platform", "woocommerce")
    return SpooledDelivery(USER, platform, kw.get("kind", "order"), headers or {}, body, AT)


def _fields(row: tuple) -> dict:
    assert len(row) == len(COLUMNS)
    return dict(zip(COLUMNS, row, strict=True))


def test_every_outcome_the_log_can_hold_is_one_the_table_accepts():
    sql = (
        resources.files("service.store")
        .joinpath("migrations", "0008_deliveries.sql")
        .read_text("utf-8")
    )
    listed = re.search(r"outcome IN \((.*?)\)\)", sql, re.S)
    assert listed is not None
    assert set(re.findall(r"'([a-z_]+)'", listed.group(1))) == LOG_OUTCOMES


def test_a_recorded_order_names_its_sale_and_positions():
    sale = uuid.uuid4()
    body = as_body({"id": 5})
    answer = Answer(
        "recorded",
        {"status": "recorded", "sale_id": str(sale), "external_id": "5"},
        9,
        (8, 9),
        "unverified",
    )
    headers = {"x-wc-webhook-topic": "order.created", "x-wc-webhook-source": "https://s/"}
    row = _fields(
        log_row(_delivery(body, headers), answer, endpoint="order", status=200, duration_ms=2.5)
    )
    assert (row["sale_id"], row["external_id"], row["positions"]) == (sale, "5", [8, 9])
    assert (row["topic"], row["store"]) == ("order.created", "https://s/")
    assert row["triggered_at"] is None
    assert (row["body_size"], row["via"], row["status"], row["verification"]) == (
        len(body),
        "webhook",
        200,
        "unverified",
    )


def test_a_product_names_its_reference_and_id():
    answer = Answer("product_updated", {"status": "product_updated", "product_ref": "shopify:7"})
    d = _delivery(b"{}", {"x-shopify-triggered-at": "2026-12-01T10:00:00Z"}, platform="shopify")
    row = _fields(log_row(d, answer, endpoint="order", status=200, duration_ms=1))
    assert (row["product_ref"], row["external_id"], row["sale_id"]) == ("shopify:7", "7", None)
    assert row["triggered_at"] == "2026-12-01T10:00:00Z"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"id": 25}', "25"),
        (b'{"id": "A-1"}', "A-1"),
        (b'{"order_id": 12, "id": 3}', "12"),  # a refund: its order
        (b'{"id": true}', None),
        (b'{"id": [1]}', None),
        (b"[25]", None),
        (b"not json", None),
    ],
)
def test_a_body_not_recorded_is_named_by_the_id_it_gives(body: bytes, named: str | None):
    assert named_id(_delivery(body)) == named
    row = _fields(log_row(_delivery(body), QUEUED, endpoint="order", status=202, duration_ms=0))
    assert (row["external_id"], row["verification"], row["positions"]) == (named, None, [])


def test_refused_as_unavailable_and_headers_that_postgresql_text_cannot_hold():
    headers = {"x-wc-webhook-topic": "order.\x00created", "x-wc-webhook-id": "9" * 1000}
    row = _fields(
        log_row(_delivery(b"{}", headers), None, endpoint="order", status=503, duration_ms=-1)
    )
    assert (row["outcome"], row["status"], row["duration_ms"]) == ("unavailable", 503, 0.0)
    assert row["topic"] == "order.\ufffdcreated"
    assert len(row["webhook_id"]) == 300
