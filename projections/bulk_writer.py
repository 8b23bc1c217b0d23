"""A bulk loader's statements, run in order on its connection in the background.

While PostgreSQL runs one chunk's COPYs and merges, Python folds the next chunk: the loader
adds steps and goes on; a step that fails makes the next ``add`` (or ``close``) raise, and so
the batch, which the driver then applies event by event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Step = Callable[[Any], Awaitable[Any]]


class Writer:
    """The batch's statements, run in order on its connection in the background."""

    def __init__(self, conn: Any) -> None:
        self.steps: asyncio.Queue[Step | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run(conn))

    async def _run(self, conn: Any) -> None:
        while (step := await self.steps.get()) is not None:
            await step(conn)

    def add(self, step: Step) -> None:
        if self.task.done():
            self.task.result()  # a statement failed: so does the batch, now
        self.steps.put_nowait(step)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """The rows of a query run after every statement added so far."""
        found: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        async def step(conn: Any) -> None:
            found.set_result(await conn.fetch(query, *args))

        self.add(step)
        await asyncio.wait((found, self.task), return_when=asyncio.FIRST_COMPLETED)
        if not found.done():
            self.task.result()
        return found.result()

    async def close(self) -> None:
        """Waits for every statement; raises the first failure."""
        self.steps.put_nowait(None)
        await self.task

    async def abandon(self) -> None:
        """Lets the running statement end and drops the rest (the batch is rolled back)."""
        while not self.steps.empty():
            self.steps.get_nowait()
        self.steps.put_nowait(None)
        await asyncio.gather(self.task, return_exceptions=True)


def copy(table: str, records: list[tuple[Any, ...]], columns: tuple[str, ...]) -> Step:
    return lambda conn: conn.copy_records_to_table(table, records=records, columns=columns)


def execute(query: str, *args: Any) -> Step:
    return lambda conn: conn.execute(query, *args)
