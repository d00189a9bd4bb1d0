"""The shape of the code that docs/architecture.md describes, checked: only the command line
imports the command line, every command is short, and no two modules import each other."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import click

from conftest import REPO
from workplan.cli import cli

PACKAGE = REPO / "workplan"
MAX_COMMAND_LINES = 20


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, modules: dict[str, Path], top_level_only: bool) -> set[str]:
    """The workplan modules that *name* imports (at run time: not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes: list[ast.stmt] = []
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            nodes.append(node)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            pending.extend(ast.iter_child_nodes(node))  # type: ignore[arg-type]
        elif not top_level_only:
            pending.extend(n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found.update(t for t in targets if t in modules and t != name)
    return found


def test_only_the_command_line_imports_the_command_line() -> None:
    modules = _modules()
    offenders = sorted(name for name, path in modules.items()
                       if not name.startswith("workplan.cli") and name != "workplan.__main__"  # python -m workplan
                       and any(t.startswith("workplan.cli") for t in _imports(name, path, modules, False)))
    assert offenders == []


def test_no_import_cycle_at_module_level() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules, True) for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def _body_lines(function: object) -> int:
    """The lines of a function's body, its docstring left out."""
    source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))  # type: ignore[arg-type]
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def test_every_command_is_short() -> None:
    """A command parses its arguments, makes one call and hands the result to one formatter."""
    commands = _commands(cli)
    assert len(commands) > 20  # found them all: status verbs, groups' subcommands
    lengths = {name: _body_lines(command.callback) for name, command in commands.items()
               if command.callback is not None}
    assert {name: n for name, n in lengths.items() if n > MAX_COMMAND_LINES} == {}


def test_the_body_counter_counts() -> None:
    def short() -> None:
        """Docs."""
        x = 1
        del x

    assert _body_lines(short) == 2


def test_commands_go_through_the_jobs() -> None:
    """The command line parses, calls a job (or the project context) and formats: it reads and
    writes nothing through the layers below the jobs itself."""
    modules = _modules()
    below = {"workplan.queries", "workplan.services", "workplan.db", "workplan.reports", "workplan.board",
             "workplan.scheduler", "workplan.tokens", "workplan.feeds", "workplan.scaffold", "workplan.web"}
    reached = {name: sorted(_imports(name, path, modules, False) & below)
               for name, path in modules.items() if name.startswith("workplan.cli")}
    assert {name: found for name, found in reached.items() if found} == {}
