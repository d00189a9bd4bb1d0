"""Replies by email (issue 20): `workplan inbox receive`, `fetch` and `list`, with a digest sent
through a real SMTP server (aiosmtpd) for its key and numbers, the confirmations caught by the
same server, and a real Dovecot on loopback for the IMAP mailbox; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapserver import ImapServer, imap_server
from mailserver import Recorder, free_port, smtp_server
from sqlalchemy.orm import Session
from test_reporting import KEY, mailbox, sent_to, session_of, text_of

from conftest import Result, Runner, database_url, dump_database, scalar
from workplan import jobs, reporting
from workplan.cli import main
from workplan.project import Project

__all__ = ["imap_server", "mailbox", "session_of"]  # fixtures, imported to be used here

AS_OF = "2019-01-15"
FOCAL = "focal.cr@example.org"


@pytest.fixture
def digest_key(project: Path, wp: Runner, mailbox: Recorder) -> str:
    """CR's key, from its digest actually sent (CR reads Spanish); the mailbox then emptied."""
    result = wp("digest", "--party", "CR", "--send", "--as-of", AS_OF)
    assert result.code == 0, result.err
    key = KEY.search(text_of(sent_to(mailbox, FOCAL)))
    assert key is not None
    mailbox.delivered.clear()
    return key[1]


def reply(key: str | None, body: str, *, sender: str = FOCAL, message_id: str = "<r1@mail.example.cr>",
          headers: dict[str, str] | None = None, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ana Pérez <{sender}>"
    msg["To"] = f"workplan+{key}@rcm.example.org" if key else "workplan@rcm.example.org"
    msg["Subject"] = "Re: Resumen de estado"
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, subtype="html" if html else "plain")
    return msg.as_bytes()


