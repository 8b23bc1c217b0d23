"""While a deploy rebuilds stock and products at version 2 beside the live version 1 tables,
their queries keep answering from version 1's, in version 2's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import pytest_asyncio

from projections.products import list_products
from projections.stock_queries import discrepancies, get_stock, list_stock
from service.audit import trace as audit

# The version 1 tables, as deployments before version 2 have them.
V1 = """
CREATE TABLE stock_movements (
    notification_id bigint PRIMARY KEY, user_id uuid NOT NULL, product_ref text NOT NULL,
    delta bigint NOT NULL, kind text NOT NULL, originator_id uuid NOT NULL,
    originator_version bigint NOT NULL, line_index integer, reason text,
    occurred_at timestamptz NOT NULL, topic text NOT NULL, receipt_version bigint,
    refund_id text, actor text
);
CREATE TABLE stock_levels (
    user_id uuid NOT NULL, product_ref text NOT NULL, platform text NOT NULL,
    external_id text NOT NULL, sku text, name text, quantity bigint NOT NULL DEFAULT 0,
    platform_reported_quantity bigint, platform_reported_at timestamptz,
    updated_at timestamptz NOT NULL, PRIMARY KEY (user_id, product_ref)
);
CREATE TABLE products (
    user_id uuid NOT NULL, product_ref text NOT NULL, platform text NOT NULL,
    external_id text NOT NULL, name text, sku text, price numeric, product_type text,
    parent_id text, manage_stock text, stock_quantity bigint, platform_status text,
    modified_at timestamptz, deleted_on_platform boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL, source_notification_id bigint NOT NULL,
    product_id uuid NOT NULL, PRIMARY KEY (user_id, product_ref)
)
"""
RECORDED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def v1(pool: asyncpg.Pool) -> AsyncIterator[tuple[asyncpg.Connection, Any]]:
    user_id = uuid4()
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA read_v1")
        try:
            await conn.execute("SET search_path TO read_v1")
            await conn.execute(V1)
            await conn.execute(
                "INSERT INTO stock_levels VALUES ($1, 'woocommerce:42', 'woocommerce', '42',"
                " 'MUG', 'Mug', -2, 20, $2, $2), ($1, 'woocommerce:43', 'woocommerce', '43',"
                " NULL, NULL, 0, NULL, NULL, $2)",
                user_id,
                RECORDED,
            )
            await conn.execute(
                "INSERT INTO products VALUES ($1, 'woocommerce:42', 'woocommerce', '42', 'Mug',"
                " 'MUG', 9.5, 'simple', NULL, 'true', 20, 'publish', $2, true, $2, 7, $3)",
                user_id,
                RECORDED,
                uuid4(),
            )
            yield conn, user_id
        finally:
            await conn.execute("RESET search_path")
            await conn.execute("DROP SCHEMA read_v1 CASCADE")


async def test_stock_answers_from_version_1_tables(v1):
    conn, user_id = v1
    items, _ = await list_stock(conn, user_id, limit=10)
    assert [(i["product_ref"], i["tracked"], i["drift"]) for i in items] == [
        ("woocommerce:42", None, 22),
        ("woocommerce:43", None, None),
    ]
    assert items[0]["platform_reported_at"] == RECORDED.isoformat()
    assert (await list_stock(conn, user_id, limit=10, tracked=True))[0] == []
    assert await get_stock(conn, user_id, "woocommerce:42") == items[0]
    [found] = await discrepancies(conn, user_id)
    # The report keeps its name: reconciled before the deploy, it is not applied again.
    assert (found["platform_reported_at"], found["report_recorded_at"]) == (RECORDED, RECORDED)


async def test_history_reads_version_1_inside_its_snapshot(v1):
    conn, user_id = v1
    page = await audit.stock_history(conn, user_id, "woocommerce:42", after=0, limit=10)
    assert page is not None
    assert (page["quantity"], page["platform_reported_quantity"]) == (-2, 20)


async def test_products_answer_from_version_1_tables(v1):
    conn, user_id = v1
    [product], _ = await list_products(conn, user_id, limit=10)
    assert (product["platform_status"], product["deleted_on_platform"]) == ("publish", True)
