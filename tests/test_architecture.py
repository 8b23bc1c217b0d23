"""Dependencies point inwards: the domain knows nothing of HTTP or SQL, projections nothing
of the service that feeds them."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize(("module", "names"), sorted(_imports("aggregates").items()))
def test_aggregates_import_only_the_standard_library_and_the_domain_module(module, names):
    for name in names:
        allowed = (
            _top(name) in sys.stdlib_module_names
            or name == "eventsourcing.domain"
            or _top(name) == "aggregates"
        )
        assert allowed, f"{module} imports {name}"
    assert "asyncio" not in {_top(n) for n in names}


@pytest.mark.parametrize(("module", "names"), sorted(_imports("projections").items()))
def test_projections_never_import_the_service(module, names):
    assert "service" not in {_top(n) for n in names}, module
