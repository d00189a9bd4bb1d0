"""The shortcuts taken for large workplans (issue 7) answer exactly what the long ways did."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy

from conftest import MINIMAL, REPO, SHIPPED_ACTIONS, database_url, run_cli, scalar, write_project
from workplan import db as wpdb
from workplan import spec
from workplan.errors import ValidationFailed

sys.path.insert(0, str(REPO / "bench"))


RECURRING = MINIMAL + """\
  - id: report
    title: Half-yearly report
    owners: [CR]
    repeat: semester
    from: 2020-01-01
"""


def test_head_revision_read_from_the_files_is_alembics() -> None:
    assert wpdb.head_revision() == wpdb._alembic_script().get_current_head()


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


@pytest.mark.usefixtures("db_backend")
def test_an_unchanged_file_is_not_read_again_until_the_horizon_moves(tmp_path: Path) -> None:
    warned = RECURRING.replace("    owners: [TS]\n", "")  # a2 without owner: a warning on every read
    folder = write_project(tmp_path / "p", warned)
    first = run_cli(folder, "sync", "-q")
    assert first.code == 0 and "a2 has no owner" in first.err
    second = run_cli(folder, "sync", "-q")
    assert (second.code, second.out, second.err) == (0, "nothing changed\n", "")  # not even read
    url = database_url(folder)
    occurrences = int(scalar(url, "SELECT count(*) FROM assignment WHERE action_id = 'report'"))
    # a year later the horizon has moved: the file is read again and next year's occurrence added
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        horizon = conn.execute(sqlalchemy.text("SELECT value FROM meta WHERE key = 'sync_horizon'")).scalar()
        assert horizon is not None
        conn.execute(sqlalchemy.text("UPDATE meta SET value = '2001-12-31' WHERE key = 'sync_horizon'"))
    engine.dispose()
    third = run_cli(folder, "sync", "-q")
    assert third.code == 0 and "a2 has no owner" in third.err
    assert int(scalar(url, "SELECT count(*) FROM assignment WHERE action_id = 'report'")) == occurrences
    assert scalar(url, "SELECT value FROM meta WHERE key = 'sync_horizon'") == horizon


@pytest.mark.usefixtures("db_backend")
def test_recorded_facts_of_a_recurring_action_go_to_successive_occurrences(tmp_path: Path) -> None:
    text = RECURRING + """\
    progress:
      - {party: CR, status: done, on: 2020-06-20}
      - {party: CR, status: done, on: 2020-12-20}
      - {party: CR, status: in_progress, on: 2021-03-01}
"""
    folder = write_project(tmp_path / "p", text)
    assert run_cli(folder, "sync", "-q").code == 0
    rows = run_cli(folder, "list", "--owner", "CR", "--format", "json", "--as-of", "2021-03-02").json()
    report = {r["occurrence"]: r["status"] for r in rows if r["action"] == "report"}
    assert [report[k] for k in sorted(report)][:3] == ["done", "done", "in_progress"]
    url = database_url(folder)
    assert int(scalar(url, "SELECT count(*) FROM event WHERE action_id = 'report'")) == 3
    assert int(scalar(url, "SELECT max(version) FROM assignment WHERE action_id = 'report'")) == 1


