"""The sales projection's bulk loader, for rebuilds and the live runner's batches.

A batch is folded in chunks of ``CHUNK`` rows. Each chunk becomes a COPY of its receipts,
of its refunds and of the sales it makes, an upsert of its deletion marks and one UPDATE of
the sales made before it. New sales are copied in COPY's text format, from the texts the
stored events hold (amounts, ids): making a ``Decimal`` of each amount only for asyncpg to
encode it again was about a quarter of a rebuild's Python time. What ``apply`` does to a
sale, event by event, is folded in log order into one change per order:

- a ``SaleRecorded`` starts a new row from the receipt it names, which must come earlier in
  the log (else the batch fails). The order's earlier events in the chunk did nothing to
  ``sales``: had the sale existed, the COPY fails the batch;
- a ``SaleAmended`` replaces the details, a ``SaleStatusChanged`` the status; the last event
  that touched the sale gives ``updated_at``;
- ``refunded`` is always the sum of the order's refunds (added one by one after the sale, or
  summed when it is made) and ``deleted_on_platform`` its last deletion mark, else false:
  both are read back from their tables once the chunk's refunds and marks are in.

Every value is checked as the full decoding and the column would check it, since a value
that a later event overwrites never reaches the database; what cannot be folded exactly
raises, and the batch is applied event by event instead. The chunks' statements run in
order in the background while Python folds the next chunk: PostgreSQL, which does most of
the work, is kept busy.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from aggregates.order import Order
from projections import sales_bulk_sql as sql
from projections.base import Decode, StoredRow, raw_datetime
from projections.bulk_writer import Writer, copy, copy_text, execute, text_line
from projections.raw_receipts import RawReceipts
from projections.sales_raw import Values, render_lines, status, stored_datetime, time_text

CHUNK = 2500
# A batch's first chunk is small: PostgreSQL has nothing to do while it is folded.
FIRST_CHUNK = 500
_YIELD_EVERY = 64

_RECEIPT_COLUMNS = ("order_id", "originator_version", "notification_id", "user_id", "source")
_REFUND_COLUMNS = ("order_id", "refund_id", "user_id", "amount", "created_at", "notification_id")
_DETAIL_COLUMNS = (
    *("customer_name", "customer_email", "lines", "subtotal", "shipping", "tax", "discount"),
    *("total", "currency", "payment_method"),
)
# refunded and deleted_on_platform start at their defaults (see sql.REFUNDED, sql.DELETED).
_SALE_COLUMNS = (
    *("sale_id", "user_id", "platform", "external_id", "status", "platform_status"),
    *_DETAIL_COLUMNS,
    *("recorded_at", "updated_at", "source_version"),
)

_NO_DETAILS = (None,) * len(_DETAIL_COLUMNS)

# What a sale takes from its receipt: platform, external id.
Receipt = tuple[str, str]


@dataclass(slots=True)
class _Change:
    """What a chunk does to one order's sale (see the module's docstring)."""

    updated_at: datetime
    # A sale the chunk makes: its user (as text), recorded_at and receipt version.
    new: tuple[str, datetime, int] | None = None
    details: list[Any] | None = None
    status: str | None = None
    platform_status: str | None = None
    refunded: bool = False
    deleted: bool | None = None


class _Batch:
    """The fold of one batch, a chunk at a time. What a chunk folds is flushed with it; the
    receipts (to copy into the sales they make) and the orders' platforms are batch-wide."""

    def __init__(self, writer: Writer, tracked: bool, decode: Decode) -> None:
        self.writer = writer
        self.receipts_of = RawReceipts(decode)
        self.tracked = tracked  # refunds or deletion marks in the tables
        self.values = Values()
        self.known: dict[tuple[UUID, int], Receipt] = {}
        self.platforms: dict[UUID, Any] = {}
        self._start_chunk()

    def _start_chunk(self) -> None:
        self.receipts: list[tuple[Any, ...]] = []
        self.refunds: list[tuple[Any, ...]] = []
        self.marks: dict[UUID, bool] = {}
        self.changes: dict[UUID, _Change] = {}
        # Receipts named by new sales that must be in the table already.
        self.wanted: set[tuple[UUID, int]] = set()

    def touch(self, order_id: UUID, d: dict[str, Any]) -> _Change:
        at = stored_datetime(d["timestamp"])
        change = self.changes.get(order_id)
        if change is None:
            change = self.changes[order_id] = _Change(at)
        change.updated_at = at
        return change

    def received(self, row: StoredRow, d: dict[str, Any]) -> None:
        user_id, platform, external_id, _, source, _ = self.receipts_of.read(row, d)
        if self.platforms.setdefault(row[1], platform) != platform:
            raise ValueError(f"order {row[1]}: receipts of two platforms")
        self.known[(row[1], row[2])] = (platform, external_id)
        self.receipts.append((row[1], row[2], row[0], user_id, source))

    def recorded(self, row: StoredRow, d: dict[str, Any]) -> None:
        # The order's earlier changes were no-ops (or the sale exists and the COPY fails).
        earlier = self.changes.get(row[1])
        if earlier is not None and earlier.new is not None:
            raise ValueError(f"sale {row[1]} recorded twice")
        at, version = stored_datetime(d["timestamp"]), d["receipt_version"]
        if type(version) is not int:
            raise ValueError(f"sale {row[1]}: not a receipt version: {version!r}")
        if (row[1], version) not in self.known:
            self.wanted.add((row[1], version))
        user_id = self.values.user_text(d["user_id"])
        details = self.values.details(d, self.platforms.get(row[1]))
        change = _Change(at, (user_id, at, version), details)
        change.status, change.platform_status = status(d)
        self.changes[row[1]] = change

    def amended(self, row: StoredRow, d: dict[str, Any]) -> None:
        # Lines rendered now if the batch knows the platform, else at flush.
        details = self.values.details(d, self.platforms.get(row[1]))
        self.touch(row[1], d).details = details

    def status_changed(self, row: StoredRow, d: dict[str, Any]) -> None:
        statuses = status(d)
        change = self.touch(row[1], d)
        change.status, change.platform_status = statuses

    def refund(self, row: StoredRow, d: dict[str, Any]) -> None:
        created_at = None if d["created_at"] is None else raw_datetime(d["created_at"])
        user_id, amount = self.values.users.read(d["user_id"]), self.values.amount(d["amount"])
        self.refunds.append((row[1], d["refund_id"], user_id, amount, created_at, row[0]))
        self.tracked = True
        self.touch(row[1], d).refunded = True

    def mark(self, row: StoredRow, d: dict[str, Any], deleted: bool) -> None:
        self.marks[row[1]] = deleted
        self.tracked = True
        self.touch(row[1], d).deleted = deleted

    def deleted(self, row: StoredRow, d: dict[str, Any]) -> None:
        self.mark(row, d, True)

    def restored(self, row: StoredRow, d: dict[str, Any]) -> None:
        self.mark(row, d, False)

    async def fold(self, rows: Sequence[StoredRow]) -> None:
        for i, row in enumerate(rows):
            _HANDLERS[row[3]](self, row, orjson.loads(row[4]))
            if i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the writer sends the next statement

    async def _resolve(self) -> None:
        """Receipts and platforms of earlier batches, then every new set of lines rendered."""
        if self.wanted:
            keys = list(self.wanted)
            found = await self.writer.fetch(sql.RECEIPTS, *map(list, zip(*keys, strict=True)))
            for order_id, version, platform, external_id in found:
                self.known[(order_id, version)] = (platform, external_id)
                self.platforms.setdefault(order_id, platform)
            if len(found) != len(keys):
                raise LookupError("a sale of the batch names a receipt that is not projected")
        pending = [
            (k, c.details)
            for k, c in self.changes.items()
            if c.details is not None and type(c.details[2]) is list
        ]
        unknown = [k for k, _ in pending if k not in self.platforms]
        if unknown:
            self.platforms.update(await self.writer.fetch(sql.PLATFORMS, unknown))
        for order_id, details in pending:
            details[2] = render_lines(details[2], self.platforms.get(order_id))

    async def flush(self) -> None:
        """The chunk's statements, handed to the writer."""
        await self._resolve()
        add = self.writer.add
        if self.receipts:
            add(copy("sale_receipts", self.receipts, _RECEIPT_COLUMNS))
        if self.refunds:
            add(copy("sale_refunds", self.refunds, _REFUND_COLUMNS))
        if self.marks:
            add(execute(sql.MARK_DELETIONS, list(self.marks), list(self.marks.values())))
        kept = [(k, c) for k, c in self.changes.items() if c.new is None]
        if kept:
            add(execute(sql.UPDATE_SALES, *_update_arrays(kept)))
        made = [k for k, c in self.changes.items() if c.new is not None]
        if made:
            rows = [self._sale(k, self.changes[k]) for k in made]
            add(copy_text("sales", rows, _SALE_COLUMNS))
        if made and self.tracked:
            add(execute(sql.REFUNDED, made))
            add(execute(sql.DELETED, made))
        self._start_chunk()

    def _sale(self, order_id: UUID, c: _Change) -> str:
        """The new sale as a line of COPY's text format."""
        assert c.new is not None and c.details is not None
        user_id, recorded_at, version = c.new
        platform, external_id = self.known[(order_id, version)]
        recorded = time_text(recorded_at)
        updated = recorded if c.updated_at is recorded_at else time_text(c.updated_at)
        return text_line(
            (
                *(str(order_id), user_id, platform, external_id, c.status, c.platform_status),
                *c.details,
                *(recorded, updated, str(version)),
            )
        )


