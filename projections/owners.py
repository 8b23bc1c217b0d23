"""Event ownership: which user each event in the log belongs to, for the audit export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from projections.base import Recorded

_INSERT = """
INSERT INTO event_owners (notification_id, user_id, originator_id)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[])
ON CONFLICT (notification_id) DO NOTHING
"""


class OwnersProjection:
    name = "owners"
    # No filter: every event, of every aggregate there is or will be, names its user.
    topics: tuple[str, ...] = ()

    async def apply(self, conn: Any, batch: Sequence[Recorded]) -> None:
        owned = [r for r in batch if getattr(r.event, "user_id", None) is not None]
        if not owned:
            return
        await conn.execute(
            _INSERT,
            [r.notification_id for r in owned],
            [r.event.user_id for r in owned],
            [r.event.originator_id for r in owned],
        )


async def owned_positions(conn: Any, user_id: UUID, *, after: int, limit: int) -> list[int]:
    """The notification ids of ``user_id``'s events after ``after``, ascending."""
    rows = await conn.fetch(
        "SELECT notification_id FROM event_owners WHERE user_id = $1 AND notification_id > $2"
        " ORDER BY notification_id LIMIT $3",
        user_id,
        after,
        limit,
    )
    return [int(r["notification_id"]) for r in rows]
