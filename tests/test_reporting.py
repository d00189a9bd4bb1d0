"""The loop back from the focal points, its core (issue 20): each sent digest brings its party a
fresh report key, numbered items, a report page link, a tagged reply address and a one-click
pause; a report is an ordinary status change (origin web or email); the secretariat revokes keys
and overrides a party's choices. The page and the inbox have files of their own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from mailserver import Recorder, smtp_server
from sqlalchemy.orm import Session

from conftest import Runner, database_url
from workplan import planning, reporting
from workplan.db import make_engine
from workplan.errors import TransitionError, UsageError

AS_OF = "2019-01-15"
KEY = re.compile(r"/report/([a-z2-7]{32})\b")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """A real SMTP server on loopback, and the settings pointing at it, replies tagged."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        for key, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TIMEOUT", "2"), ("SECURITY", "none")):
            monkeypatch.setenv(f"WORKPLAN_SMTP_{key}", value)
        monkeypatch.setenv("WORKPLAN_REPLY_ADDRESS", "workplan@rcm.example.org")
        monkeypatch.setenv("WORKPLAN_SERVER_BASE_URL", "https://workplan.rcm.example.org/")
        yield recorder


def sent_to(recorder: Recorder, address: str) -> EmailMessage:
    found = [d.message for d in recorder.delivered if address in str(d.message["To"])]
    assert len(found) == 1, [str(d.message["To"]) for d in recorder.delivered]
    return found[0]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def cr_key(wp: Runner, mailbox: Recorder) -> re.Match[str]:
    """CR's digest sent, and the key it carries."""
    assert wp("digest", "--party", "CR", "--send", "--as-of", AS_OF).code == 0
    key = KEY.search(text_of(sent_to(mailbox, "focal.cr@example.org")))
    assert key is not None
    return key


@pytest.fixture
def session_of(project: Path) -> Iterator[Callable[[], Session]]:
    engine = make_engine(database_url(project))
    yield lambda: Session(engine)
    engine.dispose()


def test_a_party_corrects_its_own_report_by_ordinary_changes() -> None:
    assert planning.report_verbs("open", "in_progress") == ("start",)
    assert planning.report_verbs("in_progress", "done") == ("done",)
    assert planning.report_verbs("open", "waived") == ("waive",)
    assert planning.report_verbs("done", "in_progress") == ("reopen", "start")
    assert planning.report_verbs("waived", "done") == ("reopen", "done")
    assert planning.report_verbs("done", "done") == ()
    assert planning.report_verbs("cancelled", "done") is None  # the secretariat's decision
    assert planning.report_verbs("open", "cancelled") is None  # not a status a party reports
    assert planning.REPORT_STATUSES == ("in_progress", "done", "waived")


def test_a_sent_digest_carries_its_key_numbers_reply_address_and_one_click_pause(
        project: Path, wp: Runner, mailbox: Recorder, session_of: Callable[[], Session]) -> None:
    result = wp("digest", "--party", "CR", "--send", "--as-of", AS_OF)
    assert result.code == 0, result.err
    msg = sent_to(mailbox, "focal.cr@example.org")
    text = text_of(msg)
    key = KEY.search(text)
    assert key is not None, text
    assert f"https://workplan.rcm.example.org/report/{key[1]}" in text
    assert msg["Reply-To"] == f"workplan+{key[1]}@rcm.example.org"
    assert msg["List-Unsubscribe"] == f"<https://workplan.rcm.example.org/report/{key[1]}/unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and f"/report/{key[1]}" in str(html.get_content())  # type: ignore[attr-defined]
    numbers = [int(n) for n in re.findall(r"^\s+\* \[(\d+)\] ", text, re.M)]
    assert numbers and sorted(set(numbers)) == list(range(1, max(numbers) + 1)), text
    with session_of() as session:
        grant = reporting.resolve(session, key[1], datetime.now(UTC))
        assert grant is not None and grant.party == "CR"
        items = reporting.numbered_items(session, grant)
    assert sorted(items) == sorted(set(numbers))
    assert all(i.party == "CR" for i in items.values())
    # only the hash is kept: the key itself is nowhere in the database
    with session_of() as session:
        from sqlalchemy import text as sql
        keys = [row[0] for row in session.execute(sql("SELECT key_hash FROM report_key"))]
    assert key[1] not in keys and reporting.key_hash(key[1]) in keys
    # the secretariat's group-wide digest reports nothing, so it carries no key
    wp("digest", "--party", "TS", "--send", "--as-of", AS_OF)
    assert sent_to(mailbox, "ts@example.org")["Reply-To"] is None


def test_a_key_expires_is_revoked_at_once_and_a_malformed_one_is_unknown(
        project: Path, wp: Runner, mailbox: Recorder, session_of: Callable[[], Session]) -> None:
    key = cr_key(wp, mailbox)
    now = datetime.now(UTC)
    with session_of() as session:
        assert reporting.resolve(session, key[1], now + timedelta(days=29)) is not None
        assert reporting.resolve(session, key[1], now + timedelta(days=31)) is None  # report.link_days = 30
        assert reporting.resolve(session, key[1].upper(), now) is None
        assert reporting.resolve(session, key[1][:-1], now) is None
        assert reporting.resolve(session, "a" * 32, now) is None
    result = wp("report", "revoke", "CR")
    assert result.code == 0 and "1 report link" in result.out, result.out + result.err
    with session_of() as session:
        assert reporting.resolve(session, key[1], now) is None
    assert wp("report", "revoke", "CR").out.startswith("CR: no live report link")
    unknown = wp("report", "revoke", "XX")
    assert unknown.code == 2 and "XX" in unknown.err


