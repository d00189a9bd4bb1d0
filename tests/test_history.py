"""History cannot be corrupted (issue 18): a status change dated in the future, before the
action's source meeting, or before the assignment's latest event is refused with exit 2, one
sentence and nothing written, from the command line and from the facts a sync imports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import MINIMAL, database_url, dump_database, run_cli, write_project
from workplan.errors import HistoryError
from workplan.planning import CLOCK_SKEW, LatestEvent, status_moment

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
