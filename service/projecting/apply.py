"""Applying a batch of events to a projection, inside the caller's transaction; the same for
the live runner and for rebuilds."""

from __future__ import annotations

import logging
from typing import Any

from projections.base import Projection, Recorded
from service.store.db import is_unavailable

log = logging.getLogger(__name__)


async def apply_batch(conn: Any, projection: Projection, batch: list[Recorded]) -> None:
    """Apply a batch inside the caller's transaction; an event the projection cannot apply
    on its own is set aside (kept in projection_failures) rather than stalling it forever."""
    try:
        async with conn.transaction():  # a savepoint: a failure leaves the batch clean
            await projection.apply(conn, batch)
        return
    except Exception as exc:
        if is_unavailable(exc):
            raise
    for recorded in batch:
        try:
            async with conn.transaction():
                await projection.apply(conn, [recorded])
        except Exception as exc:
            if is_unavailable(exc):
                raise
            await _set_aside(conn, projection.name, recorded, exc)


async def _set_aside(conn: Any, name: str, recorded: Recorded, exc: Exception) -> None:
    log.error(
        "projection %s skipped event %d: %s", name, recorded.notification_id, type(exc).__name__
    )
    await conn.execute(
        "INSERT INTO projection_failures (name, notification_id, error) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        name,
        recorded.notification_id,
        f"{type(exc).__name__}: {exc}"[:2000],
    )
