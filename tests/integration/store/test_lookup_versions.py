"""While a deploy rebuilds lookup version 2 beside the live version 1 tables, the lookup
keeps answering from version 1's."""

from __future__ import annotations

import json
from uuid import uuid4

from projections.lookup import find_order

# The version 1 tables, as deployments before version 2 have them.
V1 = """
CREATE TABLE order_lookup (
    user_id uuid NOT NULL, platform text NOT NULL, external_id text NOT NULL,
    order_id uuid NOT NULL UNIQUE,
    status text CHECK (status IN ('pending', 'sale', 'cancelled', 'refunded')),
    last_receipt jsonb NOT NULL, source jsonb, first_received_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, platform, external_id)
);
CREATE TABLE lookup_receipts (
    order_id uuid NOT NULL, originator_version bigint NOT NULL, source jsonb NOT NULL,
    PRIMARY KEY (order_id, originator_version)
)
"""


async def test_find_order_answers_from_version_1_tables(pool):
    user_id, order_id = uuid4(), uuid4()
    source = {"platform": "woocommerce", "external_id": "7", "originator_version": 2}
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA lookup_v1")
        try:
            await conn.execute("SET search_path TO lookup_v1")
            await conn.execute(V1)
            await conn.execute(
                "INSERT INTO order_lookup VALUES ($1, 'woocommerce', '7', $2, 'sale', $3, $4,"
                " now())",
                user_id,
                order_id,
                json.dumps({"platform_status": "processing"}),
                json.dumps(source),
            )
            found = await find_order(conn, user_id, "woocommerce", "7")
        finally:
            await conn.execute("RESET search_path")
            await conn.execute("DROP SCHEMA lookup_v1 CASCADE")
    assert found == {
        "sale_id": str(order_id),
        "status": "sale",
        "platform_status": "processing",
        "source": source,
    }
