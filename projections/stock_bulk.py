"""The stock projection's bulk loader, for rebuilds and the live runner's batches.

A batch of stored rows becomes one COPY of its movements and one merge of its levels. Each
level change ``apply`` makes is folded, in log order, into one change per product: the sum of
the deltas; the first event's platform and id (kept only when it creates the row); a SKU or
name that the newest catalogue report set (which wins) or that an older one or a movement
offers (used only if the row has none); the catalogue's newest report; the last event's
time. Merging that into the table gives exactly the rows the per-event statements give.

The newest report is kept as ``apply`` keeps it, by the key (the platform's time, a missing
one first; the body's sha256), an equal key going to the later one: folded over a batch, the
batch's report is the one with the greatest key, and it replaces the row's in the merge
unless the row's key is greater.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic, resolve_topic

from aggregates.order import Order
from aggregates.product import Product
from aggregates.stock_adjustment import StockAdjustment
from projections.base import Decode, StoredRow, StoredUuids, raw_datetime
from projections.catalogue import entries, report_recorded_at

_fromisoformat = datetime.fromisoformat

MOVEMENT_COLUMNS = (
    "notification_id",
    "user_id",
    "product_ref",
    "delta",
    "kind",
    "originator_id",
    "originator_version",
    "line_index",
    "reason",
    "occurred_at",
    "topic",
    "receipt_version",
    "refund_id",
    "actor",
)

_LEVELS = """
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[],
    $7::text[], $8::bool[], $9::bigint[], $10::bool[], $11::bool[], $12::bigint[],
    $13::timestamptz[], $14::text[], $15::timestamptz[], $16::timestamptz[])
    AS s(user_id, product_ref, platform, external_id, sku, sku_set, name, name_set, quantity,
         reported, tracked, reported_quantity, report_modified_at, report_sha256,
         report_recorded_at, updated_at)
"""

# Whether the batch's report replaces the row's (see the module's docstring).
_BATCH_REPORT = """(s.reported
    AND (coalesce(s.report_modified_at, '-infinity'), s.report_sha256)
        >= (coalesce(l.report_modified_at, '-infinity'), coalesce(l.report_sha256, '')))"""

_UPDATE_LEVELS = f"""
UPDATE stock_levels l SET
    quantity = l.quantity + s.quantity,
    sku = CASE WHEN s.sku_set AND {_BATCH_REPORT} THEN s.sku ELSE coalesce(l.sku, s.sku) END,
    name = CASE WHEN s.name_set AND {_BATCH_REPORT} THEN s.name
        ELSE coalesce(l.name, s.name) END,
    tracked = CASE WHEN {_BATCH_REPORT} THEN s.tracked ELSE l.tracked END,
    platform_reported_quantity = CASE WHEN {_BATCH_REPORT} THEN s.reported_quantity
        ELSE l.platform_reported_quantity END,
    report_modified_at = CASE WHEN {_BATCH_REPORT} THEN s.report_modified_at
        ELSE l.report_modified_at END,
    report_sha256 = CASE WHEN {_BATCH_REPORT} THEN s.report_sha256 ELSE l.report_sha256 END,
    report_recorded_at = CASE WHEN {_BATCH_REPORT} THEN s.report_recorded_at
        ELSE l.report_recorded_at END,
    updated_at = s.updated_at
FROM ({_LEVELS}) s
WHERE l.user_id = s.user_id AND l.product_ref = s.product_ref
"""  # noqa: S608 (constant)

_INSERT_LEVELS = f"""
INSERT INTO stock_levels (user_id, product_ref, platform, external_id, sku, name, quantity,
    tracked, platform_reported_quantity, report_modified_at, report_sha256, report_recorded_at,
    updated_at)
SELECT s.user_id, s.product_ref, s.platform, s.external_id, s.sku, s.name, s.quantity,
    s.tracked, s.reported_quantity, s.report_modified_at, s.report_sha256, s.report_recorded_at,
    s.updated_at
