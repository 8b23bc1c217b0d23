"""Dependencies point inwards: the domain knows nothing of HTTP or SQL, projections nothing
of the service that feeds them, and no module imports another in a circle.

Imports are read from the source, at every level of a module (a function-level import counts
as much as any), so the rules cannot be dodged by importing late.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aggregates", "projections", "service")
MAX_LINES = 300
MAX_SERVICE_MODULES = 5


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


SOURCES = _sources()


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            lines.update(
                n.lineno for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)
            )
    return lines


def _imports(module: str) -> list[tuple[str, ast.stmt]]:
    """Every module ``module`` imports, anywhere in it, with the statement; a ``from package
    import name`` counts the submodule when there is one."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    found: list[tuple[str, ast.stmt]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node))
            found += [
                (f"{node.module}.{alias.name}", node)
                for alias in node.names
                if f"{node.module}.{alias.name}" in SOURCES
            ]
    return found


def _project_graph() -> dict[str, set[str]]:
    return {
        module: {name for name, _ in _imports(module) if name in SOURCES and name != module}
        for module in SOURCES
    }


def _top(name: str) -> str:
    return name.split(".")[0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_in_a_circle():
    assert _cycles(_project_graph()) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_imports_are_at_the_top_of_the_module(module: str):
    """A function-level import hides a dependency (and, so often, a circle)."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    skipped = _type_checking_only(tree)
    late = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and id(node) not in top_level
        and node.lineno not in skipped
    ]
    assert late == [], f"{module} imports inside a function at lines {late}"


def _external(module: str) -> set[str]:
    return {name for name, _ in _imports(module)}


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if _top(m) == "aggregates"))
def test_aggregates_import_only_the_standard_library_and_the_domain_module(module: str):
    for name in _external(module):
        allowed = (
            _top(name) in sys.stdlib_module_names
            or name == "eventsourcing.domain"
            or _top(name) == "aggregates"
        )
        assert allowed, f"{module} imports {name}"
    assert "asyncio" not in {_top(n) for n in _external(module)}


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if _top(m) == "projections"))
def test_projections_never_import_the_service(module: str):
    assert "service" not in {_top(n) for n in _external(module)}, module


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if m.startswith("service.adapters")))
def test_adapters_are_pure(module: str):
    """Platform JSON in, domain values out: no I/O, no database, no HTTP."""
    for name in _external(module):
        allowed = (
            (_top(name) in sys.stdlib_module_names and _top(name) not in ("asyncio", "socket"))
            or _top(name) == "aggregates"
            or name.startswith("service.adapters")
        )
        assert allowed, f"{module} imports {name}"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_only_the_http_edge_and_the_cli_import_aiohttp(module: str):
    if module.startswith(("service.http", "service.cli")):
        return
    assert "aiohttp" not in {_top(n) for n in _external(module)}, module


def test_the_service_is_in_packages():
    direct = sorted(p.name for p in (ROOT / "service").glob("*.py"))
    assert len(direct) <= MAX_SERVICE_MODULES, direct


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_modules_fit_in_a_head(module: str):
    lines = len(SOURCES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def _caught(tree: ast.Module) -> set[str]:
    """The names of the exceptions a module's ``except`` clauses catch, or that it handles
    as a value (``isinstance(result, SomeError)``: an append reports failures so)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        handled = None
        if isinstance(node, ast.ExceptHandler):
            handled = node.type
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            handled = node.args[1]
        if handled is not None:
            for n in ast.walk(handled):
                if isinstance(n, ast.Name):
                    names.add(n.id)
                elif isinstance(n, ast.Attribute):
                    names.add(n.attr)
    return names


def test_only_the_write_path_retries_a_conflict():
    """Load, decide, append, retry: written once (service/store/write.py), with one bound."""
    catching = sorted(
        module
        for module, path in SOURCES.items()
        if "ConcurrencyConflictError" in _caught(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert catching == ["service.store.write"]


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if m.startswith("service.store")))
def test_the_store_knows_nothing_of_projecting(module: str):
    """Migrating the store creates no projection schema: the callers run both steps."""
    assert not any(n.startswith("service.projecting") for n in _external(module)), module


def _literals(module: str) -> list[str]:
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


# Where a header name may be written: the platform's adapter (and the log scrubber's list of
# headers that carry secrets).
_HEADER_OWNERS = ("service.adapters", "service.logs")


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if not m.startswith(_HEADER_OWNERS)))
def test_platform_headers_are_named_by_their_adapter(module: str):
    named = [s for s in _literals(module) if s.lower().startswith(("x-wc-", "x-shopify-"))]
    assert named == [], f"{module} names {named}: ask service.adapters.registry"


# Formats of their own: the stored events, the spool, the token cache (never shown), and an
# adapter's quote of a bad input value in an error detail (any value, never failing; the
# adapters import nothing of ours beyond the domain).
_OWN_FORMATS = {
    "service.store.transcoder",
    "service.intake.spool",
    "service.accounts.users",
    "service.adapters.common",
}


@pytest.mark.parametrize("module", sorted(set(SOURCES) - _OWN_FORMATS - {"projections.encoding"}))
def test_what_is_shown_goes_through_the_one_encoder(module: str):
    """Exact money everywhere it is shown: projections.encoding writes every JSON answer."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "dumps"
        and isinstance(node.value, ast.Name)
        and node.value.id in ("orjson", "json")
    ]
    assert calls == [], f"{module} encodes JSON itself at lines {calls}: use projections.encoding"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_imports_are_absolute(module: str):
    """The rules above read imports by module name; a relative one would slip past them."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], f"{module} imports relatively at lines {relative}"
