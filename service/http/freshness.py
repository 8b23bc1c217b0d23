"""Read-your-writes, paid for by the reader: a query waits, bounded, for its own writes.

A webhook is answered as soon as its events are committed; the projections apply them a few
milliseconds later. So that a query made right after a webhook's 2xx still sees its sale and
stock, every query first reads its user's newest log position (``user_log_heads``, moved by
each append, in whichever process made it) and waits until every projection has passed it,
for at most the settings' ``read_your_writes_timeout`` (2 s; past it the query answers
with what there is). A user who wrote nothing lately waits
for nothing, however busy the other users keep the log.

Positions come from this process's runner when it is the active one for every projection,
and from ``projection_positions`` otherwise (projections running in another process).
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from aiohttp import web

from projections.registry import all_projections
from service.http.keys import DELIVERY_LOG, POOL, RUNNER, SETTINGS
from service.http.params import authenticate
from service.projecting.caught_up import user_head, wait_applied
from service.store.db import connection


async def reader(request: web.Request) -> UUID:
    """The authenticated user, once the projections show everything they wrote."""
    user_id = await authenticate(request)
    await own_writes_applied(request, user_id)
    return user_id


async def own_writes_applied(request: web.Request, user_id: UUID) -> bool:
    """Wait until the projections have applied the user's newest event; False on timeout."""
    within = request.app[SETTINGS].read_your_writes_timeout
    async with connection(request.app[POOL]) as conn:
        head = await user_head(conn, user_id)
        if head is None:
            return True
        runner = request.app[RUNNER]
        if runner is not None and runner.reached(head):
            return True
        if runner is not None and len(runner.active) == len(runner.projections):
            return await runner.wait_for(head, within)
        names = [p.name for p in all_projections()]
        return await wait_applied(conn, names, head, within)


async def own_deliveries_logged(request: web.Request) -> None:
    """Wait, bounded like the projections, for this process's queued delivery-log rows to
    be written (the log is written in the background), so a reader sees the deliveries
    this process answered."""
    pending = asyncio.shield(request.app[DELIVERY_LOG].flush())
    try:
        await asyncio.wait_for(pending, request.app[SETTINGS].read_your_writes_timeout)
    except TimeoutError:
        pass  # the database is slow or away: answer with what is written
