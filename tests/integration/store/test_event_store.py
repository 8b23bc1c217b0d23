"""The event store on a real PostgreSQL: compatible with eventsourcing's own recorder,
gap-free for tailing readers, and append-only."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from aggregates.order import Order
from service.store.eventstore import EventStore, replay
from service.store.transcoder import value_transcodings
from tests.builders import FIXTURES, shopify_body
from tests.support import Merchant


def _library_recorder(url: str) -> tuple[PostgresApplicationRecorder, PostgresDatastore]:
    parts = urlsplit(url)
    datastore = PostgresDatastore(
        dbname=parts.path.lstrip("/"),
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or "",
    )
    return PostgresApplicationRecorder(datastore, events_table_name="stored_events"), datastore


def _library_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in value_transcodings():
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


async def test_the_librarys_recorder_reads_what_the_service_wrote(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool, database_url: str
):
    woo = (FIXTURES / "woocommerce" / "woocommerce-order-restapidocs-v3-727.json").read_bytes()
    shop, _ = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    store = EventStore()
    async with pool.acquire() as conn:
        before = await store.head(conn)  # however many events earlier tests wrote
    sale_ids = [
        (await (await client.post(merchant.woo_orders(), data=woo)).json())["sale_id"],
        (await (await client.post(merchant.shopify_orders(), data=shop)).json())["sale_id"],
    ]
    recorder, datastore = _library_recorder(database_url)
    mapper = _library_mapper()
    try:
        for sale_id in sale_ids:
            async with pool.acquire() as conn:
                ours = await store.load(conn, sale_id)
            stored = await asyncio.to_thread(recorder.select_events, ours[0].originator_id)
            theirs = [mapper.to_domain_event(s) for s in stored]
            assert theirs == ours
            assert replay(theirs) == replay(ours)
            order = replay(theirs)
            assert isinstance(order, Order) and order.is_sale
            assert order.user_id == merchant.user_id
        notifications = await asyncio.to_thread(recorder.select_notifications, before + 1, 1000)
        ids = [n.id for n in notifications]
        assert ids and ids[0] > before
        assert ids == sorted(ids) and len(ids) == len(set(ids))
        async with pool.acquire() as conn:
            assert ids[-1] == await store.head(conn)
    finally:
        datastore.close()


def _new_order(user_id: Any, n: int) -> list[Any]:
    return list(Order.open(user_id, "woocommerce", str(n)).collect_events())


async def test_four_concurrent_writers_and_a_tailing_reader_miss_nothing(database_url: str):
    """Writers hold their transaction open after inserting, the window in which a reader
    without the commit-order lock would see a later id and skip the earlier one."""
    store = EventStore()
    written: list[int] = []
    pool = await asyncpg.create_pool(database_url, min_size=5, max_size=6)
    user_id = uuid4()

    async def writer(w: int) -> None:
        for n in range(40):
            async with pool.acquire() as conn, conn.transaction():
                ids = await store.append(conn, _new_order(user_id, w * 1000 + n))
                await conn.execute("SELECT pg_sleep(0.002)")
            written.extend(ids)

    async def reader(stop: asyncio.Event) -> list[int]:
        seen: list[int] = []
        async with pool.acquire() as conn:
            position = await store.head(conn)
            start = position
            while not stop.is_set() or position < max(written, default=0):
                batch = await store.read_after(conn, position, 50)
                seen += [r.notification_id for r in batch]
                position = batch[-1].notification_id if batch else position
                await asyncio.sleep(0)
        return [i for i in seen if i > start]

    stop = asyncio.Event()
    reading = asyncio.create_task(reader(stop))
    try:
        await asyncio.gather(*(writer(w) for w in range(4)))
        stop.set()
        seen = await asyncio.wait_for(reading, 30)
    finally:
        reading.cancel()
        await pool.close()
    assert sorted(written) == seen
    assert len(seen) == 4 * 40


async def test_events_and_raw_bodies_are_append_only(
    client: TestClient, merchant: Merchant, pool: asyncpg.Pool
):
    body = (FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json").read_bytes()
    await client.post(merchant.woo_orders(), data=body)
    digest = hashlib.sha256(body).hexdigest()
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT body FROM raw_deliveries WHERE sha256 = $1", digest)
        assert bytes(stored) == body  # byte-exact, escapes and all
        for statement in (
            "UPDATE stored_events SET topic = 'x'",
            "DELETE FROM stored_events",
            "UPDATE raw_deliveries SET body = 'x'",
            "DELETE FROM raw_deliveries",
        ):
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                await conn.execute(statement)
        with pytest.raises(asyncpg.exceptions.CheckViolationError):
            await conn.execute(
                "INSERT INTO raw_deliveries (sha256, body) VALUES ($1, $2)", "0" * 64, b"forged"
            )


async def test_receipt_records_the_delivery(client: TestClient, merchant: Merchant, pool):
    body = (FIXTURES / "woocommerce" / "woocommerce-order-erpnext-webhook-signed.json").read_bytes()
    headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": "d-77",
        "X-WC-Webhook-Signature": "h1SjzQMPwd68MF5bficeFq20/RkQeRLsb9AVCUz/rLs=",
        "Authorization": "Basic c2VjcmV0",
        "Cookie": "session=secret",
    }
    before = datetime.now(UTC)
    answer = await (await client.post(merchant.woo_orders(), data=body, headers=headers)).json()
    async with pool.acquire() as conn:
        events = await EventStore().load(conn, answer["sale_id"])
    receipt = events[1]
    assert isinstance(receipt, Order.OrderReceived)
    assert receipt.topic == "order.created"
    assert (receipt.source, receipt.webhook_id, receipt.delivery_id) == (
        "https://shop.example/",
        "3",
        "d-77",
    )
    assert receipt.body_sha256 == hashlib.sha256(body).hexdigest()
    assert receipt.verification == "unverified"
    assert receipt.received_at >= before
    assert receipt.headers["x-wc-webhook-signature"] == headers["X-WC-Webhook-Signature"]
    assert "authorization" not in receipt.headers and "cookie" not in receipt.headers
    assert [type(e).__name__ for e in events] == [
        "Opened",
        "OrderReceived",
        "SaleRecorded",
        "StockDeducted",
    ]
    assert all(e.user_id == merchant.user_id for e in events)


async def test_a_commit_notifies_its_last_position(pool: asyncpg.Pool, database_url: str):
    """Listeners learn how far the log reached, so one that has read that far already need
    not read again."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("stored_events", lambda *args: heard.put_nowait(args[3]))
        async with pool.acquire() as conn, conn.transaction():
            ids = await EventStore().append(conn, _new_order(uuid4(), 1))
        assert await asyncio.wait_for(heard.get(), 10) == str(ids[-1])
    finally:
        await listener.close()
