"""Sync: one transaction, idempotent, withdrawals keep history, recorded facts imported once; a
killed sync leaves the database as before or as after; an unchanged file is not read again; moving
a meeting moves exactly the deadlines anchored to it (generated workplans, issue 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from hypothesis import given
from hypothesis import strategies as st
from workplans import HEAD, SLOW, _day, _json, _project

from conftest import MINIMAL, database_url, dump_database, new_postgres_url, run_cli, scalar, write_project


def _count(url: str, sql: str) -> int:
    return int(scalar(url, sql))


@pytest.mark.usefixtures("db_backend")
def test_second_sync_changes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    first = run_cli(folder, "sync")
    assert first.code == 0, first.err
    assert "added: action a1" in first.out
    assert "added: assignment a1/CR" in first.out
    url = database_url(folder)
    before = dump_database(url)
    second = run_cli(folder, "sync")
    assert second.code == 0
    assert second.out == "nothing changed\n"
    assert dump_database(url) == before


@pytest.mark.usefixtures("db_backend")
def test_removed_action_is_withdrawn_with_history_kept(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-30").code == 0
    without_a1 = MINIMAL.replace(
        "  - id: a1\n    title: First action\n    source: {meeting: m1, ref: \"1\", text: \"do it\"}\n"
        "    owners: [members]\n    due: 2020-04-01\n", ""
    ).replace("    depends_on: [a1]\n", "")
    (folder / "actions.yaml").write_text(without_a1, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert result.code == 0, result.err
    assert "withdrawn: action a1" in result.out
    listing = run_cli(folder, "list", "--format", "json").json()
    assert {r["action"] for r in listing} == {"a2"}
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert [(e["party"], e["to"]) for e in log] == [("CR", "done")]
    # the world before the withdrawal still shows it
    past = run_cli(folder, "overdue", "--as-of", "2020-04-10", "--format", "json").json()
    assert ("a1", "PA") in {(r["action"], r["party"]) for r in past}
    shown = run_cli(folder, "show", "a1")
    assert "[WITHDRAWN]" in shown.out
    # putting it back restores the same assignments and their history
    (folder / "actions.yaml").write_text(MINIMAL, encoding="utf-8")
    back = run_cli(folder, "sync")
    assert "added: action a1 (restored)" in back.out
    rows = run_cli(folder, "list", "--format", "json").json()
    assert {(r["action"], r["party"], r["status"]) for r in rows if r["action"] == "a1"} == {
        ("a1", "CR", "done"), ("a1", "PA", "open")}


@pytest.mark.usefixtures("db_backend")
def test_progress_facts_are_imported_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("    due: 2020-04-01\n", "    due: 2020-04-01\n    progress:\n"
                           "      - {party: CR, status: done, on: 2020-03-20, note: reported at the meeting}\n")
    folder = write_project(tmp_path / "p", text)
    first = run_cli(folder, "sync")
    assert "recorded facts: a1/CR: done on 2020-03-20" in first.out
    db = database_url(folder)
    assert _count(db, "select count(*) from event") == 1
    # someone reopens it by hand; a later sync must not re-apply the recorded fact
    assert run_cli(folder, "reopen", "a1", "--party", "CR").code == 0
    (folder / "actions.yaml").write_text(text + "  # a comment changes the file\n", encoding="utf-8")
    again = run_cli(folder, "sync")
    assert again.code == 0
    assert "recorded facts" not in again.out
    assert _count(db, "select count(*) from event") == 2
    rows = run_cli(folder, "list", "--owner", "CR", "--format", "json").json()
    assert rows[0]["status"] == "open"
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert [e["origin"] for e in log] == ["actions.yaml", "cli"]


@pytest.mark.usefixtures("db_backend")
def test_moving_a_meeting_moves_anchored_deadlines(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "cadence:", "  - {id: v1, title: Virtual, kind: virtual, start: 2020-05-20, status: planned}\ncadence:")
    text = text.replace("    due: 2020-04-01\n", "    due: {meeting: v1, offset: -14d}\n")
    folder = write_project(tmp_path / "p", text)
    rows = run_cli(folder, "list", "--format", "json").json()
    due = {r["action"]: (r["due"], r["due_kind"]) for r in rows}
    assert due == {"a1": ("2020-05-06", "meeting"), "a2": ("2020-05-20", "meeting")}
    moved = text.replace("start: 2020-05-20", "start: 2020-06-10")
    (folder / "actions.yaml").write_text(moved, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert "changed: meeting v1" in result.out
    assert "changed: assignment a1/CR due 2020-05-06 → 2020-05-27" in result.out
    rows = run_cli(folder, "list", "--format", "json").json()
    assert {r["action"]: r["due"] for r in rows} == {"a1": "2020-05-27", "a2": "2020-06-10"}
    db = database_url(folder)
    assert _count(db, "select sequence from meeting where id='v1'") == 1
    assert _count(db, "select min(sequence) from assignment where action_id='a1'") == 1
    assert _count(db, "select sequence from meeting where id='m1'") == 0


@pytest.mark.usefixtures("db_backend")
def test_next_meeting_resolves_once_scheduled(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    a2 = run_cli(folder, "show", "a2", "--format", "json").json()
    assert (a2["due"], a2["due_kind"]) == ("2020-12-31", "expected")  # second semester 2020
    scheduled = MINIMAL.replace(
        "cadence:", "  - {id: v1, title: Virtual, kind: virtual, start: 2020-09-15T10:00, status: planned}\ncadence:")
    (folder / "actions.yaml").write_text(scheduled, encoding="utf-8")
    a2 = run_cli(folder, "show", "a2", "--format", "json").json()
    assert (a2["due"], a2["due_kind"], a2["due_meeting"]) == ("2020-09-15", "meeting", "v1")


def test_shared_database_does_not_autosync(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    url = f"sqlite:///{tmp_path / 'shared.db'}" if db_backend == "sqlite" else new_postgres_url()
    (folder / "workplan.toml").unlink(missing_ok=True)  # no configuration but the --db flag
    assert run_cli(folder, "--db", url, "sync").code == 0
    (folder / "actions.yaml").write_text(MINIMAL.replace("First action", "Renamed"), encoding="utf-8")
    rows = run_cli(folder, "--db", url, "list", "--format", "json").json()
    assert rows[0]["title"] == "First action"
    assert run_cli(folder, "--db", url, "sync").code == 0
    rows = run_cli(folder, "--db", url, "list", "--format", "json").json()
    assert rows[0]["title"] == "Renamed"


def _big(n: int, title: str) -> str:
    head = MINIMAL.split("actions:")[0] + "actions:\n"
    return head + "".join(f"  - {{id: b{i}, title: {title} {i}, owners: [members], due: 2020-05-01}}\n"
                          for i in range(n))


@pytest.mark.usefixtures("db_backend")
def test_sync_killed_midway_leaves_before_or_after(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", _big(50, "old"))
    assert run_cli(folder, "sync").code == 0
    url = database_url(folder)
    n = 3000
    (folder / "actions.yaml").write_text(_big(n, "new"), encoding="utf-8")
    outcomes = set()
    for delay in (0.4, 0.8, 1.2, 1.6, 2.4):
        proc = subprocess.Popen([sys.executable, "-m", "workplan.cli", "sync", "-q"], cwd=folder,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        actions = scalar(url, "select count(*) from action where withdrawn_at is null")
        titles = scalar(url, "select count(distinct substr(title, 1, 3)) from action where withdrawn_at is null")
        assignments = scalar(url, "select count(*) from assignment where withdrawn_at is null")
        assert titles == 1, "old and new titles side by side: a half-written sync"
        state = (actions, assignments)
        assert state in ((50, 100), (n, 2 * n)), state
        outcomes.add(state)
        if state == (n, 2 * n):
            break
    # whatever happened, the next sync completes the work and a read sees it whole
    assert run_cli(folder, "sync", "-q").code == 0
    assert scalar(url, "select count(*) from action where withdrawn_at is null") == n
    assert (50, 100) in outcomes  # at least one kill landed before the commit


RECURRING = MINIMAL + """\
  - id: report
    title: Half-yearly report
    owners: [CR]
    repeat: semester
    from: 2020-01-01