def receive(project: Path, raw: bytes) -> Result:
    """`workplan inbox receive` with *raw* on standard input, as a mail server pipes it."""
    out, err = io.StringIO(), io.StringIO()
    previous_dir, previous_stdin = Path.cwd(), sys.stdin
    code = 0
    try:
        os.chdir(project)
        sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["inbox", "receive"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
    finally:
        os.chdir(previous_dir)
        sys.stdin = previous_stdin
    return Result(code, out.getvalue(), err.getvalue())


def items(session_of: Callable[[], Session], key: str) -> dict[int, reporting.Numbered]:
    with session_of() as session:
        grant = reporting.resolve(session, key, datetime.now(UTC))
        assert grant is not None
        return reporting.numbered_items(session, grant)


def email_events(wp: Runner) -> list[dict[str, object]]:
    return [e for e in wp("log", "--format", "json").json() if e["origin"] == "email"]


def confirmations(mailbox: Recorder) -> list[EmailMessage]:
    return [d.message for d in mailbox.delivered if d.message["Auto-Submitted"] == "auto-replied"]


def test_a_reply_applies_its_lines_once_and_its_sender_gets_one_confirmation(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, session_of: Callable[[], Session]) -> None:
    numbered = items(session_of, digest_key)
    assert len(numbered) >= 4
    body = ("Buenos días,\n\ndone 1\ncannot 2: no budget\nHecho 3\nhecho tres\ndone 99\n\nSaludos, Ana\n\n"
            "El lun, 14 ene 2019, Workplan escribió:\n> [1] done 4\n")
    result = receive(project, reply(digest_key, body))
    assert result.code == 0, result.err
    assert "partly applied: 3 applied, 2 not applied" in result.out and "confirmation sent to" in result.out
    events = email_events(wp)
    assert sorted((e["action"], e["to"], e["by"]) for e in events) == sorted(
        [(numbered[1].action, "done", FOCAL), (numbered[2].action, "waived", FOCAL),
         (numbered[3].action, "done", FOCAL)])
    assert next(e for e in events if e["to"] == "waived")["note"] == "no budget"
    assert f"{FOCAL} (email)" in wp("log", numbered[1].action).out
    # one confirmation, in CR's language (Spanish), an answer to the reply, never to be answered
    [confirmation] = confirmations(mailbox)
    assert confirmation["To"] == FOCAL and confirmation["In-Reply-To"] == "<r1@mail.example.cr>"
    assert confirmation["References"] == "<r1@mail.example.cr>"
    assert confirmation["Subject"] == "Re: Resumen de estado"
    assert confirmation["From"].addresses[0].addr_spec == "ts@example.org"  # as the digest: the secretariat
    text = text_of(confirmation)
    for number in (1, 2, 3):
        assert f"[{number}] {numbered[number].action}" in text
    assert "“hecho tres”" in text and "“done 99”" in text and "[99]" in text
    assert "[4]" not in text.split("No aplicado")[0] or numbered[4].action not in text  # the quote applies nothing
    assert "Aplicado" in text, text
    # the same message again, through the pipe: recorded already, nothing applied, no second confirmation
    again = receive(project, reply(digest_key, body))
    assert again.code == 0 and "already processed" in again.out, again.out
    assert len(email_events(wp)) == 3 and len(confirmations(mailbox)) == 1
    listed = wp("inbox", "list", "--all", "--format", "json").json()
    assert [(m["status"], m["party"], m["sender"], m["confirmation"]) for m in listed] == [
        ("partly", "CR", FOCAL, "sent")]
    assert [a["number"] for a in listed[0]["applied"]] == [1, 2, 3]
    assert listed[0]["text"] is None  # the text is kept only when held


def test_the_same_message_received_then_fetched_applies_once_and_is_moved(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, session_of: Callable[[], Session],
        imap_server: ImapServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _imap_settings(monkeypatch, imap_server)
    raw = reply(digest_key, "done 1\n", message_id="<both@mail.example.cr>")
    assert receive(project, raw).code == 0
    imap_server.append(raw)
    imap_server.append(reply(digest_key, "started 2\n", message_id="<second@mail.example.cr>"))
    fetched = wp("inbox", "fetch")
    assert fetched.code == 0, fetched.err
    assert "already processed" in fetched.out and "2 messages fetched (1 applied, 1 already processed)" in fetched.out
    assert imap_server.messages("INBOX") == [] and len(imap_server.messages("workplan-processed")) == 2
    assert sorted(e["to"] for e in email_events(wp)) == ["done", "in_progress"]
    assert len(confirmations(mailbox)) == 2


def test_a_fetch_killed_between_the_commit_and_the_move_applies_nothing_the_next_time(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, imap_server: ImapServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _imap_settings(monkeypatch, imap_server)
    imap_server.append(reply(digest_key, "done 1\n", message_id="<killed@mail.example.cr>"))
    # a fetch in a process of its own, killed (SIGKILL: no cleanup at all) right after the commit
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from workplan import imap, jobs\n"
        "from workplan.project import Project\n"
        "app = Project(Path.cwd())\n"
        "def handle(raw):\n"
        "    assert jobs.record_reply(app, raw).status == 'applied'\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "imap.fetch(imap.ImapSettings.from_settings(app.settings, os.environ), handle)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(imap_server.messages("INBOX")) == 1  # not moved
    assert len(email_events(wp)) == 1
    fetched = wp("inbox", "fetch")
    assert fetched.code == 0, fetched.err
    assert "already processed" in fetched.out
    assert imap_server.messages("INBOX") == [] and len(imap_server.messages("workplan-processed")) == 1
    assert len(email_events(wp)) == 1
    # the confirmation the killed run owed is sent by the next one, once
    assert len(confirmations(mailbox)) == 1
    assert wp("inbox", "fetch").code == 0 and len(confirmations(mailbox)) == 1


@pytest.mark.parametrize("case", ["wrong sender", "no key", "unknown key", "expired", "revoked"])
def test_a_reply_that_cannot_be_trusted_is_held_applies_nothing_and_is_not_answered(
        case: str, project: Path, wp: Runner, mailbox: Recorder, digest_key: str,
        session_of: Callable[[], Session]) -> None:
    key: str | None = digest_key
    sender = FOCAL
    if case == "wrong sender":
        sender = "someone@elsewhere.example.net"
    elif case == "no key":
        key = None
    elif case == "unknown key":
        key = "a" * 32
    elif case == "expired":
        with session_of() as session:
            from sqlalchemy import text
            session.execute(text("UPDATE report_key SET expires_at = :t"),
                            {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)})
            session.commit()
    else:
        assert wp("report", "revoke", "CR").code == 0
    before = dump_database(database_url(project))["event"]
    result = receive(project, reply(key, "done 1\n", sender=sender.upper() if case == "revoked" else sender))
    assert result.code == 0, result.err
    assert "held for the secretariat" in result.out, result.out
    assert dump_database(database_url(project))["event"] == before
    assert confirmations(mailbox) == []
    listed = wp("inbox", "list")
    assert listed.code == 0 and sender.split("@")[0] in listed.out.lower(), listed.out
    [held] = wp("inbox", "list", "--format", "json").json()
    assert held["status"] == "held" and held["reason"] and "done 1" in held["text"]
    assert held["confirmation"] is None


def test_the_sender_is_compared_without_case_and_the_secretariat_digest_counts_held_replies(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str) -> None:
    assert wp("digest", "--party", "TS", "--send", "--as-of", AS_OF).code == 0  # the secretariat's last digest
    assert "applied" in receive(project, reply(digest_key, "done 1\n", sender=FOCAL.upper())).out
    receive(project, reply(digest_key, "done 2\n", sender="intruder@example.net", message_id="<x@example.net>"))
    mailbox.delivered.clear()
    assert wp("digest", "--party", "TS", "--send", "--as-of", "2019-01-22").code == 0
    text = text_of(sent_to(mailbox, "ts@example.org"))
    assert "1 respuesta a un resumen no se pudo aplicar y le espera: vea `workplan inbox list`" in " ".join(
        text.split()), text  # one held, the other applied


@pytest.mark.parametrize("headers, sender", [
    ({"Auto-Submitted": "auto-replied", "Subject": "Fuera de la oficina"}, FOCAL),
    ({}, "MAILER-DAEMON@mx.example.cr"),
])
def test_bounces_and_automatic_replies_are_ignored_and_never_answered(
        headers: dict[str, str], sender: str, project: Path, wp: Runner, mailbox: Recorder, digest_key: str) -> None:
    raw = reply(digest_key, "done 1\n", sender=sender)
    if "Subject" in headers:
        raw = raw.replace(b"Subject: Re: Resumen de estado", b"Subject: " + headers.pop("Subject").encode())
    raw = b"".join(f"{k}: {v}\n".encode() for k, v in headers.items()) + raw
    result = receive(project, raw)
    assert result.code == 0 and "ignored" in result.out, result.out
    assert email_events(wp) == [] and confirmations(mailbox) == []
    assert wp("inbox", "list", "--format", "json").json() == []  # not held: nothing for the secretariat
    assert [m["status"] for m in wp("inbox", "list", "--all", "--format", "json").json()] == ["ignored"]


@pytest.mark.parametrize("body, html, why", [
    ("<p>done 1</p>", True, "HTML"),
    ("\n".join("> [1] done 1" for _ in range(3)) + "\n", False, "texto propio"),
    ("done 1\n" + "more words\n" * 499, False, "500"),
    ("Thank you for the digest.\n", False, "hecho 3"),
])
def test_from_the_party_but_nothing_to_apply_it_says_why_in_one_sentence(
        body: str, html: bool, why: str, project: Path, wp: Runner, mailbox: Recorder, digest_key: str) -> None:
    result = receive(project, reply(digest_key, body, html=html))
    assert result.code == 0 and "nothing applied" in result.out, result.out
    assert email_events(wp) == []
    [confirmation] = confirmations(mailbox)
    text = text_of(confirmation)
    sentence = next(" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.startswith("No se aplicó nada"))
    assert text.startswith("Grupo Ad Hoc")  # the group's name in CR's language
    assert why in sentence and sentence.count(". ") == 0, text


def test_an_smtp_server_that_is_down_delays_the_confirmation_and_the_next_run_sends_it_once(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKPLAN_SMTP_PORT", str(free_port()))  # nobody listens there
    first = receive(project, reply(digest_key, "done 1\n"))
    assert first.code == 0 and "confirmation not sent" in first.out, first.out
    assert len(email_events(wp)) == 1  # the change stays applied
    listed = wp("inbox", "list", "--all")
    assert "1 confirmation is not sent yet" in listed.err
    recorder = Recorder()
    with smtp_server(recorder) as port:
        monkeypatch.setenv("WORKPLAN_SMTP_PORT", str(port))
        second = receive(project, reply(digest_key, "started 2\n", message_id="<r2@mail.example.cr>"))
        assert second.code == 0, second.err
        third = receive(project, reply(digest_key, "Gracias\n", message_id="<r3@mail.example.cr>"))
        assert third.code == 0
    answered = sorted(str(d.message["In-Reply-To"]) for d in recorder.delivered)
    assert answered == ["<r1@mail.example.cr>", "<r2@mail.example.cr>", "<r3@mail.example.cr>"]
    assert wp("inbox", "list", "--all").err == ""


def test_a_confirmation_the_server_may_have_taken_is_never_sent_again(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(accept=0, after_accept="drop-after-data")  # keeps it, then hangs up without a word
    with smtp_server(recorder) as port:
        monkeypatch.setenv("WORKPLAN_SMTP_PORT", str(port))
        first = receive(project, reply(digest_key, "done 1\n"))
        assert first.code == 0 and "may have been delivered" in first.out, first.out
        assert "may not have arrived" in wp("inbox", "list").err
        assert receive(project, reply(digest_key, "Gracias\n", message_id="<r2@mail.example.cr>")).code == 0
    answered = [str(d.message["In-Reply-To"]) for d in recorder.delivered]
    assert answered.count("<r1@mail.example.cr>") == 1, answered
    [row] = [m for m in wp("inbox", "list", "--all", "--format", "json").json() if m["message_id"].startswith("<r1")]
    assert row["confirmation"] == "sending" and row["confirmation_error"]


def test_bad_standard_input_and_an_unreachable_database(project: Path, wp: Runner, mailbox: Recorder,
                                                        digest_key: str) -> None:
    before = dump_database(database_url(project))
    empty = receive(project, b"  \n")
    assert empty.code == 2 and "empty" in empty.err and empty.err.count("\n") == 1
    assert dump_database(database_url(project)) == before
    big = receive(project, b"From: a@b\n\n" + b"x" * (32 * 1024 * 1024))
    assert big.code == 2 and "larger than 32 MB" in big.err
    assert dump_database(database_url(project)) == before
    port = free_port()
    (project / "workplan.toml").write_text(
        f'[database]\nurl = "postgresql://nobody@127.0.0.1:{port}/none"\n', encoding="utf-8")
    down = receive(project, reply(digest_key, "done 1\n"))
    assert down.code == 75, down.err
    assert "try again" in down.err and "Traceback" not in down.err


def test_the_list_is_newest_first_in_a_table(project: Path, wp: Runner, mailbox: Recorder, digest_key: str) -> None:
    assert wp("inbox", "list").out.startswith("No reply is held")
    receive(project, reply(None, "done 1\n", message_id="<a@x>"))
    receive(project, reply(digest_key, "done 1\n", sender="other@example.net", message_id="<b@x>"))
    out = wp("inbox", "list").out
    assert out.index("other@example.net") < out.index(FOCAL), out
    assert re.search(r"RECEIVED\s+SENDER\s+PARTY\s+STATUS", out)
    assert scalar(database_url(project), "select count(*) from inbox_message where status = 'held'") == 2


def _imap_settings(monkeypatch: pytest.MonkeyPatch, server: ImapServer) -> None:
    for key, value in (("HOST", server.host), ("PORT", str(server.port)), ("SECURITY", "none"),
                       ("USER", server.user), ("TIMEOUT", "10")):
        monkeypatch.setenv(f"WORKPLAN_INBOX_IMAP_{key}", value)
    monkeypatch.setenv("WORKPLAN_IMAP_PASSWORD", server.password)


def test_two_runs_recording_one_message_at_once_apply_it_once(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str) -> None:
    """The second run's insert waits for the first's transaction and then finds the Message-ID
    taken (PostgreSQL: the unique constraint; SQLite: the write lock, then the row)."""
    import threading

    from workplan import inbox
    from workplan.db import session_scope

    raw = reply(digest_key, "done 1\n", message_id="<race@mail.example.cr>")
    first, second = Project(project), Project(project)
    results: list[inbox.Handled] = []
    try:
        with session_scope(first.engine, first.settings.database_url, write=True) as session:
            mine = inbox.record(session, raw, datetime.now(UTC))  # inserted, not committed yet
            other = threading.Thread(target=lambda: results.append(jobs.record_reply(second, raw)))
            other.start()
            other.join(1.0)
            assert other.is_alive()  # waiting on the first transaction
            session.commit()
        other.join(30)
    finally:
        first.close()
        second.close()
    assert mine.status == "applied" and not mine.duplicate
    assert [r.duplicate for r in results] == [True]
    assert len(email_events(wp)) == 1
    assert scalar(database_url(project), "select count(*) from inbox_message") == 1


def test_the_scheduler_fetches_the_replies_when_a_mailbox_is_set(
        project: Path, wp: Runner, mailbox: Recorder, digest_key: str, imap_server: ImapServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from workplan import scheduler

    def installed() -> set[str]:
        app = Project(project)
        background = scheduler.start_background(app)
        try:
            return {job.id for job in background.get_jobs()}
        finally:
            background.shutdown(wait=True)
            app.close()

    assert scheduler.INBOX_JOB not in installed()
    _imap_settings(monkeypatch, imap_server)
    assert scheduler.INBOX_JOB in installed()
    imap_server.append(reply(digest_key, "done 1\n", message_id="<scheduled@mail.example.cr>"))
    scheduler.fetch_replies({"cwd": str(project), "config": None, "db": None, "file": None})
    assert imap_server.messages("INBOX") == [] and len(email_events(wp)) == 1 and len(confirmations(mailbox)) == 1
    monkeypatch.setenv("WORKPLAN_INBOX_FETCH_EVERY", "0")
    assert scheduler.INBOX_JOB not in installed()  # switched off: the stored job is removed


def test_a_mail_server_pipes_a_reply_into_the_program(project: Path, wp: Runner, mailbox: Recorder,
                                                      digest_key: str) -> None:
    """As Postfix runs an alias `|workplan … inbox receive`: a process of its own, the message on stdin."""
    command = [sys.executable, "-m", "workplan", "inbox", "receive"]
    piped = subprocess.run(command, input=reply(digest_key, "iniciado 2\n").replace(b"\r\n", b"\n"), cwd=project,
                           capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().count("\n") == 1 and b"applied" in piped.stdout
    assert [e["to"] for e in email_events(wp)] == ["in_progress"] and len(confirmations(mailbox)) == 1
    empty = subprocess.run(command, input=b"", cwd=project, capture_output=True, timeout=120)
    assert empty.returncode == 2 and empty.stderr.decode().count("\n") == 1
