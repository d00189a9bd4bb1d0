"""Status changes: transitions, --party for fanned-out actions, notes, --as-of from the log.

A change while another process holds the lock past the busy timeout is one sentence, exit 1,
nothing half-written (issue 8). History cannot be corrupted (issue 18): a change dated in the
future, before the action's source meeting, or before the assignment's latest event is refused
with exit 2, one sentence and nothing written, from the command line and from the facts a sync
imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import MINIMAL, Runner, database_url, dump_database, run_cli, scalar, write_project
from workplan.db import describe
from workplan.errors import HistoryError
from workplan.planning import CLOCK_SKEW, LatestEvent, status_moment


@pytest.mark.usefixtures("db_backend")
def test_fanned_out_action_needs_party(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    result = run_cli(folder, "done", "a1")
    assert result.code == 2
    assert result.err == "workplan: a1 has 2 owners (CR, PA); say which with --party\n"


@pytest.mark.usefixtures("db_backend")
def test_single_owner_needs_no_party(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "start", "a2").code == 0
    rows = run_cli(folder, "list", "--owner", "TS", "--format", "json").json()
    assert rows[0]["status"] == "in_progress"


@pytest.mark.usefixtures("db_backend")
def test_waive_requires_note_and_keeps_it(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    refused = run_cli(folder, "waive", "a1", "--party", "PA")
    assert refused.code == 2 and "--note" in refused.err
    ok = run_cli(folder, "waive", "a1", "--party", "PA", "--note", "no data collected in 2020")
    assert ok.code == 0, ok.err
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert log[-1]["to"] == "waived" and log[-1]["note"] == "no data collected in 2020"


@pytest.mark.usefixtures("db_backend")
def test_invalid_transitions_are_refused(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "done", "a1", "--party", "CR").code == 0
    again = run_cli(folder, "done", "a1", "--party", "CR")
    assert again.code == 2 and "a1 is already done for CR" in again.err
    start = run_cli(folder, "start", "a1", "--party", "CR")
    assert start.code == 2 and "cannot mark a1 in progress: CR is done" in start.err
    assert run_cli(folder, "reopen", "a1", "--party", "CR").code == 0


@pytest.mark.usefixtures("db_backend")
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


@pytest.mark.usefixtures("db_backend")
def test_party_set_changes_every_member(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "cancel", "a1", "--party", "members", "--note", "superseded")
    assert result.code == 0
    assert result.out.splitlines() == ["a1 CR: open → cancelled", "a1 PA: open → cancelled"]


@pytest.mark.usefixtures("db_backend")
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


@pytest.mark.usefixtures("db_backend")
def test_upcoming_window(wp: Runner) -> None:
    rows = wp("upcoming", "--as-of", "2018-12-20", "--days", "14", "--format", "json").json()
    assert {r["action"] for r in rows} >= {"statistics-matrix-2018", "workplan-v2-discussion"}
    assert all("2018-12-20" <= r["due"] <= "2019-01-03" for r in rows)
    assert all(r["status"] not in ("done", "waived", "cancelled") for r in rows)


# another process takes the write lock (SQLite) or locks every assignment row (PostgreSQL),
# says so, and keeps it until its standard input closes: a laptop asleep mid-command
HOLDER = textwrap.dedent("""
    import sys
    import sqlalchemy
    url = sys.argv[1]
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sqlalchemy.text("SELECT id FROM assignment FOR UPDATE")).all()
        print("holding", flush=True)
        sys.stdin.read()
