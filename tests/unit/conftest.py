"""The unit tier is pure: no database (``./scripts/test --unit`` runs it with none at all)."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents and "database_url" in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(
                f"{item.nodeid} needs the database: it belongs in tests/integration"
            )