"""


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


# ---------------------------------------------------------------------------
# moving a meeting


KINDS = ["virtual", "face-to-face"]


@st.composite
def meeting_plans(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    meetings = [{"id": f"m{i}", "kind": draw(st.sampled_from(KINDS)), "start": draw(st.integers(0, 300)),
                 "status": draw(st.sampled_from(["held", "planned", "cancelled"]))} for i in range(draw(st.integers(2, 4)))]
    actions = []
    for i in range(draw(st.integers(1, 6))):
        form = draw(st.sampled_from(["date", "meeting", "next"]))
        ref = draw(st.sampled_from(meetings))["id"]
        actions.append({"id": f"a{i}", "form": form, "ref": ref, "kind": draw(st.sampled_from(KINDS)),
                        "day": draw(st.integers(0, 300)), "offset": draw(st.integers(-30, 30))})
    moved = draw(st.integers(0, len(meetings) - 1))
    delta = draw(st.integers(-90, 90).filter(bool))
    return meetings, actions, moved, delta


def _meeting_text(meetings: list[dict[str, Any]], actions: list[dict[str, Any]]) -> str:
    out = [HEAD, "meetings:\n"]
    out += [f"  - {{id: {m['id']}, title: Meeting {m['id']}, kind: {m['kind']}, start: {_day(m['start'])}, "
            f"status: {m['status']}}}\n" for m in meetings]
    out.append("actions:\n")
    for a in actions:
        if a["form"] == "date":
            due = _day(a["day"])
        elif a["form"] == "meeting":
            due = f"{{meeting: {a['ref']}, offset: {a['offset']:+d}d}}"
        else:
            due = f"{{next: {a['kind']}, after: {a['ref']}, offset: {a['offset']:+d}d}}"
        out.append(f"  - {{id: {a['id']}, title: Action {a['id']}, owners: [TS], due: \"{due}\"}}\n"
                   if a["form"] == "date" else f"  - {{id: {a['id']}, title: Action {a['id']}, owners: [TS], due: {due}}}\n")
    return "".join(out)


def _anchor(action: dict[str, Any], meetings: list[dict[str, Any]]) -> str | None:
    """The meeting an action's deadline hangs on, by the rules of the README (an independent reading)."""
    if action["form"] == "meeting":
        return str(action["ref"])
    if action["form"] == "next":
        ref = next(m for m in meetings if m["id"] == action["ref"])
        later = [m for m in meetings if m["kind"] == action["kind"] and m["status"] != "cancelled"
                 and m["start"] > ref["start"]]
        return str(min(later, key=lambda m: (m["start"], m["id"]))["id"]) if later else None
    return None