""")


@pytest.mark.usefixtures("db_backend")
def test_done_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync", "-q").code == 0
    url = database_url(folder)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "workplan.cli", "done", "a1", "--party", "CR"], cwd=folder,
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ, "WORKPLAN_DATABASE_BUSY_TIMEOUT": "1"})
        waited = time.monotonic() - started
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert result.returncode == 1, result
    assert result.stderr == f"workplan: the database {describe(url)} is busy (locked by another process); try again\n"
    assert result.stdout == ""
    assert 1 <= waited < 20  # it waited for the timeout, then gave up instead of hanging
    assert scalar(url, "select count(*) from event") == 0
    assert scalar(url, "select status from assignment where action_id = 'a1' and party_id = 'CR'") == "open"
    again = run_cli(folder, "done", "a1", "--party", "CR")
    assert again.code == 0, again
    assert scalar(url, "select count(*) from event") == 1


def test_database_gone_in_the_middle_of_a_status_change(tmp_path: Path) -> None:
    """The server drops the connection of a `done` waiting on a row lock (as a restart or a
    failover would): one sentence, exit 1, nothing written."""
    import sqlalchemy

    from conftest import _postgres_base, new_postgres_url

    if _postgres_base() is None:
        pytest.skip("PostgreSQL not reachable; set WORKPLAN_TEST_POSTGRESQL_URL")
    url = new_postgres_url()
    folder = write_project(tmp_path / "p", MINIMAL)
    (folder / "workplan.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    assert run_cli(folder, "sync", "-q").code == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    admin = sqlalchemy.create_engine(url)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        change = subprocess.Popen([sys.executable, "-m", "workplan.cli", "done", "a1", "--party", "CR"], cwd=folder,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "WORKPLAN_DATABASE_BUSY_TIMEOUT": "60"})
        terminated = 0
        deadline = time.monotonic() + 30
        while not terminated and time.monotonic() < deadline:
            time.sleep(0.2)
            with admin.begin() as conn:
                terminated = len(conn.execute(sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).all())
        out, err = change.communicate(timeout=60)
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
        admin.dispose()
    assert terminated == 1
    assert change.returncode == 1, (out, err)
    assert err.startswith(f"workplan: cannot reach the database {describe(url)}") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    assert scalar(url, "select count(*) from event") == 0
    assert scalar(url, "select status from assignment where action_id = 'a1' and party_id = 'CR'") == "open"


TZ = ZoneInfo("America/Panama")


def _synced(tmp_path: Path, text: str = MINIMAL) -> Path:
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "sync", "-q")
    assert result.code == 0, result.err
    return folder


def _refused(folder: Path, *args: str) -> str:
    """Run a command that must be refused; return its one sentence, checking nothing was written."""
    url = database_url(folder)
    before = dump_database(url)
    result = run_cli(folder, *args)
    assert result.code == 2, (args, result)
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("workplan: "), result.err
    assert dump_database(url) == before
    return result.err


def _statuses(folder: Path, action: str) -> dict[str, str]:
    shown = run_cli(folder, "show", action, "--format", "json")
    assert shown.code == 0, shown.err
    return {a["party"]: a["status"] for a in shown.json()["assignments"]}


# ---------------------------------------------------------------------------
# the command line


@pytest.mark.usefixtures("db_backend")
def test_the_issue_done_in_2099_is_refused_and_the_true_date_still_goes_in(tmp_path: Path) -> None:
    folder = _synced(tmp_path)
    err = _refused(folder, "done", "a1", "--party", "CR", "--on", "2099-01-01")
    assert err == ("workplan: a1 for CR: 2099-01-01 is in the future; a status change is dated "
                   "when it happened\n")
    assert _statuses(folder, "a1")["CR"] == "open"
    # the true date is not refused as "already done", and a reopen comes from the real state
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-15").code == 0
    assert _statuses(folder, "a1")["CR"] == "done"
    assert run_cli(folder, "reopen", "a1", "--party", "CR", "--on", "2020-04-16").code == 0
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert [(e["from"], e["to"]) for e in log] == [("open", "done"), ("done", "open")]


@pytest.mark.usefixtures("db_backend")
def test_a_change_before_the_source_meeting_is_refused(tmp_path: Path) -> None:
    folder = _synced(tmp_path)
    err = _refused(folder, "start", "a1", "--party", "members", "--on", "2020-03-09")
    assert err == ("workplan: a1 for CR: 2020-03-09 is before 2020-03-10, the day its source "
                   "meeting m1 began\n")
    # on the meeting's first day it is allowed (dates are compared as days)
    assert run_cli(folder, "start", "a1", "--party", "CR", "--on", "2020-03-10").code == 0


@pytest.mark.usefixtures("db_backend")
def test_a_change_before_the_latest_event_is_refused_naming_it(tmp_path: Path) -> None:
    folder = _synced(tmp_path)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-30", "--by", "ana").code == 0
    err = _refused(folder, "reopen", "a1", "--party", "CR", "--on", "2020-03-20")
    assert err == ("workplan: a1 for CR: 2020-03-20 is before the assignment's latest event, "
                   "open → done on 2020-03-30 by ana (cli)\n")
    err = _refused(folder, "reopen", "a1", "--party", "CR", "--on", "2020-03-29T23:59")
    assert "2020-03-29 23:59 is before the assignment's latest event" in err
    assert _statuses(folder, "a1")["CR"] == "done"


@pytest.mark.usefixtures("db_backend")
def test_a_date_on_the_day_of_the_latest_event_comes_after_it(tmp_path: Path) -> None:
    """--on DATE is as precise as a day: on the day of the latest event it is not "before" it,
    and it is recorded at that event's moment (after it, in the log's order) rather than at
    midnight, so the status it sets is the one shown."""
    folder = _synced(tmp_path)
    assert run_cli(folder, "start", "a1", "--party", "CR", "--on", "2020-03-30T15:00").code == 0
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-30").code == 0
    assert _statuses(folder, "a1")["CR"] == "done"
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert [(e["to"], e["on"][:16]) for e in log] == [("in_progress", "2020-03-30T15:00"),
                                                        ("done", "2020-03-30T15:00")]
    # a moment given to the minute is exact: one at the same minute is not before it
    assert run_cli(folder, "reopen", "a1", "--party", "CR", "--on", "2020-03-30T15:00").code == 0
    assert _statuses(folder, "a1")["CR"] == "open"


@pytest.mark.usefixtures("db_backend")
def test_a_set_is_refused_whole_when_one_member_is_refused(tmp_path: Path) -> None:
    folder = _synced(tmp_path)
    assert run_cli(folder, "done", "a1", "--party", "PA", "--on", "2020-04-02").code == 0
    assert run_cli(folder, "reopen", "a1", "--party", "PA", "--on", "2020-04-03").code == 0
    err = _refused(folder, "cancel", "a1", "--party", "members", "--on", "2020-04-01", "--note", "x")
    assert "a1 for PA: 2020-04-01 is before the assignment's latest event" in err
    assert _statuses(folder, "a1") == {"CR": "open", "PA": "open"}


@pytest.mark.usefixtures("db_backend")
def test_the_future_is_judged_by_the_one_clock_with_five_minutes_of_skew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """timeutil.now_utc is where workplan reads the wall clock; set it, and every writer follows."""
    folder = _synced(tmp_path)
    frozen = datetime(2020, 4, 1, 12, 0, tzinfo=TZ).astimezone(UTC)
    monkeypatch.setattr("workplan.timeutil.now_utc", lambda: frozen)
    assert timedelta(minutes=5) == CLOCK_SKEW
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-01T12:05").code == 0
    err = _refused(folder, "reopen", "a1", "--party", "CR", "--on", "2020-04-01T12:06")
    assert err == ("workplan: a1 for CR: 2020-04-01 12:06 is in the future; a status change is dated "
                   "when it happened\n")
    # with no --on, now; and never before a latest event that is within the skew ahead of it
    assert run_cli(folder, "done", "a1", "--party", "PA").code == 0
    assert run_cli(folder, "reopen", "a1", "--party", "CR").code == 0
    log = run_cli(folder, "log", "a1", "--as-of", "2020-04-02", "--format", "json").json()
    assert [(e["party"], e["to"], e["on"][:16]) for e in log] == [
        ("PA", "done", "2020-04-01T12:00"), ("CR", "done", "2020-04-01T12:05"), ("CR", "open", "2020-04-01T12:05")]


# ---------------------------------------------------------------------------
# progress facts in actions.yaml


def _with_fact(fact: str) -> str:
    return MINIMAL.replace("    due: 2020-04-01\n", f"    due: 2020-04-01\n    progress:\n      - {fact}\n", 1)


def _fact_line(text: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("      - {party"))


def _on_column(text: str) -> int:
    """The column of the fact's date, where both check and sync point."""
    return text.splitlines()[_fact_line(text) - 1].index(" on: ") + 6


