"""What the adapter tests share: reading a payload independently, comparing amounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any


def read_raw(path: Path) -> Any:
    """A fixture read independently of the adapters (stdlib json, exact decimals)."""
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def exact(actual: Decimal | None, expected: Decimal) -> None:
    """Equal and with the same scale (Decimal("2.000") == Decimal("2") hides a lost scale)."""
    assert actual is not None
    assert (actual, str(actual)) == (expected, str(expected))


def id_or_none(value: Any) -> str | None:
    """What the adapters make of a raw id: 0, "" and null mean none."""
    return None if value in (0, "", None) else str(value)


def utc(text: str) -> datetime:
    """A naive WooCommerce ``*_gmt`` time, read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