FROM ({_LEVELS}) s
WHERE NOT EXISTS (
    SELECT 1 FROM stock_levels l WHERE l.user_id = s.user_id AND l.product_ref = s.product_ref
)
"""  # noqa: S608 (constant)


_LEVEL_FIELDS = (
    "platform",
    "external_id",
    "sku",
    "sku_set",
    "name",
    "name_set",
    "quantity",
    "reported",
    "tracked",
    "reported_quantity",
    "report_modified_at",
    "report_sha256",
    "report_recorded_at",
    "updated_at",
)


@dataclass
class _Level:
    """One product's level change over a batch (see the module's docstring)."""

    platform: str
    external_id: str
    sku: str | None = None
    sku_set: bool = False
    name: str | None = None
    name_set: bool = False
    quantity: int = 0
    reported: bool = False
    tracked: bool | None = None
    reported_quantity: int | None = None
    report_modified_at: datetime | None = None
    report_sha256: str | None = None
    report_recorded_at: datetime | None = None
    updated_at: datetime | None = None

    def report(
        self,
        tracked: bool | None,
        count: int | None,
        key: tuple[datetime | None, str],
        at: datetime,
    ) -> bool:
        """Fold one report in as ``apply`` keeps the newest (see the module's docstring);
        returns whether it is the newest of the batch so far."""
        newest = not self.reported or _report_key(*key) >= _report_key(
            self.report_modified_at, self.report_sha256 or ""
        )
        if newest:
            self.tracked, self.reported_quantity = tracked, count
            self.report_modified_at, self.report_sha256 = key
            self.report_recorded_at = at
        self.reported = True
        return newest


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _report_key(modified: datetime | None, sha256: str) -> tuple[datetime, str]:
    return (modified or _NO_TIME, sha256)


@cache
def _kind(topic: str) -> tuple[str | None, str]:
    """The movement kind of a stored topic (None: a catalogue event) and its current topic."""
    cls = resolve_topic(topic)
    kinds = {
        Order.StockDeducted: "deducted",
        Order.StockRestored: "restored",
        StockAdjustment.StockAdjusted: "adjusted",
    }
    return kinds.get(cls), get_topic(cls)


class _Batch:
    def __init__(self) -> None:
        self.movements: list[tuple[Any, ...]] = []
        self.levels: dict[tuple[UUID, str], _Level] = {}
        self.users = StoredUuids()

    def level(self, user_id: UUID, ref: str, platform: str, external_id: str) -> _Level:
        found = self.levels.get((user_id, ref))
        if found is None:
            found = self.levels[(user_id, ref)] = _Level(platform, external_id)
        return found

    def move(self, row: StoredRow, kind: str, topic: str) -> None:
        # The hot path of a rebuild (one call per movement), so written flat: no helpers.
        d = orjson.loads(row[4])
        user_id = self.users.read(d["user_id"])
        ref = d["product_ref"]
        stamp = d["timestamp"]
        occurred_at = (
            _fromisoformat(stamp["_data_"])
            if type(stamp) is dict and stamp.get("_type_") == "datetime_iso"
            else raw_datetime(stamp)
        )
        extra: tuple[Any, ...]
        if kind == "deducted":
            delta, sku, name = -d["quantity"], d["sku"], d["name"]
            extra = (d["line_index"], None, occurred_at, topic, d["receipt_version"], None, None)
        elif kind == "restored":
            delta, sku, name = d["quantity"], d["sku"], d["name"]
            extra = (d["line_index"], d["reason"], occurred_at, topic, d["receipt_version"])
            extra += (d["refund_id"], None)
        else:
            delta, sku, name = d["by"], None, None
            extra = (None, d["reason"], occurred_at, topic, None, None, d["actor"])
        self.movements.append((row[0], user_id, ref, delta, kind, row[1], row[2], *extra))
        level = self.levels.get((user_id, ref))
        if level is None:
            platform, _, external_id = ref.partition(":")
            level = self.levels[(user_id, ref)] = _Level(platform, external_id)
        level.quantity += delta
        if level.sku is None:
            level.sku = sku
        if level.name is None:
            level.name = name
        level.updated_at = occurred_at

    def catalogue(self, event: Any) -> None:
        for entry in entries(event):
            level = self.level(event.user_id, entry.product_ref, event.platform, entry.external_id)
            newest = level.report(
                entry.tracked,
                entry.reported_quantity,
                (event.modified_at, event.body_sha256),
                report_recorded_at(event),
            )
            # The newest report's name and SKU win; an older one only fills a missing one.
            if entry.sku is not None and (newest or level.sku is None):
                level.sku, level.sku_set = entry.sku, level.sku_set or newest
            if entry.name is not None and (newest or level.name is None):
                level.name, level.name_set = entry.name, level.name_set or newest
            level.updated_at = event.timestamp

    def level_arrays(self) -> list[list[Any]]:
        keys, values = list(self.levels), list(self.levels.values())
        columns: list[list[Any]] = [[k[0] for k in keys], [k[1] for k in keys]]
        columns += [[getattr(v, f) for v in values] for f in _LEVEL_FIELDS]
        return columns


async def bulk_load(conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
    batch = _Batch()
    for row in rows:
        kind, topic = _kind(row[3])
        if kind is not None:
            batch.move(row, kind, topic)
        else:
            event = decode(row).event
            if isinstance(event, Product.ProductUpdated):
                batch.catalogue(event)
    if batch.movements:
        await conn.copy_records_to_table(
            "stock_movements", records=batch.movements, columns=MOVEMENT_COLUMNS
        )
    if batch.levels:
        arrays = batch.level_arrays()
        await conn.execute(_UPDATE_LEVELS, *arrays)
        await conn.execute(_INSERT_LEVELS, *arrays)
