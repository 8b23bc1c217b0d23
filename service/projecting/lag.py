"""How far behind the log each projection is: in events, and in how long the oldest event it
has not applied has waited (what ``ledger projections status`` prints and /metrics shows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.store.eventstore import EventStore

_POSITIONS = "SELECT name, position, version FROM projection_positions"


@dataclass(frozen=True)
class Lag:
    name: str
    position: int  # the last event applied (0: none)
    head: int  # the log's newest event
    seconds: float  # how long the oldest event not applied has waited (0: caught up)
    version: int | None  # of the code that built the tables (None: never built)

    @property
    def events(self) -> int:
        return max(self.head - self.position, 0)


async def head(conn: Any) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events"))


async def lags(conn: Any, store: EventStore, names: Sequence[str]) -> list[Lag]:
    """Each named projection's lag, as of one read of the log's head."""
    newest = await head(conn)
    rows = {r["name"]: r for r in await conn.fetch(_POSITIONS)}
    found = []
    for name in names:
        row = rows.get(name)
        position = int(row["position"]) if row else 0
        waited = await lag_seconds(conn, store, position, newest)
        found.append(Lag(name, position, newest, waited, row["version"] if row else None))
    return found


async def lag_seconds(conn: Any, store: EventStore, position: int, newest: int) -> float:
    """How long the oldest event after ``position`` has waited (its own timestamp)."""
    if position >= newest:
        return 0.0
    batch = await store.read_after(conn, position, 1)
    if not batch:
        return 0.0
    waited: float = (datetime.now(UTC) - batch[0].event.timestamp).total_seconds()
    return max(0.0, waited)
