"""The ingestor against an in-memory store: the application service's rules, no database.

The real PostgreSQL store (service/intake/keeping.py) is exercised by the integration and
end-to-end tiers; here ``MemoryIntake`` keeps the same promises in dicts, so each rule of
the intake (verify, bind, parse, decide, keep what cannot be used) is one quick test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.order import Order
from projections.base import Recorded
from service.accounts.bindings import normalise_source
from service.accounts.secrets import signature
from service.adapters.common import PayloadError
from service.intake.delivery import SpooledDelivery
from service.intake.ingest import PING, REFUSED, Ingestor
from service.intake.keeping import Binding, IntakeStore, UnexpectedSourceError
from service.store.write import Decide, Written
from tests.builders import spooled, woo_order

SHOP = "https://shop.example"


class MemoryIntake:
    """An IntakeStore in memory: one log, the bindings, the secrets, the inbox."""

    def __init__(self, *, inbox_limit: int = 10) -> None:
        self.log: list[Recorded] = []
        self.bodies: dict[str, bytes] = {}
        self.bound: dict[tuple[UUID, str], str] = {}
        self.secrets: dict[tuple[UUID, str], list[str]] = {}
        self.inbox: list[tuple[str, SpooledDelivery, str]] = []
        self.inbox_limit = inbox_limit
        # Called inside ``write`` before the binding check: lets a test play a rival writer.
        self.before_bind: Any = None

    def history(self, aggregate_id: UUID) -> list[Recorded]:
        return [r for r in self.log if r.event.originator_id == aggregate_id]

    async def signing_secrets(
        self, user_id: UUID, platform: str, now: datetime, fresh: bool = False
    ) -> list[str]:
        return list(self.secrets.get((user_id, platform), []))

    async def may_come_from(self, user_id: UUID, platform: str, source: str) -> bool:
        bound = self.bound.get((user_id, platform))
        return bound is None or bound == normalise_source(source)

    async def write(
        self, aggregate_id: UUID, decide: Decide[str], raw: tuple[str, bytes], bind: Binding
    ) -> Written[str]:
        history = self.history(aggregate_id)
        aggregate, result = await decide(history)
        pending = list(aggregate.collect_events()) if aggregate is not None else []
        if not pending:
            return Written(result, (), history[-1].notification_id if history else None)
        if self.before_bind is not None:
            self.before_bind()
        user_id, platform, source = bind
        if source is not None:
            bound = self.bound.setdefault((user_id, platform), normalise_source(source))
            if bound != normalise_source(source):
                raise UnexpectedSourceError()
        start = len(self.log) + 1
        self.log += [Recorded(start + i, e) for i, e in enumerate(pending)]
        self.bodies[raw[0]] = raw[1]
        positions = tuple(range(start, len(self.log) + 1))
        return Written(result, positions, positions[-1])

    async def keep_quarantined(self, d: SpooledDelivery, err: PayloadError) -> int | None:
        if sum(1 for kind, _, _ in self.inbox if kind == "quarantined") >= self.inbox_limit:
            return None
        self.inbox.append(("quarantined", d, err.reason))
        return len(self.inbox)

    async def keep_signature_failure(self, d: SpooledDelivery, detail: str) -> int:
        self.inbox.append(("signature", d, detail))
        return len(self.inbox)

    async def keep_ping(self, d: SpooledDelivery) -> None:
        self.inbox.append(("ping", d, ""))


def ingestor(memory: MemoryIntake, *, max_lines: int = 100) -> Ingestor:
    @asynccontextmanager
    async def stores() -> AsyncIterator[IntakeStore]:
        yield memory

    return Ingestor(stores, max_lines=max_lines)


USER = uuid.uuid4()


def delivery(
    body: Any, *, platform: str = "woocommerce", kind: str = "order", **headers: str
) -> SpooledDelivery:
    base = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-source": SHOP}
    if platform == "shopify":
        base = {"x-shopify-topic": "orders/create", "x-shopify-shop-domain": "a.myshopify.com"}
    return spooled(USER, body, platform=platform, kind=kind, headers={**base, **headers})


def topics(memory: MemoryIntake) -> list[str]:
    return [type(r.event).__qualname__ for r in memory.log]


async def test_a_new_order_becomes_a_sale_with_its_bytes_kept():
    memory = MemoryIntake()
    d = delivery(woo_order(17))
    answer = await ingestor(memory).ingest(d)
    assert (answer.outcome, answer.body["status"]) == ("recorded", "recorded")
    assert answer.body["sale_id"] == str(Order.create_id(USER, "woocommerce", "17"))
    assert answer.notification_id == len(memory.log)
    assert topics(memory)[:3] == ["Order.Opened", "Order.OrderReceived", "Order.SaleRecorded"]
    assert "Order.StockDeducted" in topics(memory)
    assert memory.bodies == {d.body_sha256: d.body}
    assert memory.log[1].event.body_sha256 == d.body_sha256
    assert memory.bound == {(USER, "woocommerce"): SHOP}


async def test_the_same_delivery_twice_appends_nothing_the_second_time():
    memory = MemoryIntake()
    d = delivery(woo_order(17))
    await ingestor(memory).ingest(d)
    before = len(memory.log)
    again = await ingestor(memory).ingest(d)
    assert again.outcome == "duplicate"
    assert again.notification_id is None
    assert len(memory.log) == before


async def test_a_signed_delivery_is_verified_and_says_so():
    memory = MemoryIntake()
    memory.secrets[(USER, "woocommerce")] = ["old-secret", "s3cret"]
    body = json.dumps(woo_order(5)).encode()
    d = delivery(body, **{"x-wc-webhook-signature": signature(body, "s3cret")})
    answer = await ingestor(memory).ingest(d)
    assert answer.outcome == "recorded"
    assert memory.log[1].event.verification == "signature_valid"


async def test_without_a_secret_the_token_is_the_only_proof_and_the_receipt_says_so():
    memory = MemoryIntake()
    await ingestor(memory).ingest(delivery(woo_order(5)))
    assert memory.log[1].event.verification == "unverified"


async def test_a_bad_signature_is_refused_and_kept_apart_with_nothing_written():
    memory = MemoryIntake()
    memory.secrets[(USER, "woocommerce")] = ["s3cret"]
    body = json.dumps(woo_order(5)).encode()
    forged = delivery(body, **{"x-wc-webhook-signature": signature(body, "guess")})
    answer = await ingestor(memory).ingest(forged)
    assert answer.outcome == "invalid_signature" and answer.outcome in REFUSED
    assert "does not match" in answer.body["detail"]
    assert "s3cret" not in json.dumps(answer.body)
    assert memory.log == [] and memory.bound == {}
    assert [(kind, d) for kind, d, _ in memory.inbox] == [("signature", forged)]

    missing = await ingestor(memory).ingest(delivery(body))
    assert missing.body["detail"] == "X-WC-Webhook-Signature is missing"


async def test_shopify_signatures_are_read_from_shopifys_header():
    memory = MemoryIntake()
    memory.secrets[(USER, "shopify")] = ["shpss"]
    body = json.dumps({"id": 1, "line_items": []}).encode()
    signed = delivery(
        body, platform="shopify", **{"x-wc-webhook-signature": signature(body, "shpss")}
    )
    answer = await ingestor(memory).ingest(signed)
    assert answer.body["detail"] == "X-Shopify-Hmac-Sha256 is missing"


async def test_an_unusable_body_is_quarantined_with_its_reason():
    memory = MemoryIntake()
    d = delivery(b"{not json")
    answer = await ingestor(memory).ingest(d)
    assert answer.outcome == "quarantined"
    assert answer.body["inbox_id"] == 1
    assert answer.body["reason"] == memory.inbox[0][2]
    assert memory.inbox[0][:2] == ("quarantined", d)
    assert memory.log == [] and memory.bound == {}


async def test_a_full_inbox_says_the_body_was_not_kept():
    memory = MemoryIntake(inbox_limit=1)
    await ingestor(memory).ingest(delivery(b"[]"))
    answer = await ingestor(memory).ingest(delivery(b"{}"))
    assert (answer.outcome, answer.body["status"]) == ("not_kept", "not_kept")
    assert "1 open entries" in answer.body["not_kept"]
    assert len(memory.inbox) == 1


async def test_reprocessing_reports_a_body_still_unusable_without_filing_it_again():
    memory = MemoryIntake()
    answer = await ingestor(memory).ingest(delivery(b"[]"), keep_rejected=False)
    assert answer.outcome == "quarantined" and "inbox_id" not in answer.body
    assert memory.inbox == []


async def test_too_many_lines_is_quarantined_before_anything_is_decided():
    memory = MemoryIntake()
    order = woo_order(3)
    order["line_items"] = [dict(order["line_items"][0], id=n) for n in range(1, 5)]
    answer = await ingestor(memory, max_lines=3).ingest(delivery(order))
    assert answer.outcome == "quarantined"
    assert memory.log == []


async def test_a_delivery_from_another_store_is_quarantined_and_binds_nothing():
    memory = MemoryIntake()
    await ingestor(memory).ingest(delivery(woo_order(1)))
    before = len(memory.log)
    other = delivery(woo_order(2), **{"x-wc-webhook-source": "https://other.example/"})
    answer = await ingestor(memory).ingest(other)
    assert (answer.outcome, answer.body["reason"]) == ("quarantined", "unexpected_source")
    assert len(memory.log) == before
    assert memory.bound == {(USER, "woocommerce"): SHOP}


async def test_a_store_bound_while_deciding_wins_and_this_delivery_is_quarantined():
    memory = MemoryIntake()

    def rival() -> None:
        memory.bound[(USER, "woocommerce")] = "https://rival.example"

    memory.before_bind = rival
    answer = await ingestor(memory).ingest(delivery(woo_order(1)))
    assert (answer.outcome, answer.body["reason"]) == ("quarantined", "unexpected_source")
    assert memory.log == []
    assert memory.inbox[0][0] == "quarantined"


async def test_a_delivery_naming_no_store_is_recorded_and_binds_none():
    memory = MemoryIntake()
    d = spooled(USER, woo_order(8))
    assert (await ingestor(memory).ingest(d)).outcome == "recorded"
    assert memory.bound == {}


async def test_a_ping_is_kept_and_answered_as_one():
    memory = MemoryIntake()
    ping = spooled(USER, b"webhook_id=3", kind="ping")
    assert await ingestor(memory).ingest(ping) is PING
    assert [kind for kind, _, _ in memory.inbox] == ["ping"]
    assert memory.log == []


async def test_a_product_delivery_updates_the_catalogue():
    memory = MemoryIntake()
    product = {"id": 42, "name": "Taza", "sku": "T-1", "manage_stock": True, "stock_quantity": 9}
    d = delivery(product, kind="product", **{"x-wc-webhook-topic": "product.updated"})
    answer = await ingestor(memory).ingest(d)
    assert answer.body == {"status": answer.outcome, "product_ref": "woocommerce:42"}
    assert answer.outcome == "product_updated"
    assert topics(memory)[0] == "Product.Opened"


async def test_a_shopify_refund_on_its_own_reaches_its_order():
    memory = MemoryIntake()
    order = {
        "id": 450789469,
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": "10.00",
        "line_items": [
            {"id": 1, "product_id": 9, "variant_id": 91, "quantity": 2, "price": "5.00"}
        ],
        "refunds": [],
        "updated_at": "2026-11-30T10:00:00+01:00",
    }
    await ingestor(memory).ingest(delivery(order, platform="shopify"))
    refund = {
        "id": 509562969,
        "order_id": 450789469,
        "created_at": "2026-11-30T11:00:00+01:00",
        "refund_line_items": [
            {
                "id": 1,
                "line_item_id": 1,
                "quantity": 1,
                "restock_type": "return",
                "subtotal": "5.00",
            }
        ],
        "transactions": [{"kind": "refund", "status": "success", "amount": "5.00"}],
    }
    answer = await ingestor(memory).ingest(
        delivery(refund, platform="shopify", **{"x-shopify-topic": "refunds/create"})
    )
    assert answer.body["sale_id"] == str(Order.create_id(USER, "shopify", "450789469"))
    assert answer.outcome == "updated"
    assert "Order.RefundRecorded" in topics(memory)
