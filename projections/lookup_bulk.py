"""The lookup projection's bulk loader, for rebuilds and the live runner's batches.

A batch is loaded in chunks. A chunk's receipts become one COPY into ``lookup_receipts``; its
effect on ``order_lookup`` is folded, in log order, into one change per order: the first
receipt's key and time (kept only when it creates the row), the last status with its platform
status, the last sale's receipt, the last StatusNoted's platform status (which counts only
while the order is no sale) and the last receipt's (which counts only while the order is no
sale and has no StatusNoted). A status event ``apply`` meets before the order has a row
changes nothing (or, a sale, fails), so events before an order's first receipt in the chunk
are folded apart and count only if the row was there before it (read before it is written).
New rows are one COPY, the others one UPDATE. Whatever cannot be shown to match what
``apply`` does raises, and the driver applies the batch event by event instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from aggregates.order import Order
from projections.base import Decode, StoredRow
from projections.raw_receipts import RawReceipts

# Rows folded and written at a time (see bulk_load); a batch's first chunk is small, as
# PostgreSQL has nothing to do while it is folded.
CHUNK = 5000
FIRST_CHUNK = 1000
# What the table's CHECK allows; anything else (even a null) goes the per-event way.
_STATUSES = frozenset(("pending", "sale", "cancelled", "refunded"))

# Fresh tables have no statistics: left to guess, the planner JIT-compiles statements and
# reads single rows through bitmaps.
_PREPARE = """
SET LOCAL jit = off;
SET LOCAL enable_bitmapscan = off;
"""

_NEW_COLUMNS = (
    *("order_id", "user_id", "platform", "external_id", "first_received_at"),
    *("platform_status", "status", "source_version", "noted"),
)

# Rows the tables had; a null leaves a column as it was (a status is never null, nor is a
# sale's receipt version; a platform status may be, hence ``received``). A status event sets
# the platform status; a receipt, only on a row that has no status (before any in the chunk).
_UPDATE = """
UPDATE order_lookup o SET
    platform_status = CASE WHEN s.status IS NOT NULL THEN s.status_platform
        WHEN o.status IS NOT NULL THEN o.platform_status
        WHEN s.noted_platform IS NOT NULL THEN s.noted_platform
        WHEN s.received AND NOT o.noted THEN s.platform_status
        ELSE o.platform_status END,
    noted = o.noted OR (s.noted_platform IS NOT NULL AND o.status IS NULL),
    status = coalesce(s.status, o.status),
    source_version = coalesce(s.sale_version, o.source_version)
FROM unnest($1::uuid[], $2::bool[], $3::text[], $4::text[], $5::bigint[], $6::text[],
    $7::text[])
    AS s(order_id, received, platform_status, status, sale_version, status_platform,
         noted_platform)
WHERE o.order_id = s.order_id
"""

_EXISTING = """
SELECT order_id, user_id, platform, external_id FROM order_lookup WHERE order_id = ANY($1::uuid[])
"""

_TABLE_RECEIPTS = """
SELECT count(*) FROM lookup_receipts r JOIN unnest($1::uuid[], $2::bigint[]) AS n(order_id, version)
    ON r.order_id = n.order_id AND r.originator_version = n.version