@pytest.mark.usefixtures("db_backend")
@pytest.mark.parametrize(("on", "message"), [
    ("2099-01-01", "action a1: progress of CR: 2099-01-01 is in the future; a status change is dated "
                   "when it happened"),
    ("2020-03-01", "action a1: progress of CR: 2020-03-01 is before 2020-03-10, the day its source "
                   "meeting m1 began"),
])
def test_check_and_sync_refuse_a_fact_in_the_future_or_before_the_meeting(
        tmp_path: Path, on: str, message: str) -> None:
    folder = _synced(tmp_path)
    text = _with_fact(f"{{party: CR, status: done, on: {on}}}")
    (folder / "actions.yaml").write_text(text, encoding="utf-8")
    expected = f"actions.yaml:{_fact_line(text)}:{_on_column(text)}: {message}\n"
    check = run_cli(folder, "check")
    assert (check.code, check.err) == (2, expected)
    url = database_url(folder)
    before = dump_database(url)
    # an explicit sync, and the one a read command makes first: --as-of moves what it shows, never
    # the clock a write is judged by
    for args in (("sync",), ("list",), ("list", "--as-of", "2199-12-31")):
        result = run_cli(folder, *args)
        assert (result.code, result.err, result.out) == (2, expected, "")
    assert dump_database(url) == before


