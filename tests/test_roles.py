"""Roles that rotate (issue 21): `roles:` in actions.yaml, the holder of a role on a day, and an
owner given as a role resolved by date — the deadline for what is due, the day of a status change,
the as-of date of digests and feeds — on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import os
import re
from datetime import date
from pathlib import Path

import pytest
from mailserver import Recorder
from test_inbox import receive, reply
from test_reporting import KEY, mailbox, sent_to, text_of

from conftest import database_url, dump_database, run_cli, write_project
from workplan import planning, spec, tables
from workplan.errors import ValidationFailed

__all__ = ["mailbox"]  # a fixture, imported to be used here

BASE = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [cr@example.org]}
  - {id: GT, name: Guatemala, kind: member, email: [gt@example.org]}
sets:
  members: [PA, CR, GT]
roles:
  - id: PPT
    name: Presidency Pro-Tempore
    holders:
      - {party: CR, from: 2017-01-01, to: 2017-12-31}
      - {party: PA, from: 2018-01-01, to: 2018-12-31}
      - {party: GT, from: 2019-01-01, to: 2019-12-31}
  - id: TROIKA
    name: Troika
    derived_from: PPT
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2018-03-10, status: held}
actions:
  - id: report
    title: Present the report of the presidency
    owners: [PPT]
    with: [TS]
    due: 2019-01-10
  - id: invite
    title: Invite the observers
    owners: [TROIKA]
    due: 2018-06-01
"""


def _problems(text: str) -> list[str]:
    try:
        spec.loads(text)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]
    return []


# ---------------------------------------------------------------------------
# the rule


def _ppt() -> dict[str, planning.Role]:
    return {
        "PPT": planning.Role("PPT", (
            planning.Holding("CR", date(2017, 1, 1), date(2017, 12, 31)),
            planning.Holding("PA", date(2018, 1, 1), date(2018, 12, 31)),
            planning.Holding("GT", date(2019, 1, 1), date(2019, 12, 31)),
        )),
        "TROIKA": planning.Role("TROIKA", derived_from="PPT"),
    }


def test_the_holder_of_a_role_is_the_one_whose_period_covers_the_day() -> None:
    roles = _ppt()
    assert planning.role_holder(roles["PPT"], date(2018, 12, 31)) == "PA"
    assert planning.role_holder(roles["PPT"], date(2019, 1, 1)) == "GT"
    assert planning.role_holder(roles["PPT"], date(2016, 6, 1)) is None
    assert planning.role_holders("PPT", date(2018, 5, 1), roles) == ("PA",)
    assert planning.role_holders("CR", date(2018, 5, 1), roles) == ("CR",)  # a party holds itself


def test_the_troika_is_the_previous_the_current_and_the_next_holder() -> None:
    roles = _ppt()
    assert planning.role_holders("TROIKA", date(2018, 5, 1), roles) == ("CR", "PA", "GT")
    assert planning.role_holders("TROIKA", date(2019, 5, 1), roles) == ("PA", "GT")  # nobody is known after
    assert planning.role_holders("TROIKA", date(2020, 5, 1), roles) == ()  # no current presidency


def test_an_item_of_a_role_nobody_holds_goes_to_the_secretariat() -> None:
    roles = _ppt()
    assert planning.held_by("PPT", date(2016, 5, 1), roles, "TS") == ("TS",)
    assert planning.held_by("PPT", date(2018, 5, 1), roles, "TS") == ("PA",)
    assert planning.role_label("PPT", ["Panama"]) == "PPT (Panama)"


# ---------------------------------------------------------------------------
# the file


