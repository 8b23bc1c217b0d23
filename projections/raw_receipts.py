"""Order receipts read straight from their stored JSON, for the bulk loaders of rebuilds.

``receipt_source`` (projections/base.py) is what a projection stores as a receipt's audit
view; the sales and lookup loaders build that same view from the raw fields instead of
decoding every ``OrderReceived`` in full.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from projections import base, encoding
from projections.base import Decode, Recorded, StoredRow
from projections.encoding import to_json

# user id, platform, external id, received_at, the source's JSON, the platform's status
Receipt = tuple[UUID, str, str, datetime, str, str | None]


class RawReceipts:
    """Reads ``OrderReceived`` rows from their JSON, with the source ``apply`` would store.

    Decoding only turns ``{"_type_": ..., "_data_": ...}`` objects into values, so a source
    whose JSON has no ``"_type_"`` key is the decoded event's; other rows are decoded in full.
    """

    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.users = base.StoredUuids()
        self.times: dict[str, tuple[datetime, str]] = {}

    def __call__(self, row: StoredRow) -> Receipt:
        return self.read(row, orjson.loads(row[4]))

    def read(self, row: StoredRow, d: dict[str, Any]) -> Receipt:
        """The receipt of ``row``, whose JSON ``d`` is already parsed."""
        # One call per receipt in a rebuild: the common shapes are tested inline.
        user, at = d["user_id"], d["received_at"]
        user_id, when = self.users.read(user), None
        if type(at) is dict and at.get("_type_") == "datetime_iso":
            when = self.times.get(at["_data_"])
        if when is None:
            # The source holds isoformat() of the parsed time, whatever spelling was stored.
            parsed = base.raw_datetime(at)
            when = self.times[at["_data_"]] = (parsed, parsed.isoformat())
        source = encoding.dumps(jsonb_ordered_view((row[0], row[1], row[2]), d, when[1]))
        if b'"_type_"' in source:
            return decoded_receipt(self.decode(row))
        platform_status = d["platform_status"]
        return user_id, d["platform"], d["external_id"], when[0], source.decode(), platform_status


def jsonb_ordered_view(
    position: tuple[int, UUID, int], fields: dict[str, Any], received_at: str
) -> dict[str, Any]:
    """``base.receipt_view``, its keys written in the order PostgreSQL keeps a jsonb
    object's keys (shortest first, then bytewise). It sorts the keys of every object it
    reads; given them in that order, its sort is one pass (the sources of 205,000 receipts
    took it 1.9 s of CPU to read instead of 2.4). tests/unit/test_raw_reading.py holds the
    two views equal."""
    notification_id, originator_id, originator_version = position
    return {
        "topic": fields["topic"],
        "sha256": fields["body_sha256"],
        "delivery": {
            "source": fields["source"],
            "headers": fields["headers"],
            "event_id": fields["event_id"],
            "webhook_id": fields["webhook_id"],
            "delivery_id": fields["delivery_id"],
        },
        "platform": fields["platform"],
        "external_id": fields["external_id"],
        "received_at": received_at,
        "verification": fields["verification"],
        "originator_id": str(originator_id),
        "notification_id": notification_id,
        "platform_status": fields["platform_status"],
        "originator_version": originator_version,
    }


def decoded_receipt(recorded: Recorded) -> Receipt:
    e = recorded.event
    source = to_json(base.receipt_source(recorded))
    return e.user_id, e.platform, e.external_id, e.received_at, source, e.platform_status
