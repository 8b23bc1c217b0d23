"""A user's connection to a store's API.

# placeholder: replaced by the connections branch
Only the contract's type is here, so the API clients (service/http/pull/) can be built and
tested before the connections part (storage, encryption, ``ledger connect``) is merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class StoreConnection:
    user_id: UUID
    platform: str  # "woocommerce" | "shopify"
    # WooCommerce: the store's URL as given; Shopify: "https://{shop}.myshopify.com"
    base_url: str
    key: str | None  # WooCommerce consumer key; None for Shopify
    secret: str = field(repr=False)  # consumer secret / Admin API access token, decrypted
    high_water: datetime | None  # the last successful run's high-water mark (UTC)
    last_run_at: datetime | None
    last_error: str | None  # one line, never a secret
    failures: int  # consecutive failed runs
