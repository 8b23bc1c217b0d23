"""A rebuild's progress, announced on the database for every service to read."""

from __future__ import annotations

import time

import asyncpg

from projections.registry import all_projections
from service.projecting.progress import announced, announcing, fraction
from service.projecting.rebuild import Progress, rebuild
from service.store.eventstore import EventStore
from tests.support import wait_until


async def _announced(pool: asyncpg.Pool) -> dict[str, float]:
    async with pool.acquire() as conn:
        return await announced(conn)


async def test_a_rebuild_is_announced_while_it_runs_and_gone_after(
    database_url: str, pool: asyncpg.Pool
):
    assert "stock" not in await _announced(pool)
    async with announcing(database_url, "stock") as report:
        report(Progress(done=10, position=30, head=120, started=time.monotonic()))

        async def quarter() -> bool:
            return (await _announced(pool)).get("stock") == 0.25

        await wait_until(quarter, 5, "the rebuild announced at 0.25")
        report(Progress(done=40, position=120, head=120, started=time.monotonic()))

        async def done() -> bool:
            return (await _announced(pool)).get("stock") == 1.0

        await wait_until(done, 5, "the rebuild announced done")

    async def gone() -> bool:
        return "stock" not in await _announced(pool)

    await wait_until(gone, 5, "the announcement gone")


async def test_a_real_rebuild_reports_through_its_announcement(
    database_url: str, pool: asyncpg.Pool
):
    projection = next(p for p in all_projections() if p.name == "lookup")
    seen: list[float] = []
    async with announcing(database_url, projection.name) as announce:

        def report(p: Progress) -> None:
            seen.append(fraction(p.position, p.head))
            announce(p)

        await rebuild(database_url, EventStore(), projection, report)
    assert seen and seen[-1] == 1.0


def test_fraction_is_bounded() -> None:
    assert fraction(0, 0) == 1.0
    assert fraction(5, 10) == 0.5
    assert fraction(20, 10) == 1.0
