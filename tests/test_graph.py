"""`workplan graph`: the dependency graph as DOT, Mermaid and SVG, coloured by state."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_agenda import HOSTILE, hostile_project

from conftest import Runner, run_cli


def test_dot_colours_by_state(wp: Runner) -> None:
    result = wp("graph", "--as-of", "2018-06-02")
    assert result.code == 0, result.err
    dot = result.out
    assert dot.startswith("digraph workplan {")
    assert '"workplan-v2-draft" -> "workplan-v2-discussion";' in dot
    assert '"workplan-v2-discussion" -> "workplan-v2-approval";' in dot
    def fill(action: str) -> str:
        match = re.search(rf'^  "{action}" \[.*fillcolor="([^"]+)"', dot, re.M)
        assert match, action
        return match.group(1)
    assert fill("focal-points") == "#f8c4c4"  # overdue: red
    assert fill("workplan-v2-discussion") == "#ffd8a8"  # blocked: orange
    assert fill("workplan-v2-draft") == "#e6e8eb"  # open: grey
    assert '"focal-points" [label="' in dot and "0/11 done" in dot
    # isolated actions are left out unless asked for
    assert '"human-rights-narrative"' not in dot
    assert '"human-rights-narrative"' in wp("graph", "--all-actions").out


def test_done_is_green(wp: Runner) -> None:
    assert wp("done", "workplan-v2-draft", "--on", "2018-10-01").code == 0
    dot = wp("graph", "--as-of", "2018-10-02").out
    assert re.search(r'^  "workplan-v2-draft" \[.*fillcolor="#c6efce"', dot, re.M)


def test_mermaid(wp: Runner) -> None:
    result = wp("graph", "--format", "mermaid", "--as-of", "2018-06-02")
    assert result.code == 0, result.err
    text = result.out
    assert text.startswith("flowchart LR\n")
    ids = dict(re.findall(r"^  (a\d+_\w+)\[\"[^\n]*?\[([\w-]+)\]", text, re.M))
    by_action = {v: k for k, v in ids.items()}
    assert f"  {by_action['workplan-v2-draft']} --> {by_action['workplan-v2-discussion']}" in text
    assert f"class {by_action['workplan-v2-discussion']} blocked" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed: SVG cannot be drawn")
def test_svg(wp: Runner, tmp_path: Path) -> None:
    result = wp("graph", "--format", "svg", "--as-of", "2018-06-02", "-o", str(tmp_path / "g.svg"))
    assert result.code == 0, result.err
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "Discuss the Work Plan v2.0 at the" in svg
    assert 'fill="#ffd8a8"' in svg  # blocked nodes keep their colour


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed: SVG cannot be drawn")
def test_hostile_title_in_svg_is_escaped(tmp_path: Path) -> None:
    folder = hostile_project(tmp_path)
    svg = run_cli(folder, "graph", "--format", "svg").out
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    dot = run_cli(folder, "graph").out
    assert '<script>alert(1)</script> &' in dot and '\\"quotes\\"' in dot  # a DOT string, escaped as DOT
    mermaid = run_cli(folder, "graph", "--format", "mermaid").out
    assert "<script>" not in mermaid and "#lt;script#gt;" in mermaid
    assert HOSTILE not in mermaid


def test_svg_without_graphviz_says_so(wp: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` on PATH
    result = wp("graph", "--format", "svg")
    assert result.code == 1
    assert result.err.strip().splitlines()[-1] == (
        "workplan: cannot draw SVG: the Graphviz program `dot` is not installed "
        "(install graphviz, or use --format dot or --format mermaid)")
