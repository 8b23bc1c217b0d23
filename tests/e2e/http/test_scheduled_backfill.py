"""The scheduled backfill with the real store client and backfill engine, pulling over HTTP
from the WooCommerce stand-in (127.0.0.1): a round heals the orders no webhook delivered and
records the high-water mark; refused credentials are recorded in one line, never the secret,
and the schedule goes on."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
from aiohttp.test_utils import TestClient

from service.accounts import connections
from service.http.backfill_schedule import BackfillSchedule
from service.settings import Settings
from service.store.eventstore import EventStore
from tests.standins.woocommerce import WooCommerceStandIn
from tests.support import create_merchant, projections_caught_up, sales_of, server_keyring

KEY = "ck_5c4ed01e5c4ed01e5c4ed01e5c4ed01e5c4ed01e"
SECRET = "cs_5c4ed01e0000111122223333444455556666777"
WRONG = "cs_wrong_wrong_wrong_wrong_wrong_wrong_wro"


async def test_a_scheduled_run_pulls_what_no_webhook_delivered_and_records_it(
    client: TestClient, pool: asyncpg.Pool, settings: Settings
):
    shop = await create_merchant(pool, "scheduled")
    refused = await create_merchant(pool, "scheduled")
    standin = WooCommerceStandIn(KEY, SECRET)
    await standin.start()
    try:
        keyring = server_keyring()
        async with pool.acquire() as conn:
            for merchant, secret in ((shop, SECRET), (refused, WRONG)):
                await connections.connect_store(
                    conn, merchant.name, "woocommerce", standin.url, KEY, secret, keyring
                )
        # The real open_source and backfill: the defaults.
        schedule = BackfillSchedule(
            pool, EventStore(), replace(settings, backfill_interval=60), keyring
        )
        assert await schedule.run_one(shop.user_id, "woocommerce") is True
        assert await schedule.run_one(refused.user_id, "woocommerce") is True
        async with pool.acquire() as conn:
            healed = (await connections.connection_status(conn, shop.user_id))["woocommerce"]
            failing = (await connections.connection_status(conn, refused.user_id))["woocommerce"]
        assert (healed.failures, healed.last_error) == (0, None)
        assert healed.high_water is not None and healed.last_run_at is not None
        assert failing.failures == 1 and failing.high_water is None
        assert failing.last_error and "\n" not in failing.last_error
        for secret in (WRONG, SECRET, KEY):
            assert secret not in failing.last_error
        await projections_caught_up(pool)
        numbers = {s["external_id"] for s in await sales_of(client, shop)}
        assert {"29", "30", "31"} <= numbers  # the day no webhook delivered
        assert await sales_of(client, refused) == []
    finally:
        await standin.close()