def _update_arrays(kept: list[tuple[UUID, _Change]]) -> list[list[Any]]:
    rows = [
        (
            *(k, *(c.details or _NO_DETAILS), c.status, c.platform_status, c.updated_at),
            *(c.details is not None, c.refunded, c.deleted),
        )
        for k, c in kept
    ]
    return [list(column) for column in zip(*rows, strict=True)]


_HANDLERS: dict[str, Callable[[_Batch, StoredRow, dict[str, Any]], None]] = {
    get_topic(Order.OrderReceived): _Batch.received,
    get_topic(Order.SaleRecorded): _Batch.recorded,
    get_topic(Order.SaleAmended): _Batch.amended,
    get_topic(Order.SaleStatusChanged): _Batch.status_changed,
    get_topic(Order.RefundRecorded): _Batch.refund,
    get_topic(Order.DeletedOnPlatform): _Batch.deleted,
    get_topic(Order.RestoredOnPlatform): _Batch.restored,
    get_topic(Order.PlatformDeletionFound): _Batch.deleted,
}


async def bulk_load(conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
    """Load a batch of stored rows of the sales topics, in log order (see the docstring);
    ``decode`` serves only a receipt whose JSON this loader does not read itself."""
    # The planner overestimates the merges; compiling them would cost more than running.
    await conn.execute("SET LOCAL jit = off")
    tracked = await conn.fetchval(sql.ANY_TRACKED)
    writer = Writer(conn)
    try:
        batch = _Batch(writer, tracked, decode)
        bounds = [0, *range(min(FIRST_CHUNK, CHUNK), len(rows), CHUNK), len(rows)]
        for start, end in itertools.pairwise(bounds):
            await batch.fold(rows[start:end])
            await batch.flush()
    except BaseException:
        await writer.abandon()
        raise
    await writer.close()
