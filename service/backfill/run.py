"""A backfill: pull what a store's API shows changed, and record it as its webhooks would.

Every order the scans return goes through the webhook's own ingest path as a receipt of
its own kind (topic ``backfill``, verification ``pulled_via_api``, its body the item's exact
bytes, its headers naming the answer it came from, the whole answer kept in raw_deliveries),
so snapshot ordering, idempotency and the lifecycle rules apply unchanged: a second run
appends nothing. An order the trash scan lists is marked as a deletion notice marks it; a
live sale the scans did not return is asked for by id, and the store's own 404 for an unknown
order marks it deleted for good (Order.PlatformDeletionFound); any other answer to that
lookup the client cannot vouch for is reported and leaves the sale as it is. Products
refresh the catalogue and the platform's counts.
After each page its events are committed, then the checkpoint (service/backfill/checkpoint.py),
so a run stopped midway resumes from its last committed page.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from projections.sales_search import live_changed_since
from service.accounts.connections import OVERLAP, StoreConnection
from service.accounts.directory import Directory
from service.accounts.keyring import Keyring
from service.adapters.json_slices import NotAnArray
from service.adapters.pulling import looked_up_order
from service.backfill import checkpoint
from service.backfill.checkpoint import SCANS, Checkpoint
from service.backfill.dry import dry_stores
from service.backfill.receipts import pulled, sha256
from service.backfill.source import (
    CredentialsRejected,
    Exchange,
    Page,
    Source,
    SourceError,
    SourceUnavailable,
)
from service.backfill.summary import BackfillSummary, document, modified, newer
from service.intake.ingest import Ingestor
from service.intake.intake import pg_ingestor
from service.settings import Settings
from service.store.eventstore import EventStore, keep_raw

# The default window: since the last successful run's high-water mark, less OVERLAP
# (connections.py); a first run looks a week back.
FIRST_RUN = timedelta(days=7)
_UNCHANGED = frozenset({"duplicate", "stale"})
_REFUSED = frozenset({"quarantined", "not_kept"})


class WindowError(ValueError):
    """The backfill's window ends before it starts (--until before --since)."""


def default_since(connection: StoreConnection, now: datetime) -> datetime:
    if connection.high_water is None:
        return now - FIRST_RUN
    return connection.high_water - OVERLAP


