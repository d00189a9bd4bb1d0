"""The layering holds: renderers take plain objects and never load the ORM or open a database,
reads take one path (SQLAlchemy Core), and no module of workplan imports itself in a circle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workplan"
RENDERERS = sorted(p.stem for p in (PACKAGE / "render").glob("*.py") if p.stem != "__init__")
# what a renderer must not bring in: the ORM, the models mapped with it, the module that opens sessions
FORBIDDEN = ("sqlalchemy.orm", "workplan.models", "workplan.db", "workplan.queries", "workplan.feeds")

# imports each renderer and, for the feeds, renders a small feed set in two languages through the
# entry point every publisher calls (its lazy imports included); prints what was loaded
_PROBE = """
import importlib, json, sys
from datetime import date, datetime
module = importlib.import_module("workplan.render." + sys.argv[1])
if sys.argv[1] == "ical":
    from workplan.views import FeedAction, FeedAssignment, FeedParty, FeedSet, GroupInfo
    t0 = datetime(2020, 1, 1)
    owner = FeedAssignment("a", "CR", "", date(2020, 4, 1), None, "date", None, "open", None, False, 0, t0)
    fs = FeedSet(GroupInfo("g", "G", "UTC", "example.org"), (FeedParty("CR", "Costa Rica"),), (),
                 (FeedAction("a", "Do it", "", "", "", "", "", {"form": "date"}, "restricted", False, 0, t0,
                             (), (), (owner,)),))
    out = module.render_in_languages({"en": fs, "es": fs}, "en", {"CR": "es"}, todo=True, private=True)
    assert b"Do it" in out["CR.ics"], out
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("renderer", RENDERERS)
def test_a_renderer_loads_neither_the_orm_nor_the_database(renderer: str) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, renderer], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert f"workplan.render.{renderer}" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_renderers_are_all_probed() -> None:
    assert {"agenda", "digest", "graph", "ical"} <= set(RENDERERS)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The workplan modules that importing *path* imports at once: its top-level imports, those
    under ``if TYPE_CHECKING:`` left out (they are never run); imports inside functions are lazy."""
    name = _module_name(path)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                test = node.test
                if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in modules and m != name}


def test_no_module_of_workplan_imports_itself_in_a_circle() -> None:
    """Dependencies point one way: e.g. ``spec`` validates with ``planning``'s rules, and
    ``planning`` names ``spec``'s types for the type checker only."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    graph = {name: _runtime_imports(path, set(paths)) for name, path in paths.items()}
    assert "workplan.planning" in graph["workplan.spec"]  # the checker sees what it must see
    assert "workplan.spec" not in graph["workplan.planning"]

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    assert not cycles, cycles


# the driver is reached only where db.py sets a fresh connection up (pragmas, BEGIN, lock timeout)
_DRIVER_CALLS = {"raw_connection", "exec_driver_sql", "driver_connection", "dbapi_connection", "cursor"}


def test_reads_go_through_sqlalchemy_not_the_driver() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts or path == PACKAGE / "db.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in _DRIVER_CALLS:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.attr}")
    assert not found, found
