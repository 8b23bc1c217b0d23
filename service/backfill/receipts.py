"""A pulled item as a receipt: the delivery the ingest path records, naming the answer."""

from __future__ import annotations

import hashlib
from uuid import UUID

from aggregates.values import (
    ANSWER_SHA256,
    ITEM_OFFSET,
    PULLED_METHOD,
    PULLED_STATUS,
    PULLED_URL,
    Delivery,
)
from service.backfill.source import Exchange
from service.intake.delivery import SpooledDelivery

TOPIC = "backfill"
PULLED_VIA_API = "pulled_via_api"
# The answer headers a receipt keeps: what explains the answer, never a credential (a
# WooCommerce Link header repeats the request's consumer key).
KEPT_HEADERS = frozenset({"content-type", "date", "x-wp-total", "x-wp-totalpages"})


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def pulled(
    user_id: UUID,
    platform: str,
    exchange: Exchange,
    item: bytes,
    offset: int,
    kind: str,
) -> tuple[SpooledDelivery, Delivery]:
    """``item`` (the bytes at ``offset`` of the answer in ``exchange``) as the ingest path
    takes a delivery."""
    headers = {k.lower(): v for k, v in exchange.headers.items() if k.lower() in KEPT_HEADERS}
    headers |= {
        PULLED_METHOD: exchange.method,
        PULLED_URL: exchange.url,
        PULLED_STATUS: str(exchange.status),
        ANSWER_SHA256: sha256(exchange.body),
        ITEM_OFFSET: str(offset),
    }
    d = SpooledDelivery(user_id, platform, kind, headers, item, exchange.received_at)
    delivery = Delivery(
        *(TOPIC, None, None, None, None, headers, exchange.received_at, PULLED_VIA_API),
        body_sha256=d.body_sha256,
    )
    return d, delivery