def test_roles_are_read_and_can_own_actions() -> None:
    doc = spec.loads(BASE)
    assert doc.roles["PPT"].holdings[1] == planning.Holding("PA", date(2018, 1, 1), date(2018, 12, 31))
    assert doc.roles["TROIKA"].derived_from == "PPT"
    assert doc.parties["PPT"].kind == spec.ROLE_KIND and doc.parties["PPT"].emails == ()
    assert doc.actions["report"].owners == ("PPT",)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{party: PA, from: 2018-01-01, to: 2018-12-31}", "{party: PA, from: 2017-06-01, to: 2018-12-31}",
     "actions.yaml:15:9: role PPT: this period overlaps the one on line 14"),
    ("{party: PA, from: 2018-01-01, to: 2018-12-31}", "{party: XX, from: 2018-01-01, to: 2018-12-31}",
     "actions.yaml:15:17: role PPT: holder 'XX' is not a party"),
    ("    derived_from: PPT\n", "    derived_from: TROIKA\n",
     "actions.yaml:19:19: role TROIKA names itself through a derivation (TROIKA → TROIKA)"),
    ("  - id: TROIKA\n", "  - id: members\n", "actions.yaml:17:9: role 'members' has the same id as a party or set"),
    ("  - id: TROIKA\n", "  - id: GT\n", "actions.yaml:17:9: role 'GT' has the same id as a party or set"),
])
def test_a_bad_role_is_one_sentence_at_its_place(old: str, new: str, message: str) -> None:
    text = BASE.replace(old, new, 1)
    assert text != BASE
    assert message in _problems(text)


def test_two_roles_that_derive_from_each_other_name_themselves() -> None:
    text = BASE.replace("    derived_from: PPT\n", "    derived_from: TROIKA2\n  - {id: TROIKA2, derived_from: TROIKA}\n")
    problems = _problems(text)
    assert any("role TROIKA names itself through a derivation (TROIKA → TROIKA2 → TROIKA)" in p for p in problems)


def test_check_refuses_a_bad_role_and_writes_nothing(tmp_path: Path) -> None:
    write_project(tmp_path, BASE.replace("{party: PA, from: 2018-01-01", "{party: PA, from: 2017-12-01", 1))
    result = run_cli(tmp_path, "check")
    assert result.code == 2
    assert "role PPT: this period overlaps the one on line 14" in result.err
    assert not list(tmp_path.glob("*.db"))


# ---------------------------------------------------------------------------
# the database


@pytest.fixture
def roles_project(tmp_path: Path, db_backend: str) -> Path:
    return write_project(tmp_path / "p", BASE)


def test_a_status_change_records_who_held_the_role_that_day(roles_project: Path) -> None:
    assert run_cli(roles_project, "sync").code == 0
    assert run_cli(roles_project, "start", "report", "--on", "2018-12-20").code == 0
    assert run_cli(roles_project, "done", "report", "--on", "2019-01-05").code == 0
    url = database_url(roles_project)
    rows = dump_database(url)
    events = sorted((r for r in rows["event"]), key=lambda r: r[0])
    columns = [c.name for c in tables.event.columns]
    held = [(e[columns.index("to_status")], e[columns.index("held_by")]) for e in events]
    assert held == [("'in_progress'", "'PA'"), ("'done'", "'GT'")]  # the dump holds reprs
    assert sorted(r[0] for r in rows["role"]) == ["'PPT'", "'TROIKA'"]


