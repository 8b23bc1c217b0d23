"""Event ownership: which user each event in the log belongs to, for the audit export."""

from __future__ import annotations

import re
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
        """The user id read straight from each event's JSON, then one COPY.

        Every event this ledger writes begins with its timestamp and user id (an aggregate's
        first event has its topic between the two), so ``_LEADING_USER`` finds the user id
        without parsing the rest; any other shape is parsed, and an event whose ``user_id``
        is not a stored UUID is decoded in full, as ``apply`` would see it."""
        users: dict[Any, UUID] = {}
        records = []
        for row in rows:
            found = _LEADING_USER(row[4])
            key = found[1] if found is not None else None
            user_id = users.get(key) if key is not None else None
            if user_id is None:
                user_id = _user_of(row, decode) if key is None else UUID(hex=key.decode())
                if user_id is None:
                    continue
                if key is not None:
                    users[key] = user_id
            records.append((row[0], user_id, row[1]))
        if records:
            await conn.copy_records_to_table("event_owners", records=records, columns=_COLUMNS)


# The start of a stored event as our transcoder writes it (service/store/transcoder.py); being
# anchored at the first key, the user id it captures is the top-level one.
_LEADING_USER = re.compile(
    rb'\{"timestamp":\{"_type_":"datetime_iso","_data_":"[^"\\]*"\}'
    rb'(?:,"originator_topic":"[^"\\]*")?'
    rb',"user_id":\{"_type_":"uuid_hex","_data_":"([0-9a-f]{32})"\}[,}]'
).match


_COLUMNS = ("notification_id", "user_id", "originator_id")


def _user_of(row: StoredRow, decode: Decode) -> UUID | None:
    try:
        return raw_uuid(orjson.loads(row[4]).get("user_id"))
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
