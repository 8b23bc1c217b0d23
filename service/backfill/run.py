"""One backfill run of one connection (issue #13).

placeholder: replaced by the pullclients/backfill branch. Only the contract's signature is
here, so that the schedule (service/http/backfill_schedule.py) can name it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.accounts.connections import StoreConnection
from service.backfill.source import Source
from service.settings import Settings
from service.store.eventstore import EventStore


@dataclass(frozen=True)
class BackfillSummary:
    new_sales: int
    updated: int
    unchanged: int
    marked_deleted: int
    marked_trash: int
    products: int
    pages: int
    high_water: datetime | None
    dry_run: bool


async def backfill(
    pool: Any,
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
    # placeholder: replaced by the pullclients/backfill branch
    raise NotImplementedError("backfill is built by the backfill branch")
