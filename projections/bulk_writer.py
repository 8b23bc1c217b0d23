"""A bulk loader's statements, run in order on its connection in the background.

While PostgreSQL runs one chunk's COPYs and merges, Python folds the next chunk: the loader
adds steps and goes on; a step that fails makes the next ``add`` (or ``close``) raise, and so
the batch, which the driver then applies event by event.

Rows are copied either as records (``copy``: asyncpg encodes each value in binary) or as
lines of COPY's text format (``copy_text``), for rows whose values are text already: the
stored events hold amounts as text, and PostgreSQL parses it at a small cost (a tenth more
server time for the sales), while making a ``Decimal`` of each only for asyncpg to encode
it again cost Python several times that.
"""

from __future__ import annotations

import asyncio
import re
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


def copy_text(table: str, lines: list[str], columns: tuple[str, ...]) -> Step:
    """COPY of ``lines`` (made by ``text_line``) in COPY's text format."""
    # A memoryview: asyncpg would take bytes for a file name.
    data = memoryview("".join(lines).encode())
    return lambda conn: conn.copy_to_table(table, source=data, columns=columns, format="text")


def text_line(fields: tuple[str | None, ...]) -> str:
    """A row as a line of COPY's text format: None is NULL, every other value a str.

    Values that hold COPY's separators or its escape (a tab, a newline, a backslash: a
    name typed so, JSON escaping a quote) are rare, so the whole line is looked at once
    and escaped field by field only when it holds one."""
    try:
        line = "\t".join(fields)  # type: ignore[arg-type]  # a None raises: the slow way
    except TypeError:
        return "\t".join(map(text_field, fields)) + "\n"
    plain = "\\" not in line and "\n" not in line and "\r" not in line
    if plain and line.count("\t") == len(fields) - 1:
        return line + "\n"
    return "\t".join(map(text_field, fields)) + "\n"


# What COPY's text format reads specially inside a field: its separators and escape.
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_field(value: str | None) -> str:
    """A value as a field of COPY's text format (None: NULL). Anything but a str raises
    TypeError, as asyncpg's encoder would (and with it the batch)."""
    if value is None:
        return "\\N"
    if _SPECIAL.search(value) is None:
        return value
    return value.translate(_ESCAPES)
