"""Reading actions.yaml: hand-edited, pasted and hostile actions files never crash the loader (issue 8).

Valid files perturbed line by line, in every way issue 8 lists (wrong types, missing keys, huge
and empty values, unicode, deep nesting, anchors and aliases, tags and duplicate keys, alone and
combined), either load (and then plan, sync and render without an internal error) or are refused
with every problem on a line of the file and exit 2; examples are derandomised and bounded. The
libyaml reader and the pure-Python one read the same documents and the same errors."""

from __future__ import annotations

import copy
import re
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MINIMAL, SHIPPED_ACTIONS, run_cli, write_project
from workplan import planning, spec
from workplan.errors import ValidationFailed

BASE = yaml.safe_load(MINIMAL)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
    st.text(max_size=40), st.sampled_from(["2020-02-30", "2020-13", "NO", "~", "-14d", "members", "a1", "m1",
                                           "\u202e", "=cmd|' /C calc'!A0", "x" * 5000]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"extra_{abs(hash(str(value))) % 1000}"] = value
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    return doc


def _assert_loads_or_reports(text: str) -> None:
    try:
        spec.loads(text, "actions.yaml")
    except ValidationFailed as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert problem.message and "\n" not in problem.message[:200]


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add", "duplicate"]), values),
                min_size=1, max_size=4))
def test_mutated_documents_load_or_report(mutations: list[tuple[tuple[Any, ...], str, Any]]) -> None:
    doc: Any = BASE
    for path, action, value in mutations:
        try:
            doc = _mutate(doc, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # the path no longer exists after an earlier mutation
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    _assert_loads_or_reports(text)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=300))
def test_arbitrary_text_loads_or_reports(text: str) -> None:
    _assert_loads_or_reports(text)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.integers(0, len(MINIMAL) - 1), st.integers(1, 40))
def test_truncated_and_spliced_files_load_or_report(cut: int, width: int) -> None:
    _assert_loads_or_reports(MINIMAL[:cut])
    _assert_loads_or_reports(MINIMAL[:cut] + MINIMAL[cut + width:])


def test_yaml_anchors_and_aliases_are_fine_when_meaningful(tmp_path: Path) -> None:
    text = MINIMAL.replace("    owners: [members]\n", "    owners: &everyone [members]\n").replace(
        "    owners: [TS]\n", "    owners: *everyone\n")
    doc = spec.loads(text)
    assert doc.actions["a2"].owners == ("members",)


BOMB = """\
workplan: 1
group: {id: g, name: G, timezone: UTC}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
actions: *i
parties: [{id: *i}]
sets: {s: *i}
"""


def test_billion_laughs_is_bounded(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", BOMB)
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_cli(folder, "check")
    assert time.monotonic() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert result.code == 2
    assert "unknown key 'a'" in result.err
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) < 100


def test_python_object_tag_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = MINIMAL.replace("title: First action",
                           f"title: !!python/object/apply:os.system ['touch {marker}']")
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "check")
    assert result.code == 2
    assert "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in result.err
    assert not marker.exists()


