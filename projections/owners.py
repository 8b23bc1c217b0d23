"""Event ownership: which user each event in the log belongs to, for the audit export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson

from projections.base import Decode, Recorded, StoredRow, raw_uuid

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

    async def bulk_load(self, conn: Any, rows: Sequence[StoredRow], decode: Decode) -> None:
        """Rebuilds only: the user id read straight from each event's JSON, then one COPY.

        An event whose ``user_id`` is not a stored UUID is decoded in full, as ``apply``
        would see it."""
        users: dict[str, UUID] = {}
        records = []
        for row in rows:
            value = orjson.loads(row[4]).get("user_id")
            key = value.get("_data_") if type(value) is dict else None
            user_id = users.get(key) if type(key) is str else None
            if user_id is None:
                user_id = _user_of(value, row, decode)
                if user_id is None:
                    continue
                if type(key) is str:
                    users[key] = user_id
            records.append((row[0], user_id, row[1]))
        if records:
            await conn.copy_records_to_table("event_owners", records=records, columns=_COLUMNS)


_COLUMNS = ("notification_id", "user_id", "originator_id")


def _user_of(value: Any, row: StoredRow, decode: Decode) -> UUID | None:
    try:
        return raw_uuid(value)
    except ValueError:
        user_id: UUID | None = getattr(decode(row).event, "user_id", None)
        return user_id


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
