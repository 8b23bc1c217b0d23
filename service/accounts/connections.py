"""A user's connection to a store's API: where, with which credentials, and its last run.

# placeholder: replaced by the connections branch
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from service.accounts.keyring import Keyring


@dataclass(frozen=True)
class StoreConnection:
    user_id: UUID
    platform: str  # "woocommerce" | "shopify"
    base_url: str
    key: str | None
    secret: str = field(repr=False)
    high_water: datetime | None = None
    last_run_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0


async def get_connection(
    conn: object, user_id: UUID, platform: str, keyring: Keyring
) -> StoreConnection | None:
    return None  # no connection can be made before the connections branch


async def list_connections(conn: object, keyring: Keyring) -> list[StoreConnection]:
    return []


async def record_run(
    conn: object,
    user_id: UUID,
    platform: str,
    *,
    high_water: datetime | None,
    error: str | None,
) -> None:
    return None