async def backfill(
    pool: asyncpg.Pool,
    store: EventStore,
    settings: Settings,
    connection: StoreConnection,
    source: Source,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BackfillSummary:
    """Run one backfill of ``connection`` through ``source`` (resuming the stopped run of
    the same window, if any); raises the source's SourceError subclasses unchanged."""
    run = _Run(pool, store, settings, connection, source, dry_run, progress or (lambda _: None))
    return await run.go(since, until)


class _Run:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        settings: Settings,
        connection: StoreConnection,
        source: Source,
        dry_run: bool,
        progress: Callable[[str], None],
    ) -> None:
        self.pool, self.connection, self.source = pool, connection, source
        self.user_id, self.platform = connection.user_id, connection.platform
        self.dry_run, self.say = dry_run, progress
        limits = (settings.inbox_max_per_user, settings.inbox_signature_failures)
        self.ingestor = (
            Ingestor(
                dry_stores(pool, store, limits, Directory(Keyring.from_settings(settings))),
                max_lines=settings.max_lines,
            )
            if dry_run
            else pg_ingestor(pool, store, settings)
        )
        self.counts = dict.fromkeys(
            ("new_sales", "updated", "unchanged", "marked_deleted", "marked_trash", "products"),
            0,
        )
        self.pages = self.orders = 0
        self.started = time.monotonic()

    async def go(self, since: datetime | None, until: datetime | None) -> BackfillSummary:
        cp = await self._start(since, until)
        first = SCANS.index(cp.scan)
        for i, scan in enumerate(SCANS[first:], first):
            cp = await self._scan(cp.at(scan, cp.page if scan == cp.scan else None))
            if i + 1 < len(SCANS):  # a scan done is never read again on resuming
                await self._save(cp.at(SCANS[i + 1], None))
        if not self.dry_run:
            async with self.pool.acquire() as conn:
                await checkpoint.clear(conn, self.user_id, self.platform)
        high_water = cp.high_water or self.connection.high_water
        return BackfillSummary(
            **self.counts, pages=self.pages, high_water=high_water, dry_run=self.dry_run
        )

    async def _start(self, since: datetime | None, until: datetime | None) -> Checkpoint:
        now = datetime.now(UTC)
        saved = None
        if not self.dry_run:
            async with self.pool.acquire() as conn:
                saved = await checkpoint.load(conn, self.user_id, self.platform)
        if saved is not None and since in (None, saved.since) and until in (None, saved.until):
            self.say(f"resuming the run of {saved.started_at.isoformat()} at {saved.scan}")
            return saved
        begin = since if since is not None else default_since(self.connection, now)
        if until is not None and until < begin:
            raise WindowError(f"until {until.isoformat()} is before since {begin.isoformat()}")
        self.say(f"backfill {self.platform} since {begin.isoformat()}")
        return Checkpoint(since=begin, until=until, started_at=now)

    async def _scan(self, cp: Checkpoint) -> Checkpoint:
        if cp.scan == "deleted":
            await self._deleted(cp)
            return cp
        async for page in self._pages(cp):
            cp = await self._page(cp, page)
        return cp

    def _pages(self, cp: Checkpoint) -> AsyncIterator[Page]:
        if cp.scan == "orders":
            return self.source.orders_changed(cp.since, cp.until, cp.page)
        if cp.scan == "trash":
            return self.source.orders_trashed(cp.page)
        return self.source.products_changed(cp.since, cp.page)

    async def _page(self, cp: Checkpoint, page: Page) -> Checkpoint:
        """Record one page's items, then the checkpoint past it."""
        seen, newest = set(cp.seen), cp.high_water
        for item, doc, offset in await self._keep(page):
            if cp.scan == "orders":  # the only scan bounded by the window
                newest = newer(newest, modified(self.platform, doc), cp.started_at)
            if cp.scan == "products":
                await self._product(page.exchange, item, offset, doc)
                continue
            what = "order" if cp.scan == "orders" else "order_trashed"
            written = await self._record(page.exchange, item, offset, what)
            self._count(what, written)
            if isinstance(doc, dict):
                seen.add(str(doc.get("id")))
        self.pages += 1
        cp = replace(cp, page=page.next, high_water=newest, seen=frozenset(seen))
        await self._save(cp)
        rate = self.orders / max(time.monotonic() - self.started, 1e-3)
        self.say(
            f"{cp.scan}: page {self.pages}, {len(page.items)} items;"
            f" {self.orders} orders so far, {rate:.1f} orders/s"
        )
        return cp

    async def _save(self, cp: Checkpoint) -> None:
        if not self.dry_run:
            async with self.pool.acquire() as conn:
                await checkpoint.save(conn, self.user_id, self.platform, cp)

    async def _keep(self, page: Page) -> list[tuple[bytes, Any, int]]:
        """The page's items with their documents and byte offsets; the whole answer kept
        first, so every receipt traces to the answer it is a slice of."""
        if not self.dry_run:
            async with self.pool.acquire() as conn:
                await keep_raw(conn, sha256(page.exchange.body), page.exchange.body)
        found, at = [], 0
        for item in page.items:
            offset = page.exchange.body.find(item, at)
            assert offset >= 0, "a page's items are slices of its answer"
            at = offset + len(item)
            found.append((item, document(item), offset))
        return found

    async def _product(self, exchange: Exchange, item: bytes, offset: int, doc: Any) -> None:
        await self._record(exchange, item, offset, "product")
        self.counts["products"] += 1
        if (
            self.platform == "woocommerce"
            and isinstance(doc, dict)
            and doc.get("type") == "variable"
        ):
            async for page in self.source.variations(str(doc.get("id"))):
                for variation, _, at in await self._keep(page):
                    await self._record(page.exchange, variation, at, "product")
                    self.counts["products"] += 1
                self.pages += 1

    async def _deleted(self, cp: Checkpoint) -> None:
        """Ask for every live sale changed in the window that the scans did not return."""
        async with self.pool.acquire() as conn:
            live = await live_changed_since(conn, self.user_id, self.platform, cp.since)
        for external_id in (x for x in live if x not in cp.seen):
            try:
                exchange = await self.source.order(external_id)
            except (CredentialsRejected, SourceUnavailable):
                raise  # the store as a whole: the run ends, resumable
            except SourceError as err:  # this answer alone: reported, the run goes on
                self.say(f"order {external_id}: {err}; left as is")
                continue
            if exchange.status == 404:
                outcome = await self._record(exchange, exchange.body, 0, "order_gone", external_id)
                self._count("order_gone", outcome)
            elif exchange.status == 200:  # the scans missed it
                await self._looked_up(exchange, external_id)
            else:
                self.say(f"order {external_id}: the store answered {exchange.status}; left as is")

    async def _looked_up(self, exchange: Exchange, external_id: str) -> None:
        try:
            item, _ = looked_up_order(self.platform, exchange.body)
        except NotAnArray as exc:
            self.say(f"order {external_id}: GET {exchange.url} answered with {exc}; left as is")
            return
        page = Page(exchange=exchange, items=[item], next=None)
        for found, _, offset in await self._keep(page):
            self._count("order", await self._record(exchange, found, offset, "order"))

    async def _record(
        self, exchange: Exchange, item: bytes, offset: int, what: str, external_id: str = ""
    ) -> tuple[str, int]:
        """The item's outcome, and how many events it appended (would append)."""
        kind = "product" if what == "product" else "order"
        d, delivery = pulled(self.user_id, self.platform, exchange, item, offset, kind)
        answer = await self.ingestor.ingest_pulled(d, delivery, what, external_id)
        if answer.outcome in _REFUSED:
            why = answer.body
            self.say(
                f"{kind} at byte {offset} of {exchange.url} not used: {why.get('reason')}"
                f" ({why.get('field') or 'the body'}): {why.get('detail')}"
            )
        elif self.dry_run and answer.outcome not in _UNCHANGED:
            ref = answer.body.get("external_id") or answer.body.get("product_ref")
            self.say(f"would record {kind} {ref}: {answer.outcome}")
        return answer.outcome, len(answer.positions)

    def _count(self, what: str, written: tuple[str, int]) -> None:
        """Updated: the ledger changed; unchanged: at most a new receipt of what it shows
        (the API's bytes of a snapshot the webhook sent, with the same content)."""
        self.orders += 1
        outcome, appended = written
        if outcome == "recorded":
            self.counts["new_sales"] += 1
        elif outcome == "deleted":
            self.counts["marked_deleted" if what == "order_gone" else "marked_trash"] += 1
        elif outcome in _UNCHANGED or outcome in _REFUSED or appended <= 1:
            self.counts["unchanged"] += 1
        else:
            self.counts["updated"] += 1