def test_a_report_is_an_event_of_origin_web_with_its_evidence_and_corrections_are_logged(
        project: Path, wp: Runner, mailbox: Recorder, session_of: Callable[[], Session]) -> None:
    key = cr_key(wp, mailbox)
    now = datetime.now(UTC)
    with session_of() as session:
        grant = reporting.resolve(session, key[1], now)
        assert grant is not None
        item = reporting.numbered_items(session, grant)[1]
        before = wp("log", item.action, "--format", "json").json()

        def report(status: str, note: str = "", evidence: str = "") -> None:
            reporting.report(session, grant, item, status, note=note, evidence=evidence, on=None, day_only=False,
                             now=datetime.now(UTC), origin="web", by="focal.cr@example.org")
            session.commit()

        for bad, why in ((lambda: report("done", evidence="javascript:alert(1)"), "http or https"),
                         (lambda: report("waived"), "needs a note"),
                         (lambda: report("done", note="x" * 1_000_000), "too long"),
                         (lambda: report("cancelled"), "not a status a focal point reports")):
            with pytest.raises(UsageError, match=why):
                bad()
            session.rollback()
        report("done", note="sent to the TS", evidence="https://example.org/matrix.xlsx")
        with pytest.raises(TransitionError, match="already"):
            report("done")
        session.rollback()
        report("in_progress", note="one table is missing")
    log = wp("log", item.action, "--format", "json").json()[len(before):]
    mine = [e for e in log if e["party"] == "CR"]
    assert [(e["to"], e["origin"], e["by"]) for e in mine] == [
        ("done", "web", "focal.cr@example.org"), ("open", "web", "focal.cr@example.org"),
        ("in_progress", "web", "focal.cr@example.org")]
    assert mine[0]["evidence"] == "https://example.org/matrix.xlsx" and mine[0]["note"] == "sent to the TS"
    assert "focal.cr@example.org (web)" in wp("log", item.action).out
    assert "https://example.org/matrix.xlsx" in wp("log", item.action, "--format", "csv").out


def test_a_paused_digest_is_not_sent_and_the_secretariat_sees_and_overrides_it(
        project: Path, wp: Runner, mailbox: Recorder) -> None:
    assert wp("report", "pause", "CR").code == 0
    sent = wp("digest", "--party", "CR", "--send", "--as-of", AS_OF)
    assert sent.code == 0, sent.err
    assert mailbox.delivered == [] and "paused" in sent.out
    status = {x["party"]: x for x in wp("digest", "--status", "--as-of", AS_OF, "--format", "json").json()}
    assert status["CR"]["status"] == "paused" and status["CR"]["digest_paused"] is True
    assert status["CR"]["preference_set_by"] == "secretariat"
    line = next(x for x in wp("digest", "--status", "--as-of", AS_OF).out.splitlines() if x.startswith("CR "))
    assert "paused" in line and "set by" in line, line
    assert wp("report", "resume", "CR").code == 0
    assert wp("report", "language", "CR", "en").code == 0
    assert wp("digest", "--party", "CR", "--send", "--as-of", AS_OF).code == 0
    msg = sent_to(mailbox, "focal.cr@example.org")
    assert "Status digest" in text_of(msg)  # CR reads Spanish by the actions file; English chosen
    bad = wp("report", "language", "CR", "fr")
    assert bad.code == 2


def test_the_secretariats_next_digest_says_what_focal_points_reported(
        project: Path, wp: Runner, mailbox: Recorder, session_of: Callable[[], Session]) -> None:
    assert wp("digest", "--all", "--send", "--as-of", AS_OF).code == 0
    key = KEY.search(text_of(sent_to(mailbox, "focal.cr@example.org")))
    assert key is not None
    with session_of() as session:
        grant = reporting.resolve(session, key[1], datetime.now(UTC))
        assert grant is not None
        item = reporting.numbered_items(session, grant)[1]
        reporting.report(session, grant, item, "done", note="sent by courier", evidence="", day_only=True,
                         on=datetime(2019, 1, 16, tzinfo=UTC), now=datetime.now(UTC), origin="web",
                         by="focal.cr@example.org")
        session.commit()
    mailbox.delivered.clear()
    assert wp("digest", "--party", "TS", "--send", "--as-of", "2019-01-22").code == 0
    ts = text_of(sent_to(mailbox, "ts@example.org"))
    section = ts.split("Informado por los puntos focales:")
    assert len(section) == 2, ts  # TS reads Spanish
    assert item.action in section[1].split("\n\n")[0] and "focal.cr@example.org" in section[1]
    assert "página de informe" in section[1] and "sent by courier" in section[1]
