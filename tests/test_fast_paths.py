"""The shortcuts taken for large workplans (issue 7) answer exactly what the long ways did."""

from __future__ import annotations

import sys

import pytest

from conftest import MINIMAL, REPO, SHIPPED_ACTIONS
from workplan import spec
from workplan.errors import ValidationFailed

sys.path.insert(0, str(REPO / "bench"))


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


