"""Status changes: transitions, --party for fanned-out actions, notes, --as-of from the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, Runner, run_cli, write_project

pytestmark = pytest.mark.usefixtures("db_backend")


def test_fanned_out_action_needs_party(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    result = run_cli(folder, "done", "a1")
    assert result.code == 2
    assert result.err == "workplan: a1 has 2 owners (CR, PA); say which with --party\n"


def test_single_owner_needs_no_party(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "start", "a2").code == 0
    rows = run_cli(folder, "list", "--owner", "TS", "--format", "json").json()
    assert rows[0]["status"] == "in_progress"


def test_waive_requires_note_and_keeps_it(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    refused = run_cli(folder, "waive", "a1", "--party", "PA")
    assert refused.code == 2 and "--note" in refused.err
    ok = run_cli(folder, "waive", "a1", "--party", "PA", "--note", "no data collected in 2020")
    assert ok.code == 0, ok.err
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert log[-1]["to"] == "waived" and log[-1]["note"] == "no data collected in 2020"


def test_invalid_transitions_are_refused(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "done", "a1", "--party", "CR").code == 0
    again = run_cli(folder, "done", "a1", "--party", "CR")
    assert again.code == 2 and "a1 is already done for CR" in again.err
    start = run_cli(folder, "start", "a1", "--party", "CR")
    assert start.code == 2 and "cannot mark a1 in progress: CR is done" in start.err
    assert run_cli(folder, "reopen", "a1", "--party", "CR").code == 0


def test_unknown_names_are_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    result = run_cli(folder, "done", "nope")
    assert (result.code, result.err) == (2, "workplan: there is no action 'nope'\n")
    result = run_cli(folder, "done", "a1", "--party", "MX")
    assert (result.code, result.err) == (2, "workplan: MX is not an owner of a1 (owners: CR, PA)\n")
    result = run_cli(folder, "overdue", "--owner", "XX")
    assert (result.code, result.err) == (2, "workplan: there is no party or set 'XX'\n")
    result = run_cli(folder, "overdue", "--as-of", "2019-02-30")
    assert result.code == 2 and "is not a valid date" in result.err


def test_party_set_changes_every_member(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "cancel", "a1", "--party", "members", "--note", "superseded")
    assert result.code == 0
    assert result.out.splitlines() == ["a1 CR: open → cancelled", "a1 PA: open → cancelled"]


def test_as_of_answers_from_the_event_log(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    run_cli(folder, "start", "a1", "--party", "CR", "--on", "2020-03-15")
    run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-05")

    def status_on(day: str) -> str:
        rows = run_cli(folder, "list", "--owner", "CR", "--as-of", day, "--format", "json").json()
        return str(rows[0]["status"])

    assert status_on("2020-03-14") == "open"
    assert status_on("2020-03-15") == "in_progress"
    assert status_on("2020-04-04") == "in_progress"
    assert status_on("2020-04-05") == "done"
    late = run_cli(folder, "overdue", "--as-of", "2020-04-03", "--format", "json").json()
    assert {(r["party"], r["days_overdue"]) for r in late} == {("CR", 2), ("PA", 2)}
    # the blocked dependant: a2 waits on a1 until both owners closed it
    a2 = run_cli(folder, "show", "a2", "--format", "json", "--as-of", "2020-04-06").json()
    assert a2["blocked_by"] == ["a1"]
    run_cli(folder, "done", "a1", "--party", "PA", "--on", "2020-04-07")
    a2 = run_cli(folder, "show", "a2", "--format", "json", "--as-of", "2020-04-08").json()
    assert a2["blocked_by"] == []
    a2 = run_cli(folder, "show", "a2", "--format", "json", "--as-of", "2020-04-06").json()
    assert a2["blocked_by"] == ["a1"]
    # log --as-of hides what had not happened yet
    log = run_cli(folder, "log", "--as-of", "2020-04-01", "--format", "json").json()
    assert [e["to"] for e in log] == ["in_progress"]


def test_upcoming_window(wp: Runner) -> None:
    rows = wp("upcoming", "--as-of", "2018-12-20", "--days", "14", "--format", "json").json()
    assert {r["action"] for r in rows} >= {"statistics-matrix-2018", "workplan-v2-discussion"}
    assert all("2018-12-20" <= r["due"] <= "2019-01-03" for r in rows)
    assert all(r["status"] not in ("done", "waived", "cancelled") for r in rows)