def test_migration_0009_turns_a_party_ppt_into_a_role_at_the_next_sync(tmp_path: Path, db_backend: str) -> None:
    """An existing database where PPT was a party with a mailbox: 0009 adds the roles and the
    holder of each change; the next sync of a file where PPT is a role keeps its id and its
    assignments, and the party entry becomes kind "role" with no mailbox."""
    from sqlalchemy import text

    from conftest import database_at, schema_matches_tables
    from workplan import db as wpdb

    ppt_party = ("INSERT INTO party (id, name, kind, emails, lang, position, content_hash)"
                 " VALUES ('PPT', 'Presidency', 'presidency', '[\"ppt@example.org\"]', '', 0, 'h')")
    with database_at(tmp_path, db_backend, "0007", ppt_party) as (engine, url):
        assert wpdb.upgrade(engine, url) == ("0007", "0009")  # through 0008 (meetings of other bodies)
        assert schema_matches_tables(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT kind FROM party WHERE id = 'PPT'")).scalar() == "presidency"
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "workplan.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    (folder / "actions.yaml").write_text(BASE, encoding="utf-8")
    assert run_cli(folder, "sync").code == 0
    rows = dump_database(url)
    assert rows["party"][[r[0] for r in rows["party"]].index("'PPT'")][:4] == ("'PPT'", "'Presidency Pro-Tempore'", "'role'", "[]")


def _digest(folder: Path, party: str, as_of: str, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    result = run_cli(folder, "digest", "--party", party, "--as-of", as_of, "--out", str(out), "--lang", "en")
    assert result.code == 0, result.err
    files = sorted(out.glob("*.eml"))
    assert len(files) == 1
    return email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default).get_body(
        ("plain",)).get_content()


def test_a_digest_the_week_before_a_change_of_presidency_goes_to_the_old_holder_the_week_after_to_the_new(
        roles_project: Path, tmp_path: Path) -> None:
    before_pa = _digest(roles_project, "PA", "2018-12-27", tmp_path / "b-pa")
    before_gt = _digest(roles_project, "GT", "2018-12-27", tmp_path / "b-gt")
    after_pa = _digest(roles_project, "PA", "2019-01-03", tmp_path / "a-pa")
    after_gt = _digest(roles_project, "GT", "2019-01-03", tmp_path / "a-gt")
    assert "Present the report of the presidency" in before_pa
    assert "PPT (Panama)" in before_pa
    assert "Present the report of the presidency" not in before_gt
    assert "Present the report of the presidency" not in after_pa
    assert "Present the report of the presidency" in after_gt
    assert "PPT (Guatemala)" in after_gt


def test_a_role_gets_no_digest_of_its_own(roles_project: Path) -> None:
    result = run_cli(roles_project, "digest", "--party", "PPT", "--as-of", "2018-12-27", "--out", "x")
    assert result.code == 2
    assert "PPT is a role: its items go in the digest of the party that holds it on the as-of day" in result.err


def test_show_names_the_role_with_its_holder_on_the_deadline_and_the_log_who_held_it(roles_project: Path) -> None:
    shown = run_cli(roles_project, "show", "report", "--as-of", "2018-06-01").out
    assert "PPT (Guatemala)" in shown  # due 2019-01-10: Guatemala holds it then
    assert "TS" in shown
    assert run_cli(roles_project, "show", "report", "--format", "json").json()["roles"]["PPT"] == "PPT (Guatemala)"
    invite = run_cli(roles_project, "show", "invite").out
    assert "TROIKA (Costa Rica, Panama, Guatemala)" in invite
    assert run_cli(roles_project, "done", "report", "--on", "2018-12-20").code == 0
    log = run_cli(roles_project, "log", "report").out
    assert "PPT (PA)" in log
    assert run_cli(roles_project, "log", "report", "--format", "json").json()[0]["held_by"] == ["PA"]


def test_the_feeds_name_the_role_with_its_holder_and_put_its_deadlines_in_the_holders_feed(
        roles_project: Path, tmp_path: Path) -> None:
    def feeds(as_of: str) -> Path:
        out = tmp_path / as_of
        result = run_cli(roles_project, "calendars", "--out", str(out), "--as-of", as_of)
        assert result.code == 0, result.err
        return out

    def unfolded(path: Path) -> str:
        return path.read_text(encoding="utf-8").replace("\r\n ", "")

    before = feeds("2018-12-27")
    assert "Owner: PPT (Panama)" in unfolded(before / "PPT.ics")
    assert "present-the-report" not in unfolded(before / "GT.ics").lower()
    assert "Present the report of the presidency" in unfolded(before / "PA.ics")
    assert "Present the report of the presidency" not in unfolded(before / "GT.ics")
    after = feeds("2019-01-03")
    assert "Owner: PPT (Guatemala)" in unfolded(after / "GT.ics")
    assert "Present the report of the presidency" not in unfolded(after / "PA.ics")


def test_check_warns_of_a_role_nobody_holds_on_a_deadline_and_the_secretariat_gets_the_item(tmp_path: Path) -> None:
    text = BASE + """\
  - id: early
    title: Something the presidency owed before anyone is known to have held it
    owners: [PPT]
    due: 2016-05-01
"""
    doc = spec.loads(text)
    assert [str(w) for w in doc.warnings if "nobody holds" in str(w)] == [
        "actions.yaml:32:5: warning: action early: nobody holds role PPT on 2016-05-01, its deadline; "
        "the secretariat gets it meanwhile"]
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "check")
    assert result.code == 0
    assert "nobody holds role PPT on 2016-05-01" in result.err
    listing = run_cli(folder, "calendars", "--out", str(tmp_path / "cal"), "--as-of", "2016-04-20")
    assert listing.code == 0, listing.err
    assert "Something the presidency owed" in (tmp_path / "cal" / "TS.ics").read_text(encoding="utf-8").replace("\\r\\n ", "")


