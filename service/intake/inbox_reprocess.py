"""Running one quarantined delivery again, for ``ledger inbox reprocess`` and the console.

The entry is ingested as if it had just arrived, except that a delivery that still cannot be
used is not filed again: its entry stays open with the new reason. One that can is marked
reprocessed with what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.intake import inbox
from service.intake.delivery import SpooledDelivery
from service.intake.ingest import REFUSED, Ingestor
from service.store.db import connection


@dataclass(frozen=True)
class Reprocessed:
    """``recorded``: it went into the ledger (``body`` says how); else still quarantined,
    ``reason`` and ``body["detail"]`` say why."""

    inbox_id: int
    recorded: bool
    body: dict[str, Any]
    reason: str | None = None


async def reprocess_entry(
    pool: asyncpg.Pool, ingestor: Ingestor, inbox_id: int, delivery: SpooledDelivery
) -> Reprocessed:
    answer = await ingestor.ingest(delivery, keep_rejected=False)
    body = answer.body
    async with connection(pool) as conn:
        if answer.outcome in REFUSED:
            reason = body.get("reason") or body.get("error") or "rejected"
            await inbox.still_quarantined(conn, inbox_id, reason, body.get("field"), body["detail"])
            return Reprocessed(inbox_id, False, body, reason)
        await inbox.mark_reprocessed(conn, inbox_id, body, datetime.now(UTC))
    return Reprocessed(inbox_id, True, body)
