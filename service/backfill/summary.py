"""What a backfill run tells: its summary, and the times and documents of the items it read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from service.adapters.common import PayloadError, timestamp

# Which field of a platform's order or product JSON says when it last changed.
_MODIFIED = {"woocommerce": "date_modified_gmt", "shopify": "updated_at"}


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

    def lines(self) -> list[str]:
        would = "would be " if self.dry_run else ""
        return [
            f"{self.new_sales} new sales, {self.updated} updated, {self.unchanged} unchanged,"
            f" {self.marked_deleted} {would}marked deleted, {self.marked_trash} {would}marked"
            f" trash; {self.products} products; {self.pages} pages",
            "high-water mark: " + (self.high_water.isoformat() if self.high_water else "none"),
        ]


def document(item: bytes) -> Any:
    try:
        return orjson.loads(item)
    except orjson.JSONDecodeError:
        return None  # the ingest path quarantines it, saying why


def modified(platform: str, doc: Any) -> datetime | None:
    if not isinstance(doc, dict):
        return None
    try:
        return timestamp(doc.get(_MODIFIED[platform]), _MODIFIED[platform])
    except PayloadError:
        return None


def newer(mark: datetime | None, seen: datetime | None, cap: datetime) -> datetime | None:
    """The high-water mark: the newest change seen, never later than the run's start."""
    if seen is None:
        return mark
    seen = min(seen, cap)
    return seen if mark is None or seen > mark else mark
