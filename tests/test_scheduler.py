"""`workplan scheduler`: the weekly digest fires once, even across a process killed before its
fire time and restarted after it (issue 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mailserver import Recorder, smtp_server
from test_mail import SmtpEnv, party_of, recipients_of, smtp_env  # noqa: F401  (the fixture)

from conftest import Runner, database_url, scalar
from workplan.errors import ConfigError
from workplan.scheduler import parse_schedule

PANAMA = ZoneInfo("America/Panama")


def _start(folder: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "workplan.cli", "scheduler"], cwd=folder,
                                stdout=subprocess.DEVNULL, stderr=err)


def _wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_killed_before_fire_time_and_restarted_after_sends_exactly_once(
        project: Path, wp: Runner, smtp_env: SmtpEnv, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        tmp_path: Path) -> None:
    expected = recipients_of(project)
    assert wp("sync").code == 0
    recorder = Recorder()
    log = tmp_path / "scheduler.log"
    with smtp_server(recorder) as port:
        smtp_env(port)
        fire = (datetime.now(PANAMA) + timedelta(seconds=12)).replace(microsecond=0)
        monkeypatch.setenv("WORKPLAN_DIGEST_SCHEDULE", fire.strftime("%a %H:%M:%S"))
        first = _start(project, log)
        try:
            assert _wait_for(lambda: "scheduler started" in log.read_text(), 10), log.read_text()
            assert datetime.now(PANAMA) < fire - timedelta(seconds=1), "started too slowly to test a kill before"
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        assert recorder.delivered == []
        while datetime.now(PANAMA) < fire + timedelta(seconds=2):  # the fire time passes with no scheduler
            time.sleep(0.2)
        assert recorder.delivered == []
        second = _start(project, log)
        try:
            assert _wait_for(lambda: len(recorder.delivered) >= len(expected), 40), log.read_text()
            time.sleep(2)  # and nothing more comes
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        # a third start, well after: the week's digest was made up for once, and is not again
        third = _start(project, log)
        try:
            assert _wait_for(lambda: log.read_text().count("scheduler started") == 3, 15)
            time.sleep(2)
        finally:
            third.send_signal(signal.SIGTERM)
            assert third.wait(timeout=30) == 0
    assert Counter(party_of(d, expected) for d in recorder.delivered) == Counter({pid: 1 for pid in expected})
    assert scalar(database_url(project), "select count(*) from digest_send where status = 'sent'") == len(expected)
    assert scalar(database_url(project), "select count(*) from apscheduler_jobs") == 2
    text = log.read_text()
    assert "Traceback" not in text
    assert "calendars:" in text and (project / "calendars" / "all.ics").is_file()


@pytest.mark.parametrize(("text", "fields"), [
    ("mon 08:00", {"day_of_week": "mon", "hour": "8", "minute": "0", "second": "0"}),
    ("Monday 08:00:30", {"day_of_week": "mon", "hour": "8", "minute": "0", "second": "30"}),
    ("mon,thu 17:45", {"day_of_week": "mon,thu", "hour": "17", "minute": "45"}),
    ("daily 07:00", {"day_of_week": "*", "hour": "7"}),
    ("0 8 * * mon", {"day_of_week": "mon", "hour": "8", "minute": "0"}),
])
def test_schedule_forms(text: str, fields: dict[str, str]) -> None:
    trigger = parse_schedule(text, PANAMA)
    got = {f.name: str(f) for f in trigger.fields}
    for name, value in fields.items():
        assert got[name] == value, (name, got)
    assert str(trigger.timezone) == "America/Panama"
    # the next Monday 08:00 in Panama is 13:00 UTC
    if text == "mon 08:00":
        after = datetime(2019, 1, 15, 12, tzinfo=PANAMA)
        assert trigger.get_next_fire_time(None, after) == datetime(2019, 1, 21, 8, tzinfo=PANAMA)


@pytest.mark.parametrize("text", ["mon", "someday 08:00", "mon 25:00", "mon 8h", "* * * *", "0 99 * * mon"])
def test_bad_schedule_is_one_sentence(text: str) -> None:
    with pytest.raises(ConfigError, match="digest.schedule"):
        parse_schedule(text, PANAMA)


def test_bad_schedule_stops_the_command(project: Path, wp: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKPLAN_DIGEST_SCHEDULE", "every monday")
    result = wp("scheduler")
    assert result.code == 2
    assert "digest.schedule 'every monday' is not understood" in result.err and "Traceback" not in result.err


def test_start_background_installs_the_two_jobs_once(project: Path, wp: Runner) -> None:
    """What `workplan serve` calls: fixed ids, so starting twice replaces rather than adds."""
    from workplan.project import Project as App
    from workplan.scheduler import CALENDARS_JOB, DIGEST_JOB, MISFIRE_GRACE_SECONDS, start_background

    assert wp("sync").code == 0
    for _ in range(2):
        app = App(project, config=None, db=None, file=None, debug=False)
        scheduler = start_background(app)
        try:
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert set(jobs) == {DIGEST_JOB, CALENDARS_JOB}
            digest = jobs[DIGEST_JOB]
            assert digest.coalesce is True and digest.misfire_grace_time == MISFIRE_GRACE_SECONDS
            assert digest.func_ref == "workplan.scheduler:send_weekly_digests"
            assert digest.next_run_time.weekday() == 0 and digest.next_run_time.strftime("%H:%M") == "08:00"
            assert str(digest.next_run_time.tzinfo) == "America/Panama"
        finally:
            scheduler.shutdown(wait=True)
            app.close()
    assert scalar(database_url(project), "select count(*) from apscheduler_jobs") == 2


def test_calendars_job_rebuilds_only_when_the_data_changed(project: Path, wp: Runner) -> None:
    from workplan.scheduler import rebuild_calendars

    assert wp("sync").code == 0
    args: dict[str, str | None] = {"cwd": str(project), "config": None, "db": None, "file": None}
    rebuild_calendars(args)
    feed = project / "calendars" / "BZ.ics"
    before = feed.read_bytes()
    stamp = feed.stat().st_mtime_ns
    rebuild_calendars(args)  # nothing changed: the feed is left alone
    assert feed.stat().st_mtime_ns == stamp
    assert wp("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-16").code == 0
    rebuild_calendars(args)
    after = feed.read_bytes()
    assert after != before and b"Done: Send the updated statistical information matrix" in after.replace(b"\r\n ", b"")


def test_calendars_job_writes_what_workplan_calendars_writes(project: Path, wp: Runner) -> None:
    """Each party's feed in its language (CR reads Spanish, US English), as the command does."""
    from workplan.scheduler import rebuild_calendars

    assert wp("sync").code == 0
    rebuild_calendars({"cwd": str(project), "config": None, "db": None, "file": None})
    assert wp("calendars", "--out", "by-command").code == 0
    built = {p.name: p.read_bytes() for p in (project / "calendars").glob("*.ics")}
    expected = {p.name: p.read_bytes() for p in (project / "by-command").glob("*.ics")}
    assert sorted(built) == sorted(expected) and "CR.ics" in built
    assert [name for name in built if built[name] != expected[name]] == []
    assert b"Vence" in built["CR.ics"] or b"vence" in built["CR.ics"]