def _expected_due(action: dict[str, Any], meetings: list[dict[str, Any]]) -> str | None:
    if action["form"] == "date":
        return _day(action["day"])
    anchor = _anchor(action, meetings)
    if anchor is None:
        return None  # no cadence rule here: the next meeting of a kind nobody scheduled has no deadline
    return _day(next(m for m in meetings if m["id"] == anchor)["start"] + action["offset"])


@SLOW
@given(meeting_plans())
def test_moving_a_meeting_moves_exactly_its_anchored_deadlines(
        plan: tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]) -> None:
    meetings, actions, moved, delta = plan
    after = [dict(m, start=m["start"] + delta) if i == moved else m for i, m in enumerate(meetings)]
    mid = meetings[moved]["id"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "p", _meeting_text(meetings, actions))
        assert run_cli(folder, "sync", "-q").code == 0
        before_rows = {r["action"]: r["due"] for r in _json(folder, "list")}
        (folder / "actions.yaml").write_text(_meeting_text(after, actions), encoding="utf-8")
        assert run_cli(folder, "sync", "-q").code == 0
        after_rows = {r["action"]: r["due"] for r in _json(folder, "list")}
    for a in actions:
        assert before_rows[a["id"]] == _expected_due(a, meetings), (a, meetings)
        assert after_rows[a["id"]] == _expected_due(a, after), (a, after)
        # "the next virtual meeting after m1" hangs on m1 too: moving m1 may change which one is next
        anchored = mid in (_anchor(a, meetings), _anchor(a, after)) or (a["form"] == "next" and a["ref"] == mid)
        if not anchored:
            assert after_rows[a["id"]] == before_rows[a["id"]], (a, "moved without being anchored to", mid)
        elif _anchor(a, meetings) == _anchor(a, after) == mid:
            shift = date.fromisoformat(after_rows[a["id"]]) - date.fromisoformat(before_rows[a["id"]])
            assert shift.days == delta, (a, delta)
