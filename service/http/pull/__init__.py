"""The stores' API clients (WooCommerce, Shopify) behind the Source protocol (issue #13).

placeholder: replaced by the pullclients/backfill branch. Only the contract's signature is
here, so that the schedule (service/http/backfill_schedule.py) can name it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from service.accounts.connections import StoreConnection
from service.backfill.source import Source
from service.settings import Settings


def open_source(
    connection: StoreConnection, settings: Settings
) -> AbstractAsyncContextManager[Source]:
    """Used as ``async with open_source(connection, settings) as source``."""
    # placeholder: replaced by the pullclients/backfill branch
    raise NotImplementedError("the store API clients are built by the pullclients branch")
