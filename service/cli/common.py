"""What every ``ledger`` command shares: its shape, its expected failure, its output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from service.settings import Settings
from service.store.eventstore import EventStore

# Every command gets its arguments, the settings, and the one EventStore of the process.
Command = Callable[[argparse.Namespace, Settings, EventStore], Coroutine[Any, Any, int]]


class CommandError(Exception):
    """The command cannot be carried out as given."""


def failure_line(exc: Exception) -> str:
    """An expected failure as ``ledger`` reports it: one line, what went wrong (the error's
    docstring, however it is wrapped) and the particulars."""
    doc = " ".join((type(exc).__doc__ or type(exc).__name__).split())
    return f"ledger: {doc} ({exc})\n"


def say(*lines: str) -> None:
    for line in lines:
        sys.stdout.write(line + "\n")


async def connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url, timeout=10)