"""

Key = tuple[UUID, str, str]  # user id, platform, external id


@cache
def _kind(topic: str) -> str | None:
    cls, kinds = resolve_topic(topic), ("received", "sale", "status", "noted")
    events = (Order.OrderReceived, Order.SaleRecorded, Order.SaleStatusChanged, Order.StatusNoted)
    return next((k for k, event in zip(kinds, events, strict=True) if issubclass(cls, event)), None)


def status_fields(state: bytes) -> tuple[int, str, str]:
    """A sale or status change's receipt version, status and platform status, without parsing
    what lies between the first and the others (a sale's customer and lines: most of its
    bytes and parsing time).

    The two pieces cut out of the stored JSON parse as one object only if both cuts are at
    its top level, so the keys found there are the event's own (a stored state is a dumped
    dict: no key twice); any other shape is parsed in full."""
    start = state.find(b',"receipt_version":')
    cut = state.find(b",", start + 1)
    end = state.rfind(b',"status":')
    d: Any = None
    if 0 < start < cut <= end:
        try:
            d = orjson.loads(state[:cut] + state[end:])
        except orjson.JSONDecodeError:
            d = None
    if type(d) is not dict or "receipt_version" not in d or "status" not in d:
        d = orjson.loads(state)
    version, status, platform_status = d["receipt_version"], d["status"], d["platform_status"]
    if type(version) is not int or status not in _STATUSES or type(platform_status) is not str:
        raise ValueError(f"not a status this loader folds: {status!r} at {version!r}")
    return version, status, platform_status


def _noted_platform(state: bytes) -> str:
    platform_status = orjson.loads(state)["platform_status"]
    if type(platform_status) is not str:
        raise ValueError(f"not a platform status: {platform_status!r}")
    return platform_status


@dataclass(slots=True)
class _Order:
    """One order's change over a batch (see the module's docstring)."""

    key: Key | None = None  # set by the batch's first receipt
    received_at: datetime | None = None
    received: bool = False  # a receipt in the batch: platform_status is the last one's
    platform_status: str | None = None
    status: str | None = None
    status_platform: str | None = None  # the platform status of the last status event
    noted_platform: str | None = None  # the last StatusNoted's (a StatusNoted follows its
    # receipt in the log, so one before the chunk's first receipt finds its row there)
    sale_version: int | None = None
    early_status: str | None = None  # before the batch's first receipt
    early_platform: str | None = None
    early_sale_version: int | None = None

    def effective(self, existed: bool) -> tuple[str | None, int | None, str | None]:
        """The status, sale receipt and the status' platform status that ``apply`` would
        leave on the row (None: the row keeps its own)."""
        status, sale, platform = self.status, self.sale_version, self.status_platform
        if self.early_status is not None and existed:
            if status is None:
                status, platform = self.early_status, self.early_platform
            return status, self.early_sale_version if sale is None else sale, platform
        if self.early_sale_version is not None and not existed:
            raise LookupError("a sale came before its order was projected")
        return status, sale, platform


class _Batch:
    def __init__(self, decode: Decode) -> None:
        self.receive = RawReceipts(decode)
        self.orders: dict[UUID, _Order] = {}
        self.receipts: list[tuple[UUID, int, str]] = []
        self.received: set[tuple[UUID, int]] = set()
        self.needed: set[tuple[UUID, int]] = set()  # sales' receipts of earlier batches

    def add(self, row: StoredRow) -> None:
        kind = _kind(row[3])
        if kind is None:
            return
        order = self.orders.get(row[1])
        if order is None:
            order = self.orders[row[1]] = _Order()
        if kind == "received":
            self.receipt(row, order)
        elif kind == "noted":
            order.noted_platform = _noted_platform(row[4])
        else:
            self.change(row, order, kind == "sale")

    def receipt(self, row: StoredRow, order: _Order) -> None:
        user_id, platform, external_id, received_at, source, platform_status = self.receive(row)
        key = (user_id, platform, external_id)
        if order.key is None:
            order.key, order.received_at = key, received_at
        elif order.key != key:
            raise ValueError(f"order {row[1]} received under two keys")
        order.received, order.platform_status = True, platform_status
        self.receipts.append((row[1], row[2], source))
        self.received.add((row[1], row[2]))

    def change(self, row: StoredRow, order: _Order, sale: bool) -> None:
        version, status, platform_status = status_fields(row[4])
        if sale and (row[1], version) not in self.received:
            self.needed.add((row[1], version))
        if order.key is None:
            order.early_status, order.early_platform = status, platform_status
            if sale:
                order.early_sale_version = version
        else:
            order.status, order.status_platform = status, platform_status
            if sale:
                order.sale_version = version

    def entries(self, existing: dict[UUID, Key]) -> tuple[list[tuple[Any, ...]], list[Any]]:
        """The rows to insert, and the changes (as arrays) of the ``existing`` ones."""
        new: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        for order_id, o in self.orders.items():
            before = existing.get(order_id)
            status, sale, platform = o.effective(before is not None)
            if before is None:
                if o.key is not None:
                    shown = platform if status is not None else o.noted_platform
                    shown = o.platform_status if shown is None else shown
                    values = (o.received_at, shown, status, sale, o.noted_platform is not None)
                    new.append((order_id, *o.key, *values))
            elif o.key is None or o.key == before:
                noted = o.noted_platform
                changed.append(
                    (order_id, o.received, o.platform_status, status, sale, platform, noted)
                )
            else:
                raise ValueError(f"order {order_id} is projected under another key")
        return new, [list(column) for column in zip(*changed, strict=True)]


async def _before(conn: Any, batch: _Batch) -> dict[UUID, Key]:
    """The rows (with their keys) the batch's orders had before it; checks that every sale's
    receipt from an earlier batch is there."""
    if batch.needed:
        ids, versions = zip(*batch.needed, strict=True)
        found = await conn.fetchval(_TABLE_RECEIPTS, list(ids), list(versions))
        if found != len(batch.needed):
            raise LookupError("a sale's receipt is not projected")
    rows = await conn.fetch(_EXISTING, list(batch.orders))
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def _write(conn: Any, batch: _Batch, new: list[tuple[Any, ...]], changed: list[Any]) -> None:
    if batch.receipts:
        columns = ("order_id", "originator_version", "source")
        await conn.copy_records_to_table("lookup_receipts", records=batch.receipts, columns=columns)
    if new:
        await conn.copy_records_to_table("order_lookup", records=new, columns=_NEW_COLUMNS)
    if changed:
        done = await conn.execute(_UPDATE, *changed)
        if done != f"UPDATE {len(changed[0])}":
            raise LookupError(f"lookup update: {done} for {len(changed[0])} orders")


async def bulk_load(conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
    """Folds the rows in chunks, each written while the next one is folded, so that
    PostgreSQL's work (most of a rebuild's) and Python's overlap. A chunk is a batch like
    any other: its fold starts from what the tables hold once the previous one is written."""
    await conn.execute(_PREPARE)
    pending: asyncio.Future[None] | None = None
    try:
        bounds = [0, *range(FIRST_CHUNK, len(rows), CHUNK), len(rows)]
        for start, end in itertools.pairwise(bounds):
            batch = _Batch(decode)
            for n, row in enumerate(rows[start:end], 1):
                batch.add(row)
                if n % 100 == 0:
                    await asyncio.sleep(0)  # lets the pending write send its next statement
            if pending is not None:
                await pending
            new, changed = batch.entries(await _before(conn, batch))
            pending = asyncio.ensure_future(_write(conn, batch, new, changed))
        if pending is not None:
            await pending
    finally:
        # The driver rolls a failed batch back: only once nothing runs on the connection.
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