@pytest.mark.usefixtures("db_backend")
def test_sync_refuses_a_fact_before_the_latest_event_and_writes_nothing(tmp_path: Path) -> None:
    folder = _synced(tmp_path)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-01", "--by", "ana").code == 0
    text = _with_fact("{party: CR, status: in_progress, on: 2020-03-20}")
    (folder / "actions.yaml").write_text(text, encoding="utf-8")
    assert run_cli(folder, "check").code == 0  # the file alone is fine: only the database knows
    url = database_url(folder)
    before = dump_database(url)
    result = run_cli(folder, "sync")
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"actions.yaml:{_fact_line(text)}:{_on_column(text)}: action a1: progress of CR: 2020-03-20 "
                          "is before the assignment's latest event, open → done on 2020-04-01 by ana (cli)\n")
    assert dump_database(url) == before
    # the same day as the latest event is not before it
    (folder / "actions.yaml").write_text(
        _with_fact("{party: CR, status: in_progress, on: 2020-04-01}"), encoding="utf-8")
    assert run_cli(folder, "sync", "-q").code == 0
    assert _statuses(folder, "a1")["CR"] == "in_progress"


@pytest.mark.usefixtures("db_backend")
def test_facts_of_one_file_are_imported_in_date_order_whatever_their_order_in_it(tmp_path: Path) -> None:
    text = MINIMAL.replace("    due: 2020-04-01\n", "    due: 2020-04-01\n    progress:\n"
                           "      - {party: CR, status: done, on: 2020-03-25}\n"
                           "      - {party: CR, status: in_progress, on: 2020-03-12}\n", 1)
    folder = _synced(tmp_path, text)
    log = run_cli(folder, "log", "a1", "--format", "json").json()
    assert [(e["from"], e["to"]) for e in log] == [("open", "in_progress"), ("in_progress", "done")]


# ---------------------------------------------------------------------------
# the rule itself (pure)


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_the_clock_skew_allowance_is_the_limit_of_the_future() -> None:
    assert status_moment(NOW + CLOCK_SKEW, day_only=False, now=NOW, tz=TZ, subject=lambda: "x") == NOW + CLOCK_SKEW
    with pytest.raises(HistoryError, match="is in the future"):
        status_moment(NOW + CLOCK_SKEW + timedelta(seconds=1), day_only=False, now=NOW, tz=TZ, subject=lambda: "x")


def test_no_date_means_now_and_never_before_a_latest_event_within_the_skew() -> None:
    latest = LatestEvent(NOW + timedelta(minutes=2), "open", "done", "ana", "cli")
    assert status_moment(None, day_only=False, now=NOW, tz=TZ, subject=lambda: "x") == NOW
    assert status_moment(None, day_only=False, now=NOW, tz=TZ, subject=lambda: "x", latest=latest) == latest.at
    beyond = LatestEvent(NOW + timedelta(days=3), "open", "done", "ana", "cli")
    with pytest.raises(HistoryError, match="before the assignment's latest event"):
        status_moment(None, day_only=False, now=NOW, tz=TZ, subject=lambda: "x", latest=beyond)


@pytest.mark.usefixtures("db_backend")
def test_the_refusal_is_one_sentence_in_spanish_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _synced(tmp_path)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-01", "--by", "ana").code == 0
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    err = _refused(folder, "reopen", "a1", "--party", "CR", "--on", "2020-03-12")
    assert err == ("workplan: a1 para CR: 2020-03-12 es anterior al último evento de la asignación, "
                   "abierta → cumplida el 2020-04-01 por ana (cli)\n")
    err = _refused(folder, "reopen", "a1", "--party", "CR", "--on", "2099-03-12")
    assert err == "workplan: a1 para CR: 2099-03-12 está en el futuro; un cambio de estado lleva la fecha en que ocurrió\n"