def test_the_holder_answers_for_the_role_by_replying_to_its_digest_and_the_log_keeps_who_held_it(
        roles_project: Path, mailbox: Recorder) -> None:
    """PA's digest the week before the change of presidency numbers the PPT's item like PA's own;
    PA's reply "done N" closes the PPT's assignment, recorded as held by PA."""
    sent = run_cli(roles_project, "digest", "--party", "PA", "--send", "--as-of", "2018-12-27", "--lang", "en")
    assert sent.code == 0, sent.err
    text = text_of(sent_to(mailbox, "pa@example.org"))
    key = KEY.search(text)
    assert key is not None
    number = re.search(r"\[(\d+)\] Present the report of the presidency", " ".join(text.split()))
    assert number is not None, text
    result = receive(roles_project, reply(key[1], f"done {number[1]}\n", sender="pa@example.org"))
    assert result.code == 0, result.err
    [event] = [e for e in run_cli(roles_project, "log", "--format", "json").json() if e["origin"] == "email"]
    # the change is dated when the reply arrives, today: nobody is entered as holding the PPT then
    assert (event["action"], event["party"], event["to"], event["held_by"]) == ("report", "PPT", "done", [])
    assert event["by"] == "pa@example.org"


def test_the_board_names_the_holder_of_the_role_on_the_as_of_day(roles_project: Path) -> None:
    from workplan import jobs
    from workplan.project import Project

    assert run_cli(roles_project, "sync").code == 0
    app = Project(roles_project, None, None, None, False)
    previous = Path.cwd()
    os.chdir(roles_project)  # the project reads the actions file relative to the process's folder
    try:
        with app.session() as session:
            board = jobs.board(session, app.read_context(session, "2019-01-20"))
    finally:
        app.close()
        os.chdir(previous)
    [owner] = [o for o in board.overdue if o.party == "PPT"]
    assert owner.name == "Guatemala"


def test_the_agenda_lists_a_role_under_its_holder_on_the_as_of_day(tmp_path: Path, db_backend: str) -> None:
    text = BASE.replace("status: held}\n", "status: held}\n  - {id: m2, title: Second, kind: face-to-face, "
                                           "start: 2019-06-10, status: planned}\n", 1)
    folder = write_project(tmp_path / "p", text)

    def agenda(as_of: str) -> str:
        result = run_cli(folder, "agenda", "--meeting", "m2", "--as-of", as_of, "--format", "txt", "--lang", "en")
        assert result.code == 0, result.err
        return result.out

    before = agenda("2018-12-27")
    assert "TROIKA - Costa Rica, Panama, Guatemala (1)" in before
    assert "[report] PPT (Panama)" in before  # due 2019-01-10, before the meeting: Panama holds it today
    after = agenda("2019-01-20")
    assert "PPT - Guatemala (1)" in after  # overdue since 2019-01-10: the new presidency answers for it
    assert "TROIKA - Panama, Guatemala (1)" in after
