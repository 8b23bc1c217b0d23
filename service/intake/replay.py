"""Replaying the spool: each aggregate's deliveries in arrival order, several aggregates at
once.

The spool keeps deliveries in arrival order, and that order matters only between
deliveries about the same order or product (a deletion and the restore after it, two
snapshots with one modification time). So a window of entries is replayed as chains, one
per aggregate the bodies name, run concurrently, each in arrival order: a queue filled in a
flash sale drains at the ledger's pace, not at one delivery per round trip. A body that
names no aggregate (not JSON, a ping, no id) is replayed alone, after everything before it
and before anything after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from service.intake.delivery import SpooledDelivery
from service.intake.spool import CorruptEntry
from service.store.db import DatabaseUnavailableError, PoolBusyError

# Entries read and replayed together.
WINDOW = 32

Read = Callable[[str], Awaitable[SpooledDelivery]]
Ingest = Callable[[SpooledDelivery], Awaitable[Any]]
Remove = Callable[[str], Awaitable[None]]
Pause = Callable[[], Awaitable[None]]
Chain = list[tuple[str, SpooledDelivery]]


def replay_key(d: SpooledDelivery) -> Hashable | None:
    """The aggregate a delivery is about, as its body names it (a refund: its order);
    None when the body does not say."""
    if d.kind == "ping":
        return None
    ref = d.named_ref
    return None if ref is None else (d.user_id, d.platform, d.kind, ref)


def phases(loaded: Chain) -> list[list[Chain]]:
    """The window's entries as phases run one after the other, each a set of chains run
    at once; a delivery with no key is a phase of its own."""
    found: list[list[Chain]] = []
    chains: dict[Hashable, Chain] = {}
    for entry in loaded:
        key = replay_key(entry[1])
        if key is None:
            if chains:
                found.append(list(chains.values()))
                chains = {}
            found.append([[entry]])
        else:
            chains.setdefault(key, []).append(entry)
    if chains:
        found.append(list(chains.values()))
    return found


async def replay(
    entries: list[str], read: Read, ingest: Ingest, remove: Remove, pause: Pause
) -> int:
    """Record the entries; how many are done (fewer: the database failed or is busy, and
    what is left stays spooled, each aggregate's in order)."""
    done = 0
    for start in range(0, len(entries), WINDOW):
        await pause()
        loaded: Chain = []
        for entry_id in entries[start : start + WINDOW]:
            try:
                loaded.append((entry_id, await read(entry_id)))
            except CorruptEntry:
                done += 1  # moved aside, logged
        for phase in phases(loaded):
            results = await asyncio.gather(*(_chain(c, ingest, remove) for c in phase))
            done += sum(n for n, _ in results)
            if any(stopped for _, stopped in results):
                return done
    return done


async def _chain(chain: Chain, ingest: Ingest, remove: Remove) -> tuple[int, bool]:
    for n, (entry_id, delivery) in enumerate(chain):
        try:
            await ingest(delivery)
        except (DatabaseUnavailableError, PoolBusyError):
            return n, True
        await remove(entry_id)
    return len(chain), False
