"""Meetings of other bodies and deadlines at a meeting nobody can date yet (issue 21): a meeting
with `body:` or `kind: external` is shown in listings, feeds and agendas, marked as not the group's
own, and never counts toward its cadence; `due: {next: KIND-OR-BODY}` with no cadence rule to
expect it is *to be scheduled* until such a meeting is added; `agenda --next` without cadence.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import run_cli, write_project
from workplan import planning

BASE = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, status: held}
  - {id: comisca-2020, title: COMISCA ordinary meeting, kind: virtual, body: COMISCA, start: 2020-09-10}
  - {id: fair-2020, title: Health fair, kind: external, start: 2020-10-01}
cadence:
  - {kind: virtual, per: semester, at_least: 1, from: 2020-01-01}
actions:
  - id: brief
    title: Brief COMISCA
    owners: [TS]
    due: {next: COMISCA, after: m1}
"""


def test_a_meeting_of_another_body_never_counts_toward_the_cadence(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", BASE)
    assert run_cli(folder, "check").code == 0
    out = run_cli(folder, "meetings", "--as-of", "2021-01-15", "--format", "json").json()
    by_id = {m["id"]: m for m in out["meetings"]}
    assert by_id["comisca-2020"]["body"] == "COMISCA" and by_id["comisca-2020"]["own"] is False
    assert by_id["fair-2020"]["own"] is False and by_id["m1"]["own"] is True
    assert by_id["comisca-2020"]["title"] == "COMISCA ordinary meeting (meeting of COMISCA, not of this group)"
    # the virtual meeting of COMISCA is not the group's virtual meeting of the second semester
    verdicts = {p["period"]: (p["verdict"], p["held"] + p["scheduled"]) for p in out["cadence"]}
    assert verdicts["2020-S2"] == ("missed", [])
    table = run_cli(folder, "meetings", "--as-of", "2020-12-31").out
    assert "COMISCA " in table and "of another body" in table


def test_feeds_and_agendas_show_it_marked(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", BASE)
    assert run_cli(folder, "calendars").code == 0
    ics = (folder / "calendars" / "meetings.ics").read_text(encoding="utf-8")
    assert "SUMMARY:COMISCA ordinary meeting (meeting of COMISCA\\, not of this group)" in ics
    assert "SUMMARY:Health fair (another body's meeting\\, not of this group)" in ics
    agenda = run_cli(folder, "agenda", "--next", "--as-of", "2020-08-01")
    assert agenda.code == 0, agenda.err
    # --next is the group's own next meeting (the one its cadence expects), not COMISCA's
    assert agenda.out.startswith("# Draft agenda: Virtual meeting of the Test Group")
    assert "- COMISCA ordinary meeting (meeting of COMISCA, not of this group), Thursday, 10 September 2020" in agenda.out
    html = run_cli(folder, "agenda", "--next", "--as-of", "2020-08-01", "--format", "html").out
    assert '<li class="other-body">Health fair' in html


def test_a_deadline_at_the_next_meeting_of_a_body_moves_to_it(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", BASE)
    rows = run_cli(folder, "list", "--as-of", "2020-07-01", "--format", "json").json()
    assert [(r["action"], r["due"], r["due_kind"], r["due_meeting"]) for r in rows] == [
        ("brief", "2020-09-10", "meeting", "comisca-2020")]


def test_the_rule_reads_body_and_kind() -> None:
    class M:
        def __init__(self, kind: str, body: str = "", status: str = "planned") -> None:
            self.id, self.kind, self.body, self.status, self.start_day = "x", kind, body, status, date(2020, 1, 1)

    assert planning.counts_for_cadence(M("virtual"), "virtual")
    assert not planning.counts_for_cadence(M("virtual", "COMISCA"), "virtual")
    assert not planning.counts_for_cadence(M("external"), "external")
    assert planning.is_of(M("virtual", "COMISCA"), "COMISCA") and not planning.is_of(M("virtual", "COMISCA"), "virtual")
    assert not planning.is_of(M("external"), None) and planning.is_of(M("virtual"), None)


# ---------------------------------------------------------------------------
# to be scheduled: the next meeting of a kind, or of a body, that nothing expects yet

UNSCHEDULED = (BASE + """\
  - id: rcgm
    title: Report at the next RCGM
    owners: [PA]
    due: {next: RCGM, after: m1}
""").replace("  - {id: fair-2020,", "  - {id: rcgm-2019, title: RCGM 2019, body: RCGM, start: 2019-05-01, status: held}\n  - {id: fair-2020,")


def test_a_next_meeting_nothing_expects_is_to_be_scheduled_and_never_overdue(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", UNSCHEDULED)
    check = run_cli(folder, "check")
    assert check.code == 0 and "0 warnings" in check.out, check.out + check.err
    rows = {r["action"]: r for r in run_cli(folder, "list", "--as-of", "2030-01-01", "--format", "json").json()}
    assert (rows["rcgm"]["due"], rows["rcgm"]["due_kind"], rows["rcgm"]["overdue"]) == (None, "unscheduled", False)
    assert run_cli(folder, "overdue", "--as-of", "2030-01-01", "--format", "json").json() == [
        r for r in run_cli(folder, "overdue", "--as-of", "2030-01-01", "--format", "json").json() if r["action"] != "rcgm"]
    upcoming = run_cli(folder, "upcoming", "--as-of", "2020-07-01").out
    assert "rcgm    PA     to be scheduled  open   Report at the next RCGM" in upcoming
    show = run_cli(folder, "show", "rcgm", "--as-of", "2020-07-01").out
    assert "to be scheduled: at the next RCGM meeting" in show
    agenda = run_cli(folder, "agenda", "--next", "--as-of", "2020-08-01").out
    assert "- to be scheduled: **Report at the next RCGM** (`rcgm`): PA" in agenda
    assert run_cli(folder, "digest", "--party", "PA", "--as-of", "2020-07-01", "--out", "d").code == 0
    import email

    message = email.message_from_bytes((folder / "d" / "PA.eml").read_bytes())
    text = next(p.get_payload(decode=True).decode() for p in message.walk()
                if p.get_content_type() == "text/plain").replace("\r\n", "\n")
    assert "DUE IN THE NEXT 14 DAYS (1)\n\n  * Report at the next RCGM\n    [rcgm] PA · to be scheduled" in text
    assert "OPEN, NO DEADLINE (0)" in text


def test_once_such_a_meeting_is_added_the_deadline_moves_to_it(tmp_path: Path, db_backend: str) -> None:
    folder = write_project(tmp_path / "p", UNSCHEDULED)
    assert run_cli(folder, "sync").code == 0
    text = UNSCHEDULED.replace(
        "  - {id: fair-2020,", "  - {id: rcgm-2021, title: RCGM 2021, body: RCGM, start: 2021-04-20}\n  - {id: fair-2020,")
    (folder / "actions.yaml").write_text(text, encoding="utf-8")
    assert run_cli(folder, "sync").code == 0
    rows = {r["action"]: r for r in run_cli(folder, "list", "--as-of", "2021-05-01", "--format", "json").json()}
    assert (rows["rcgm"]["due"], rows["rcgm"]["due_kind"], rows["rcgm"]["due_meeting"], rows["rcgm"]["overdue"]) == (
        "2021-04-20", "meeting", "rcgm-2021", True)


def test_the_board_lists_it_as_to_be_scheduled(tmp_path: Path) -> None:
    from test_web import serving

    folder = write_project(tmp_path / "p", UNSCHEDULED)
    assert run_cli(folder, "sync").code == 0
    with serving(folder) as server:
        board = server.request("/").text
    upcoming = board[board.index('id="upcoming"'):board.index('id="no-deadline"')]
    assert "to be scheduled" in upcoming and "Report at the next RCGM" in upcoming


def test_agenda_next_without_any_cadence_rule(tmp_path: Path, db_backend: str) -> None:
    no_cadence = BASE.replace("cadence:\n  - {kind: virtual, per: semester, at_least: 1, from: 2020-01-01}\n", "")
    folder = write_project(tmp_path / "p", no_cadence.replace(
        "  - {id: fair-2020,", "  - {id: m2, title: Second, kind: virtual, start: 2020-11-05}\n  - {id: fair-2020,"))
    agenda = run_cli(folder, "agenda", "--next", "--as-of", "2020-08-01")
    assert agenda.code == 0 and agenda.out.startswith("# Draft agenda: Second"), agenda.out[:200] + agenda.err
    none = run_cli(folder, "agenda", "--next", "--as-of", "2021-01-01")
    assert none.code == 2 and none.out == ""
    assert none.err.strip().splitlines() == [
        "workplan: no meeting is scheduled from 2021-01-01 on, and no cadence rule says when to expect one; use --meeting ID"]


def test_migration_0008_adds_the_body_and_keeps_the_meetings(tmp_path: Path, db_backend: str) -> None:
    from sqlalchemy import text

    from conftest import database_at, schema_matches_tables
    from workplan import db as wpdb

    old_meeting = ("INSERT INTO meeting (id, title, kind, start, start_day, end_day, precision, timezone, location, url,"
                   " status, description, position, sequence, content_hash, updated_at) VALUES ('m1', 'Old', 'virtual',"
                   " '2020-01-01', '2020-01-01', '2020-01-01', 'date', 'America/Panama', '', '', 'held', '', 0, 0, 'h',"
                   " '2020-01-01 00:00:00')")
    with database_at(tmp_path, db_backend, "0007", old_meeting) as (engine, url):
        assert wpdb.upgrade(engine, url)[0] == "0007"  # to the head (0009: roles, after it)
        assert schema_matches_tables(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT title, body FROM meeting")).one() == ("Old", "")


def test_the_next_meeting_of_a_body_with_no_meeting_yet(tmp_path: Path, db_backend: str) -> None:
    # "the next RCGM meeting": RCGM is a party of kind body, none of its meetings is in the file yet
    text = BASE.replace("parties:\n", "parties:\n  - {id: RCGM, name: Regional Consultation Group, kind: body}\n") + """\
  - id: rcgm
    title: Report at the next RCGM
    owners: [PA]
    due: {next: RCGM, after: m1}
  - id: typo
    title: A typo
    owners: [PA]
    due: {next: RCMG, after: m1}
"""
    folder = write_project(tmp_path / "p", text)
    bad = run_cli(folder, "check")
    assert bad.code == 2 and "due of action typo: next 'RCMG' is not one of:" in bad.err and "RCGM" in bad.err
    assert "action rcgm" not in bad.err
    (folder / "actions.yaml").write_text(text[:text.index("  - id: typo")], encoding="utf-8")
    rows = run_cli(folder, "list", "--as-of", "2030-01-01", "--format", "json").json()
    assert [(r["action"], r["due_kind"], r["overdue"]) for r in rows if r["action"] == "rcgm"] == [
        ("rcgm", "unscheduled", False)]