def test_serve_runs_the_scheduler_unless_told_not_to(
        project: Path, wp: Runner, smtp_env: SmtpEnv, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        tmp_path: Path) -> None:
    """`workplan serve` sends the weekly digest itself; a `--no-scheduler` replica beside it does not,
    and between them each recipient still gets exactly one."""
    import socket

    expected = recipients_of(project)
    assert wp("sync").code == 0
    recorder = Recorder()
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]

    def serve(log: Path, *extra: str) -> subprocess.Popen[bytes]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with log.open("ab") as err:
            return subprocess.Popen([sys.executable, "-m", "workplan.cli", "serve", "--port", str(port), *extra],
                                    cwd=project, stdout=subprocess.DEVNULL, stderr=err)

    with smtp_server(recorder) as port:
        smtp_env(port)
        fire = (datetime.now(PANAMA) + timedelta(seconds=10)).replace(microsecond=0)
        monkeypatch.setenv("WORKPLAN_DIGEST_SCHEDULE", fire.strftime("%a %H:%M:%S"))
        procs = [serve(logs[0]), serve(logs[1], "--no-scheduler")]
        try:
            assert _wait_for(lambda: all("serving" in log.read_text() for log in logs), 30)
            assert "with the scheduler" in logs[0].read_text()
            assert "no scheduler" in logs[1].read_text()
            assert _wait_for(lambda: len(recorder.delivered) >= len(expected), 60), logs[0].read_text()
            time.sleep(2)  # and nothing more comes
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert proc.wait(timeout=30) == 0
    assert Counter(party_of(d, expected) for d in recorder.delivered) == Counter({pid: 1 for pid in expected})
    for log in logs:
        assert "Traceback" not in log.read_text()


def test_a_changed_schedule_still_makes_up_a_missed_fire_time(project: Path, wp: Runner,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Down at Monday 08:00, `digest.schedule` changed to Friday before the restart: Monday's digest
    is still sent on start (SPEC: no missed weekly digest across restarts); a fire time still to
    come follows the new schedule."""
    import asyncio

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from workplan.project import Project as App
    from workplan.scheduler import DIGEST_JOB, _install_jobs

    assert wp("sync").code == 0

    def installed(schedule: str, next_run: datetime | None = None) -> datetime:
        monkeypatch.setenv("WORKPLAN_DIGEST_SCHEDULE", schedule)
        app = App(project, config=None, db=None, file=None, debug=False)
        # a real scheduler and job store, on an event loop that never runs: no job is processed
        # (a stopped background scheduler processes due jobs once, which would move the time)
        loop = asyncio.new_event_loop()
        scheduler = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(engine=app.engine)}, timezone=PANAMA,
                                     event_loop=loop)
        scheduler.start(paused=True)
        try:
            _install_jobs(scheduler, app, PANAMA)
            if next_run is not None:
                scheduler.modify_job(DIGEST_JOB, next_run_time=next_run)
            when = scheduler.get_job(DIGEST_JOB).next_run_time
            assert when is not None
            return when  # type: ignore[no-any-return]
        finally:
            scheduler.shutdown(wait=False)
            loop.close()
            app.close()

    missed = (datetime.now(PANAMA) - timedelta(hours=1)).replace(microsecond=0)
    installed("mon 08:00", next_run=missed)  # the stored job was due an hour ago; nobody ran it
    assert installed("fri 17:00") == missed  # made up for on start, despite the new schedule
    soon = (datetime.now(PANAMA) + timedelta(days=1)).replace(microsecond=0)
    installed("mon 08:00", next_run=soon)
    friday = installed("fri 17:00")
    assert friday != soon and friday.weekday() == 4 and friday.strftime("%H:%M") == "17:00"
