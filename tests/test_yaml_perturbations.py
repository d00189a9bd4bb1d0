"""Valid actions files perturbed line by line, in every way the issue lists (issue 8).

Wrong types, missing keys, huge and empty values, unicode, deep nesting, anchors and
aliases, tags and duplicate keys, alone and combined. Each perturbed file either loads
(and then plans, syncs and renders without an internal error) or is refused with every
problem on a line of the file and exit 2. Examples are derandomised and bounded.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MINIMAL, run_cli
from workplan import planning, spec
from workplan.errors import ValidationFailed

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
