"""Hand-edited, pasted and hostile actions files never crash the loader (issue 8)."""

from __future__ import annotations

import copy
import resource
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MINIMAL, run_cli, write_project
from workplan import spec
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