def test_huge_file_is_refused_quickly(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    with (folder / "actions.yaml").open("w") as fh:
        fh.write(MINIMAL)
        fh.write("# " + "x" * 1000 + "\n")
        line = "# " + "padding " * 16 + "\n"
        fh.write(line * (50 * 1024 * 1024 // len(line)))
    started = time.monotonic()
    result = run_cli(folder, "check")
    assert time.monotonic() - started < 5
    assert result.code == 2
    assert "actions files are limited to 20 MB (setting actions.max_megabytes)" in result.err


def test_the_file_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project with a larger workplan raises actions.max_megabytes (100,000 actions are about
    50 MB); a lower limit refuses a file the default accepts, and a nonsense value is one sentence."""
    folder = write_project(tmp_path / "p", MINIMAL + "# " + "x" * (3 * 1024 * 1024 // 2) + "\n")  # 1.5 MB
    assert run_cli(folder, "check").code == 0
    (folder / "workplan.toml").write_text("[actions]\nmax_megabytes = 1\n", encoding="utf-8")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert result.err == ("actions.yaml:1:1: the file is 1.5 MB; actions files are limited to 1 MB "
                          "(setting actions.max_megabytes)\n")
    monkeypatch.setenv("WORKPLAN_ACTIONS_MAX_MEGABYTES", "2")
    assert run_cli(folder, "check").code == 0
    monkeypatch.setenv("WORKPLAN_ACTIONS_MAX_MEGABYTES", "0")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert result.err == "workplan: setting actions.max_megabytes must be a whole number of at least 1, not '0'\n"


def test_deep_nesting_is_reported(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL + "extra: " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert "Traceback" not in result.err


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "actions.yaml").write_bytes(MINIMAL.replace("Costa Rica", "Costa Rica \xe9").encode("latin-1"))
    result = run_cli(folder, "check")
    assert result.code == 2
    assert "actions.yaml:1:1: the file is not UTF-8 text" in result.err


# the same document in block style, so that every key sits on a line of its own
BLOCK = yaml.safe_dump(yaml.safe_load(MINIMAL), sort_keys=False, default_flow_style=False, allow_unicode=True)
_KEY_VALUE = re.compile(r"^(\s*(?:- )?[\w.-]+:) (.+)$")
Lines = list[str]
Perturbation = Callable[[Lines], Lines]

TAGS = ["!!python/object/apply:os.system", "!!python/name:os.system", "!local", "!<tag:example.org,2026:x>",
        "!!binary", "!!set", "!!omap", "!!pairs", "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp",
        "!!map", "!!seq", "!!merge", "!"]
WRONG_TYPES = ["[a, b]", "{k: v}", "42", "-1", "3.5", "true", "null", "2020-01-01", "[]", "{}", "[[x]]", ".inf"]
EMPTY = ['""', "''", "~", "[]", "{}", "null", "' '"]
TROUBLE = ["\u202e", "\u200b", "\u200d", "\u0301", "\U0001f600", "\u2028", "\u0085", "\ufeff", "\u00a0", "\t",
           "\x1b", "\x00", "\uff1a", "\U000e0001", "ﬁ", "İ", "ß"]


def _value_lines(lines: Lines) -> list[int]:
    return [i for i, line in enumerate(lines) if _KEY_VALUE.match(line)]


def _set_value(lines: Lines, index: int, value: str) -> Lines:
    line_numbers = _value_lines(lines)
    if not line_numbers:
        return lines
    i = line_numbers[index % len(line_numbers)]
    m = _KEY_VALUE.match(lines[i])
    assert m
    return [*lines[:i], f"{m.group(1)} {value}", *lines[i + 1:]]


def _value_of(lines: Lines, index: int) -> str:
    line_numbers = _value_lines(lines)
    if not line_numbers:
        return "x"
    m = _KEY_VALUE.match(lines[line_numbers[index % len(line_numbers)]])
    assert m
    return m.group(2)


def _replace(value: st.SearchStrategy[str]) -> st.SearchStrategy[Perturbation]:
    return st.builds(lambda i, v: lambda lines: _set_value(lines, i, v), st.integers(0, 200), value)


def _delete(i: int) -> Perturbation:
    return lambda lines: [line for n, line in enumerate(lines) if n != i % len(lines)] if lines else lines


def _duplicate(i: int) -> Perturbation:
    return lambda lines: [*lines[: i % len(lines) + 1], *lines[i % len(lines):]] if lines else lines


def _alias(anchor: int, target: int, name: str) -> Perturbation:
    def apply(lines: Lines) -> Lines:
        lines = _set_value(lines, anchor, f"&{name} {_value_of(lines, anchor)}")
        return _set_value(lines, target, f"*{name}")
    return apply


def _insert(i: int, char: str, at: int) -> Perturbation:
    def apply(lines: Lines) -> Lines:
        if not lines:
            return lines
        n = i % len(lines)
        line = lines[n]
        cut = at % (len(line) + 1)
        return [*lines[:n], line[:cut] + char + line[cut:], *lines[n + 1:]]
    return apply


def _tag(i: int, tag: str) -> Perturbation:
    return lambda lines: _set_value(lines, i, f"{tag} {_value_of(lines, i)}")


huge = st.one_of(
    st.integers(1_000, 300_000).map(lambda n: "x" * n),
    st.integers(20, 6_000).map(lambda n: "9" * n),
    st.integers(100, 20_000).map(lambda n: "[" + ", ".join(["CR"] * n) + "]"),
    st.integers(100, 5_000).map(lambda n: "{" + ", ".join(f"k{i}: {i}" for i in range(n)) + "}"),
)
deep = st.integers(2, 5_000).flatmap(lambda d: st.sampled_from(["[" * d + "]" * d, "{a: " * d + "1" + "}" * d,
                                                                "[" * d, "- " * min(d, 300) + "x"]))
unicode_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40).map(
    lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"')

perturbations: st.SearchStrategy[Perturbation] = st.one_of(
    _replace(st.sampled_from(WRONG_TYPES)),                                        # wrong types
    st.integers(0, 200).map(_delete),                                              # missing keys
    _replace(huge),                                                                # huge values
    _replace(st.sampled_from(EMPTY)),                                              # empty values
    _replace(unicode_values),                                                      # unicode values
    st.builds(_insert, st.integers(0, 200), st.sampled_from(TROUBLE), st.integers(0, 200)),  # unicode anywhere
    _replace(deep),                                                                # deep nesting
    st.builds(_alias, st.integers(0, 200), st.integers(0, 200), st.sampled_from(["a", "b"])),  # anchors, aliases
    _replace(st.sampled_from(["&r [*r]", "&r {k: *r}", "*undefined", "&a x"])),      # recursive and dangling
    st.builds(_tag, st.integers(0, 200), st.sampled_from(TAGS)),                     # tags
    st.integers(0, 200).map(_duplicate),                                           # duplicate keys (and items)
)


def _perturbed(steps: list[Perturbation]) -> str:
    lines = BLOCK.splitlines()
    for step in steps:
        lines = step(lines)
    return "\n".join(lines) + "\n"


def _load_or_report(text: str) -> spec.Document | None:
    try:
        doc = spec.loads(text.encode("utf-8"), "actions.yaml")
    except ValidationFailed as exc:
        assert exc.errors
        last_line = text.count("\n") + 2
        for problem in exc.problems:
            assert 1 <= problem.line <= last_line and problem.column >= 1, problem
            assert problem.message and "\n" not in problem.message and len(problem.message) <= spec.MAX_MESSAGE
        return None
    planning.plan(doc, date(2031, 12, 31))  # what loads also plans
    return doc


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(perturbations, min_size=1, max_size=4))
def test_perturbed_files_load_or_report_every_problem(steps: list[Perturbation]) -> None:
    _load_or_report(_perturbed(steps))


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.lists(perturbations, min_size=1, max_size=3))
def test_perturbed_files_through_the_command_line(steps: list[Perturbation]) -> None:
    """What loads also syncs and renders; what does not is exit 2 with FILE:LINE:COL lines."""
    text = _perturbed(steps)
    loads = _load_or_report(text) is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "actions.yaml").write_text(text, encoding="utf-8")
        first = run_cli(folder, "sync", "-q")
        assert "internal error" not in first.err
        if not loads:
            assert first.code == 2 and all(line.startswith("actions.yaml:") for line in first.err.splitlines())
            return
        assert first.code == 0, first
        for args in (("overdue", "--as-of", "2021-01-01"), ("list", "--format", "csv"), ("calendars",),
                     ("agenda", "--format", "html"), ("digest", "--all", "--out", "d"), ("graph",), ("meetings",)):
            result = run_cli(folder, *args)
            assert result.code in (0, 2) and "internal error" not in result.err, (args, result)


def test_libyaml_and_python_read_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    if spec._FAST_LOADER is None:
        pytest.skip("PyYAML is built without libyaml here")
    raw = SHIPPED_ACTIONS.read_text(encoding="utf-8").replace("owners: [TS]", "owners: []", 1)
    fast = spec.loads(raw)
    monkeypatch.setattr(spec, "_FAST_LOADER", None)
    slow = spec.loads(raw)
    assert fast == slow  # every field, positions of actions and progress included
    assert fast.warnings == slow.warnings and fast.warnings


@pytest.mark.parametrize("text", [
    MINIMAL + "  - id: a3\n    title: [unclosed\n",
    MINIMAL + "  - id: a3\n    title: \"bad \\q escape\"\n",
    MINIMAL + "---\nworkplan: 1\n",
    MINIMAL.replace("First action", "First \x07 action"),
    MINIMAL + "extra: " + "[" * 2000 + "]" * 2000 + "\n",
])
def test_errors_read_the_same_with_and_without_libyaml(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    def problems() -> list[str]:
        with pytest.raises(ValidationFailed) as info:
            spec.loads(text, "actions.yaml")
        return [str(p) for p in info.value.problems]

    fast = problems()
    monkeypatch.setattr(spec, "_FAST_LOADER", None)
    assert fast == problems()


def test_flow_depth_bound_is_an_upper_bound() -> None:
    assert spec._flow_depth_bound("a: [[{x: 1}], [2]]") == 3
    assert spec._flow_depth_bound('a: "[[[" [1]') >= 1
    assert spec._flow_depth_bound("a: " + "[" * 5000 + "]" * 5000) > spec._MAX_FAST_NESTING
