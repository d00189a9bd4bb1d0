"""`workplan digest --send`: a real SMTP server on loopback, exactly once per recipient and week,
and every way the server can fail (issue 5, and the SMTP faults of issue 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from mailserver import Delivered, Recorder, free_port, silent_server, smtp_server
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import MINIMAL, Result, Runner, database_url, run_cli, scalar, write_project
from workplan.db import make_engine
from workplan.models import DigestSend

AS_OF = "2019-01-15"
SmtpEnv = Callable[[int], None]


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> SmtpEnv:
    """Point the settings at a server on loopback, with short timeouts and delays."""
    monkeypatch.delenv("WORKPLAN_SMTP_PASSWORD", raising=False)

    def point(port: int) -> None:
        for key, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TIMEOUT", "1"), ("ATTEMPTS", "2"),
                           ("RETRY_DELAY", "0.05"), ("SECURITY", "none")):
            monkeypatch.setenv(f"WORKPLAN_SMTP_{key}", value)

    return point


def recipients_of(folder: Path) -> dict[str, list[str]]:
    doc = yaml.safe_load((folder / "actions.yaml").read_text(encoding="utf-8"))
    return {p["id"]: list(p.get("email") or []) for p in doc["parties"]
            if p.get("email") or p.get("kind") == "secretariat"}


def party_of(d: Delivered, recipients: dict[str, list[str]]) -> str:
    to = sorted(a.addr_spec for a in d.message["To"].addresses)
    found = [pid for pid, emails in recipients.items() if sorted(emails) == to]
    assert len(found) == 1, (to, found)
    return found[0]


def no_traceback(*results: Result) -> None:
    for r in results:
        assert "Traceback" not in r.out + r.err


def send(folder: Path, *extra: str, as_of: str = AS_OF) -> Result:
    return run_cli(folder, "digest", "--all", "--send", "--as-of", as_of, *extra)


def status(folder: Path, as_of: str = AS_OF) -> dict[str, dict[str, object]]:
    result = run_cli(folder, "digest", "--status", "--as-of", as_of, "--format", "json")
    assert result.code == 0, result.err
    return {x["party"]: x for x in result.json()}


# ---------------------------------------------------------------------------
# the shipped workplan, the happy path


def test_all_send_once_per_recipient_then_nothing(project: Path, wp: Runner, smtp_env: SmtpEnv) -> None:
    expected = recipients_of(project)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        first = wp("digest", "--all", "--send", "--as-of", AS_OF)
        assert first.code == 0, first.err
        assert f"2019-W03: {len(expected)} sent" in first.out
        delivered = list(recorder.delivered)
        assert len(delivered) == len(expected)
        by_party = Counter(party_of(d, expected) for d in delivered)
        assert by_party == Counter({pid: 1 for pid in expected})
        for d in delivered:
            msg = d.message
            pid = party_of(d, expected)
            assert msg.get_content_type() == "multipart/alternative"
            assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
            assert sorted(d.rcpt_tos) == sorted(expected[pid])  # the envelope agrees with To
            assert f"] {pid}" in msg["Subject"] and msg["Message-ID"].endswith("@rcm.example.org>")
            assert msg["Date"] and msg["From"]
        # again: nothing is delivered, and the run says why
        again = wp("digest", "--all", "--send", "--as-of", AS_OF)
        assert again.code == 0, again.err
        assert len(recorder.delivered) == len(expected)
        assert f"nothing sent: the {len(expected)} digests for 2019-W03 were already sent" in again.out
        assert "CR: skipped: already sent for 2019-W03" in again.out
    log = status(project)
    assert {pid: x["status"] for pid, x in log.items()} == {pid: "sent" for pid in expected}
    assert log["CR"]["to"] == expected["CR"] and log["CR"]["attempts"] == 1
    no_traceback(first, again)


def test_a_week_later_is_another_period(tmp_path: Path, smtp_env: SmtpEnv, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        assert send(folder, as_of="2020-04-13").code == 0  # Monday of 2020-W16
        assert send(folder, as_of="2020-04-19").code == 0  # its Sunday: same week, nothing
        assert len(recorder.delivered) == 3
        assert send(folder, as_of="2020-04-20").code == 0  # next Monday: a new week
        assert len(recorder.delivered) == 6
    assert scalar(database_url(folder), "select count(*) from digest_send where status = 'sent'") == 6


# ---------------------------------------------------------------------------
# the server stops or misbehaves part-way: nothing lost, nothing sent twice


def test_server_stopped_part_way(project: Path, wp: Runner, smtp_env: SmtpEnv) -> None:
    expected = recipients_of(project)
    first_server = Recorder(accept=5, after_accept="drop-at-mail")
    with smtp_server(first_server) as port:
        smtp_env(port)
        first = wp("digest", "--all", "--send", "--as-of", AS_OF)
    assert first.code == 1
    assert len(first_server.delivered) == 5
    assert f"of {len(expected)} digests for 2019-W03 were not sent" in first.err
    assert "closed the connection" in first.err and "the next run sends it" in first.err
    # the server is gone altogether: nothing is sent, nothing is lost
    gone = wp("digest", "--all", "--send", "--as-of", AS_OF)
    assert gone.code == 1 and f"the SMTP server at 127.0.0.1:{port} refused the connection" in gone.err
    # it is back: the rest go out, and only the rest
    second_server = Recorder()
    with smtp_server(second_server, port):
        back = wp("digest", "--all", "--send", "--as-of", AS_OF)
    assert back.code == 0, back.err
    firsts = {party_of(d, expected) for d in first_server.delivered}
    seconds = Counter(party_of(d, expected) for d in second_server.delivered)
    assert not firsts & set(seconds) and max(seconds.values()) == 1
    assert firsts | set(seconds) == set(expected)
    assert {x["status"] for x in status(project).values()} == {"sent"}
    no_traceback(first, gone, back)


FAULTS = {
    "451": ("451 4.3.0 Try again later", 1),
    "drop-at-mail": ("closed the connection", 1),
    "refused": ("refused the connection", 0),
    "silent": ("did not answer within 1 s", 0),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_smtp_fault_mid_batch_loses_and_duplicates_nothing(tmp_path: Path, smtp_env: SmtpEnv, db_backend: str,
                                                           fault: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    expected = recipients_of(folder)
    sentence, accepted = FAULTS[fault]
    recorder = Recorder(accept=1, after_accept=fault)
    if fault == "refused":
        smtp_env(free_port())
        result = send(folder, as_of="2020-04-15")
    elif fault == "silent":
        with silent_server() as port:
            smtp_env(port)
            started = time.monotonic()
            result = send(folder, as_of="2020-04-15")
            # two attempts of one second for the first digest; the others are not waited on
            assert time.monotonic() - started < 8
    else:
        with smtp_server(recorder) as port:
            smtp_env(port)
            result = send(folder, as_of="2020-04-15")
    assert result.code == 1
    assert sentence in result.err and "the next run sends it" in result.err
    assert len(result.err.strip().splitlines()) == 1  # one sentence
    assert len(recorder.delivered) == accepted
    log = status(folder, "2020-04-15")
    assert [x["status"] for x in log.values()].count("sent") == accepted
    assert [x["status"] for x in log.values()].count("failed") == 1
    # a good server: the rest, once each
    good = Recorder()
    with smtp_server(good) as port:
        smtp_env(port)
        again = send(folder, as_of="2020-04-15")
        assert again.code == 0, again.err
        assert send(folder, as_of="2020-04-15").code == 0
    everyone = Counter(party_of(d, expected) for d in recorder.delivered + good.delivered)
    assert everyone == Counter({pid: 1 for pid in expected})
    no_traceback(result, again)


@pytest.mark.parametrize("fault", ["drop-after-data", "slow-after-data"])
def test_lost_answer_after_the_message_is_flagged_not_resent(tmp_path: Path, smtp_env: SmtpEnv, db_backend: str,
                                                             fault: str) -> None:
    """The whole message was handed over and no answer came: it may have been delivered (here it
    was). It is never sent again by itself; --status asks for a decision, --mark-sent records it."""
    folder = write_project(tmp_path / "p", MINIMAL)
    expected = recipients_of(folder)
    recorder = Recorder(accept=1, after_accept=fault)
    with smtp_server(recorder) as port:
        smtp_env(port)
        first = send(folder, as_of="2020-04-15")
    assert first.code == 1
    assert "may have been delivered" in first.out
    assert "CR: UNCONFIRMED" in first.out and "PA: NOT ATTEMPTED" in first.out
    assert len(recorder.delivered) == 2  # TS, and CR's that the server kept
    log = status(folder, "2020-04-15")
    assert log["CR"]["status"] == "unconfirmed" and log["CR"]["decision_needed"] is True
    table = run_cli(folder, "digest", "--status", "--as-of", "2020-04-15")
    assert "NEEDS A DECISION" in table.out and "--mark-sent" in table.out
    good = Recorder()
    with smtp_server(good) as port:
        smtp_env(port)
        second = send(folder, as_of="2020-04-15")
        assert second.code == 1  # PA went out; CR still waits on a person
        assert [party_of(d, expected) for d in good.delivered] == ["PA"]
        assert "CR: UNCONFIRMED" in second.out and "--resend-stale" in second.out
        marked = run_cli(folder, "digest", "--party", "CR", "--mark-sent", "--as-of", "2020-04-15")
        assert marked.code == 0 and "marked as sent for 2020-W16: CR" in marked.out
        third = send(folder, as_of="2020-04-15")
        assert third.code == 0 and "nothing sent" in third.out
    everyone = Counter(party_of(d, expected) for d in recorder.delivered + good.delivered)
    assert everyone == Counter({pid: 1 for pid in expected})
    no_traceback(first, second, third)


def test_killed_between_sending_and_recording_is_stale(tmp_path: Path, smtp_env: SmtpEnv, db_backend: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 while the server holds the message: the entry stays `sending`; once stale it is
    reported as needing a decision and never resent, until a person says so."""
    folder = write_project(tmp_path / "p", MINIMAL)
    expected = recipients_of(folder)
    recorder = Recorder(accept=1, after_accept="hang")
    with smtp_server(recorder) as port:
        smtp_env(port)
        monkeypatch.setenv("WORKPLAN_SMTP_TIMEOUT", "30")  # the process must still be waiting when killed
        proc = subprocess.Popen([sys.executable, "-m", "workplan.cli", "digest", "--all", "--send", "--as-of",
                                 "2020-04-15"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while len(recorder.delivered) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(recorder.delivered) == 2
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    smtp_env(port)
    url = database_url(folder)
    assert scalar(url, "select status from digest_send where party_id = 'CR'") == "sending"
    assert status(folder, "2020-04-15")["CR"]["status"] == "sending"  # a run may still be at it
    # an hour later, nobody is: the crash is reported, and CR is not sent again by itself
    engine = make_engine(url)
    with Session(engine) as session:
        row = session.scalars(select(DigestSend).where(DigestSend.party_id == "CR")).one()
        row.started_at -= timedelta(hours=1)
        session.commit()
    engine.dispose()
    log = status(folder, "2020-04-15")
    assert log["CR"]["status"] == "unconfirmed" and log["CR"]["decision_needed"] is True
    good = Recorder()
    with smtp_server(good) as port:
        smtp_env(port)
        after = send(folder, as_of="2020-04-15")
        assert after.code == 1 and "CR: UNCONFIRMED" in after.out
        assert [party_of(d, expected) for d in good.delivered] == ["PA"]
        # the person decided it did not arrive
        resent = run_cli(folder, "digest", "--party", "CR", "--send", "--resend-stale", "--as-of", "2020-04-15")
        assert resent.code == 0, resent.err
        assert [party_of(d, expected) for d in good.delivered] == ["PA", "CR"]
    assert {x["status"] for x in status(folder, "2020-04-15").values()} == {"sent"}


# ---------------------------------------------------------------------------
# headers and credentials


def test_sender_with_a_line_break_is_refused(tmp_path: Path, smtp_env: SmtpEnv,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        monkeypatch.setenv("WORKPLAN_SMTP_FROM", "ts@example.org\r\nBcc: everyone@example.org")
        result = send(folder, as_of="2020-04-15")
        assert result.code == 2
        assert "smtp.from contains a line break" in result.err
        assert recorder.delivered == []
        monkeypatch.setenv("WORKPLAN_SMTP_FROM", "RCM Secretariat <ts@example.org>")
        assert send(folder, as_of="2020-04-15").code == 0
    assert len(recorder.delivered) == 3
    assert all(d.mail_from == "ts@example.org" for d in recorder.delivered)
    assert str(recorder.delivered[0].message["From"]) == "RCM Secretariat <ts@example.org>"


def test_login_needs_the_password_from_the_environment(tmp_path: Path, smtp_env: SmtpEnv,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    smtp_env(free_port())
    monkeypatch.setenv("WORKPLAN_SMTP_USER", "ts")
    result = send(folder, as_of="2020-04-15")
    assert result.code == 2 and "WORKPLAN_SMTP_PASSWORD is empty" in result.err
    (folder / "workplan.toml").write_text('[smtp]\npassword = "x"\n', encoding="utf-8")
    result = send(folder, as_of="2020-04-15")
    assert result.code == 2 and "read only from WORKPLAN_SMTP_PASSWORD" in result.err


def test_two_senders_at_once_send_each_digest_once(project: Path, wp: Runner, smtp_env: SmtpEnv) -> None:
    """Two schedulers, or a scheduler and a person, sending the same week at the same moment."""
    expected = recipients_of(project)
    assert wp("sync").code == 0
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        procs = [subprocess.Popen([sys.executable, "-m", "workplan.cli", "digest", "--all", "--send", "--as-of",
                                   AS_OF], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert Counter(party_of(d, expected) for d in recorder.delivered) == Counter({pid: 1 for pid in expected})
    sent_lines = sum(out.count(": sent: to ") for out, _ in outputs)
    assert sent_lines == len(expected)
    assert all("Traceback" not in out + err for out, err in outputs)


def test_a_refused_recipient_does_not_hold_up_the_others(tmp_path: Path, smtp_env: SmtpEnv, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    recorder = Recorder(reject={"cr@example.org"})
    with smtp_server(recorder) as port:
        smtp_env(port)
        result = send(folder, as_of="2020-04-15")
    assert result.code == 1
    assert "CR: FAILED: the server refused every recipient (550 5.1.1 No such mailbox here) (after 1 attempt)" \
        in result.out
    assert "1 of 3 digests for 2020-W16 was not sent (CR)" in result.err
    assert sorted(d.rcpt_tos[0] for d in recorder.delivered) == ["pa@example.org", "ts@example.org"]
    assert status(folder, "2020-04-15")["CR"]["status"] == "failed"


def test_an_address_that_would_inject_a_header_is_never_sent_to(tmp_path: Path, smtp_env: SmtpEnv,
                                                                 db_backend: str) -> None:
    """`check` refuses such an address in the actions file; this one is written into the database
    behind its back, and the sender still refuses it, while the others go out."""
    from workplan.models import Party

    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    engine = make_engine(database_url(folder))
    with Session(engine) as session:
        party = session.get(Party, "CR")
        assert party is not None
        party.emails = ["cr@example.org\r\nBcc: everyone@example.org"]
        session.commit()
    engine.dispose()
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        result = send(folder, as_of="2020-04-15")
    assert result.code == 1
    assert "CR: FAILED: party CR: 'cr@example.org\\r\\nBcc: everyone@example.org' is not an email address" in result.out
    assert sorted(d.rcpt_tos[0] for d in recorder.delivered) == ["pa@example.org", "ts@example.org"]
    assert all(b"everyone@example.org" not in d.data for d in recorder.delivered)
