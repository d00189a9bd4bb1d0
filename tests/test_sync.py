"""Sync: one transaction, idempotent, withdrawals keep history, recorded facts imported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, database_url, dump_database, new_postgres_url, run_cli, scalar, write_project

pytestmark = pytest.mark.usefixtures("db_backend")


def _count(url: str, sql: str) -> int:
    return int(scalar(url, sql))


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
