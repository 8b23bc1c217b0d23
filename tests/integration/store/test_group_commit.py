"""Group commit and the one-statement append on a real PostgreSQL: deliveries share a
statement, each gets its own result, and one that fails never fails the others."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from aggregates.order import Order
from service.store.db import DatabaseUnavailableError
from service.store.eventstore import (
    Append,
    AppendError,
    ConcurrencyConflictError,
    EventStore,
    SourceNotBoundError,
)
from service.store.group_commit import GroupCommitter
from tests.support import create_merchant


def _order(user_id: UUID, external_id: str) -> list[Any]:
    return list(Order.open(user_id, "woocommerce", external_id).collect_events())


def _raw(body: bytes) -> tuple[str, bytes]:
    return hashlib.sha256(body).hexdigest(), body


def _committer(database_url: str, **limits: Any) -> GroupCommitter:
    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url)

    return GroupCommitter(connect, EventStore(), **limits)


async def _stored(pool: asyncpg.Pool, positions: list[int]) -> list[Any]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT notification_id, originator_id FROM stored_events"
                " WHERE notification_id = ANY($1) ORDER BY notification_id",
                positions,
            )
        )


async def test_concurrent_appends_share_statements_and_each_gets_its_own_positions(
    database_url: str, pool: asyncpg.Pool
):
    committer = _committer(database_url, max_batch=16, max_wait=0.05)
    user_id = uuid4()
    orders = [_order(user_id, f"gc-{n}") for n in range(40)]
    try:
        results = await asyncio.gather(
            *(committer.append(Append(o, user_id=user_id)) for o in orders)
        )
    finally:
        await committer.close()
    assert committer.appended == 40
    assert committer.batches <= 4  # 40 deliveries, at most 16 a statement (not 40 statements)
    for events, positions in zip(orders, results, strict=True):
        assert isinstance(positions, list) and len(positions) == len(events)
        rows = await _stored(pool, positions)
        assert [r["originator_id"] for r in rows] == [e.originator_id for e in events]
    every = sorted(p for r in results for p in r)  # type: ignore[union-attr]
    assert len(set(every)) == len(every)
    async with pool.acquire() as conn:
        head = await conn.fetchval(
            "SELECT position FROM user_log_heads WHERE user_id = $1", user_id
        )
    assert head == every[-1]


async def test_a_conflict_and_a_refused_body_fail_only_their_own_delivery(
    database_url: str, pool: asyncpg.Pool
):
    store = EventStore()
    user_id = uuid4()
    taken = _order(user_id, "gc-taken")
    async with pool.acquire() as conn:
        await store.append(conn, taken)
    fine = [_order(user_id, f"gc-fine-{n}") for n in range(3)]
    bad_raw = ("0" * 64, b"not what that sha256 says")
    committer = _committer(database_url, max_batch=8, max_wait=0.05)
    try:
        results = await asyncio.gather(
            committer.append(Append(fine[0], _raw(b"one"))),
            committer.append(Append(_order(user_id, "gc-taken"))),  # version 1 is taken
            committer.append(Append(fine[1], _raw(b"two"))),
            committer.append(Append(_order(user_id, "gc-bad"), bad_raw)),
            committer.append(Append(fine[2])),
        )
    finally:
        await committer.close()
    assert isinstance(results[1], ConcurrencyConflictError)
    assert isinstance(results[3], AppendError)
    assert "raw_deliveries_sha256_matches_body" in str(results[3])
    for events, positions in zip(fine, (results[0], results[2], results[4]), strict=True):
        assert isinstance(positions, list)
        assert [r["originator_id"] for r in await _stored(pool, positions)] == [
            e.originator_id for e in events
        ]
    async with pool.acquire() as conn:
        bad_id = Order.create_id(user_id, "woocommerce", "gc-bad")
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM stored_events WHERE originator_id = $1", bad_id
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM raw_deliveries WHERE sha256 = ANY($1)",
                [_raw(b"one")[0], _raw(b"two")[0]],
            )
            == 2
        )


async def test_commit_order_is_notification_order_across_batches(
    database_url: str, pool: asyncpg.Pool
):
    """Two committers (two processes' worth) appending at once: a reader tailing the log by
    position never sees a later id commit before an earlier one."""
    user_id = uuid4()
    committers = [_committer(database_url, max_batch=4, max_wait=0.001) for _ in range(2)]
    store = EventStore()
    async with pool.acquire() as conn:
        start = await store.head(conn)
    done = asyncio.Event()
    seen: list[int] = []

    async def tail() -> None:
        position = start
        async with pool.acquire() as conn:
            while True:
                batch = await store.read_after(conn, position, 100)
                seen.extend(r.notification_id for r in batch)
                position = batch[-1].notification_id if batch else position
                if done.is_set() and not batch:
                    return
                await asyncio.sleep(0)

    reader = asyncio.ensure_future(tail())
    try:
        results = await asyncio.gather(
            *(committers[n % 2].append(Append(_order(user_id, f"gc-order-{n}"))) for n in range(60))
        )
    finally:
        done.set()
        await reader
        for committer in committers:
            await committer.close()
    written = sorted(p for r in results for p in r)  # type: ignore[union-attr]
    assert [p for p in seen if p in set(written)] == written


async def test_a_delivery_naming_another_store_appends_nothing_and_binds_nothing(
    pool: asyncpg.Pool,
):
    store = EventStore()
    shop = await create_merchant(pool)
    bound = ("woocommerce", "https://a.example")
    other = ("woocommerce", "https://b.example")
    async with pool.acquire() as conn:
        first = await store.append(
            conn, _order(shop.user_id, "bind-1"), user_id=shop.user_id, bind=bound
        )
        with pytest.raises(SourceNotBoundError):
            await store.append(
                conn, _order(shop.user_id, "bind-2"), user_id=shop.user_id, bind=other
            )
        again = await store.append(
            conn, _order(shop.user_id, "bind-3"), user_id=shop.user_id, bind=bound
        )
        sources = await conn.fetch(
            "SELECT source FROM store_bindings WHERE user_id = $1", shop.user_id
        )
        head = await conn.fetchval(
            "SELECT position FROM user_log_heads WHERE user_id = $1", shop.user_id
        )
        refused = await conn.fetchval(
            "SELECT count(*) FROM stored_events WHERE originator_id = $1",
            Order.create_id(shop.user_id, "woocommerce", "bind-2"),
        )
    assert [r["source"] for r in sources] == ["https://a.example"]
    assert refused == 0
    assert head == again[-1] > first[-1]


async def test_a_committer_whose_database_is_gone_fails_its_batch_as_unavailable(
    database_url: str,
):
    async def nowhere() -> asyncpg.Connection:
        return await asyncpg.connect("postgresql://postgres@127.0.0.1:1/none", timeout=1)

    committer = GroupCommitter(nowhere, EventStore(), max_wait=0.001)
    try:
        with pytest.raises(DatabaseUnavailableError):
            await committer.append(Append(_order(uuid4(), "gone")))
    finally:
        await committer.close()


async def test_a_committer_whose_connection_died_reconnects_for_the_batch(
    database_url: str, pool: asyncpg.Pool
):
    committer = _committer(database_url, max_wait=0.001)
    user_id = uuid4()
    try:
        assert isinstance(await committer.append(Append(_order(user_id, "gc-1"))), list)
        conn = committer._conn
        assert conn is not None
        async with pool.acquire() as admin:
            await admin.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        result = await committer.append(Append(_order(user_id, "gc-2")))
    finally:
        await committer.close()
    assert isinstance(result, list) and len(result) == 1
