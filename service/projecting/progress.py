"""Rebuilds in progress, visible to every process on the database.

A rebuild runs in whichever process starts it (``ledger projections rebuild``, or the runner
when a projection's version changed), so its progress is announced where any service can
read it: the name of a small connection of its own (``application_name``, in
``pg_stat_activity``), rewritten as the rebuild advances and gone when it ends, however it
ends. No table to write, nothing left behind by a rebuild that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.projecting.rebuild import Progress, Report

PREFIX = "pyme-ledger rebuild "
# How often the announcement is brought up to date.
EVERY = 0.25
_ANNOUNCED = re.compile(rf"{PREFIX}(?P<name>\S+) (?P<position>\d+)/(?P<head>\d+)")
_READ = (
    "SELECT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name LIKE $1"
)


def announcement(name: str, position: int, head: int) -> str:
    """What the connection is named (PostgreSQL keeps 63 bytes: ample for these)."""
    return f"{PREFIX}{name} {position}/{head}"


def fraction(position: int, head: int) -> float:
    """How much of the log a rebuild has applied, 0 to 1 (an empty log is done)."""
    return 1.0 if head <= 0 else min(max(position / head, 0.0), 1.0)


@asynccontextmanager
async def announcing(dsn: str, name: str) -> AsyncIterator[Report]:
    """A rebuild's report that also keeps its announcement up to date while inside."""
    latest: list[Progress] = []
    conn = await asyncpg.connect(
        dsn, timeout=5, server_settings={"application_name": announcement(name, 0, 0)}
    )

    async def keep() -> None:
        shown = ""
        while True:
            if latest:
                text = announcement(name, latest[0].position, latest[0].head)
                if text != shown:
                    await conn.execute("SELECT set_config('application_name', $1, false)", text)
                    shown = text
            await asyncio.sleep(EVERY)

    def report(progress: Progress) -> None:
        latest[:] = [progress]

    task = asyncio.get_running_loop().create_task(keep())
    try:
        yield report
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        conn.terminate()


async def announced(conn: Any) -> dict[str, float]:
    """The rebuilds running now on this database: projection name -> fraction done."""
    found: dict[str, float] = {}
    for row in await conn.fetch(_READ, PREFIX + "%"):
        match = _ANNOUNCED.fullmatch(row["application_name"] or "")
        if match:
            done = fraction(int(match["position"]), int(match["head"]))
            found[match["name"]] = max(done, found.get(match["name"], 0.0))
    return found
