"""`workplan calendars`: the feeds as subscribers get them, read back by independent parsers.

Hostile text in titles and notes cannot add properties or events to a feed (issue 8). Feeds keep
their update promise over time: SEQUENCE only rises, DTSTAMP never comes from the future, and an
item once published is never dropped without a STATUS:CANCELLED, also when the feeds are rebuilt
from a fresh database over the folder that holds them (how calendars/ is refreshed)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
import vobject
from golden_feeds import (
    GOLDEN_AS_OF,
    GOLDEN_DIR,
    GOLDEN_FEEDS,
    SHIPPED_AS_OF,
    SHIPPED_CALENDARS,
    build_golden,
    build_shipped,
    normalise,
)

from conftest import MINIMAL, Runner, run_cli, write_project

REFRESH = "run `python -m tests.refresh_golden` if the change is intended, and review the diff"


# ---------------------------------------------------------------------------
# reading feeds back


def parse_icalendar(data: bytes) -> list[icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    for component in cal.walk():
        assert not component.errors, (component.name, component.errors)
    return list(cal.walk("VEVENT"))


def parse_recurring(data: bytes) -> list[icalendar.Event]:
    """What a client showing a date range sees: recurring-ical-events expands 2000–2100."""
    cal = icalendar.Calendar.from_ical(data)
    return list(recurring_ical_events.of(cal).between(date(2000, 1, 1), date(2100, 1, 1)))


def parse_vobject(data: bytes) -> list[object]:
    cal = vobject.readOne(data.decode("utf-8"))
    return list(getattr(cal, "vevent_list", []))


def uids(data: bytes) -> list[str]:
    return [str(e["UID"]) for e in parse_icalendar(data)]


def vevent_blocks(data: bytes) -> dict[str, bytes]:
    """Each VEVENT's exact bytes, by UID."""
    blocks = re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", data, re.S)
    out = {}
    for block in blocks:
        uid = re.search(rb"\r\nUID:(.*?)\r\n", block.replace(b"\r\n ", b""))
        assert uid is not None
        out[uid.group(1).decode()] = block
    return out


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_shipped(tmp_path_factory.mktemp("feeds"))


def _expected_counts(project: Path, as_of: str) -> dict[str, int]:
    """How many VEVENTs each feed must hold, counted from the database with the services the
    listing commands use (not with the feed code)."""
    from sqlalchemy import select

    from workplan import queries
    from workplan.models import Participant, Party
    from workplan.planning import held_by, horizon
    from workplan.project import Project as App

    app = App(project, None, None, None, False)
    previous = Path.cwd()
    os.chdir(project)  # App reads the actions file relative to the process's folder, as the CLI runs it
    try:
        with app.session() as session:
            ctx = app.read_context(session, as_of)
            last = horizon(ctx.as_of_day)
            rows = [r for r in queries.assignment_rows(session, ctx)
                    if r.due is not None and (not r.occurrence or r.due <= last)]
            meetings = len(queries.meetings(session))
            parties = list(session.scalars(select(Party.id)))
            participants = list(session.execute(select(Participant.action_id, Participant.party_id)))
            roles = queries.roles(session)
            day = ctx.as_of_day
    finally:
        app.close()
        os.chdir(previous)
    deadlines = {(r.action, r.occurrence) for r in rows}
    public = {(r.action, r.occurrence) for r in rows if r.visibility == "public"}
    counts = {"meetings.ics": meetings, "all.ics": meetings + len(public)}
    owners = Counter(r.party for r in rows)
    owned = {(r.action, r.party) for r in rows}
    for party in parties:
        taking_part = {
            (a, occ) for (a, occ) in deadlines
            for (pa, pp) in participants if pa == a and pp == party and (a, party) not in owned
        }
        counts[f"{party}.ics"] = meetings + owners[party] + len(taking_part)
    # a role's deadlines are also in the feed of whoever holds it that day, the secretariat's while nobody does
    for r in rows:
        if r.party in roles:
            for holder in held_by(r.party, day, roles, "TS"):
                counts[f"{holder}.ics"] += 1
    return counts


# ---------------------------------------------------------------------------
# the shipped workplan


def test_shipped_feeds_are_accepted_by_independent_parsers_with_every_event(shipped: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "actions.yaml").write_bytes((shipped.parent / "actions.yaml").read_bytes())
    expected = _expected_counts(project, SHIPPED_AS_OF)
    files = sorted(p.name for p in shipped.glob("*.ics"))
    assert files == sorted(expected), "one feed per party, plus all.ics and meetings.ics"
    for name in files:
        data = (shipped / name).read_bytes()
        n = expected[name]
        assert len(parse_icalendar(data)) == n, name
        assert len(parse_recurring(data)) == n, name
        assert len(parse_vobject(data)) == n, name
        assert len(set(uids(data))) == n, f"{name}: UIDs are unique"
    # the numbers a reader of actions.yaml would expect: 5 meetings; CR owes three things
    # with a due date and takes part in three more
    names = vobject.readOne((shipped / "CR.ics").read_text(encoding="utf-8"))
    # Costa Rica reads Spanish (lang: es); the United States English
    assert names.x_wr_calname.value == "Grupo Ad Hoc sobre Migración Extrarregional de la CRM — CR (Costa Rica)"
    assert names.x_wr_caldesc.value == ("Plazos de Costa Rica y de las acciones en que participa; reuniones del "
                                        "Grupo Ad Hoc sobre Migración Extrarregional de la CRM.")
    us = vobject.readOne((shipped / "US.ics").read_text(encoding="utf-8"))
    assert us.x_wr_caldesc.value == ("Deadlines of United States and of the actions it takes part in; meetings of "
                                     "the RCM Ad Hoc Group on Extra-regional Migration.")
    troika = vobject.readOne((shipped / "TROIKA.ics").read_text(encoding="utf-8"))
    assert troika.x_wr_calname.value.endswith("TROIKA (Troika de la CRM (Presidencias Pro Tempore saliente, actual "
                                              "y entrante))"), "commas in a name survive"
    assert expected["meetings.ics"] == 5
    assert expected["CR.ics"] == 5 + 3 + 3


def test_committed_calendars_are_up_to_date(tmp_path: Path) -> None:
    """calendars/ holds exactly what the code builds from actions.yaml (--as-of SHIPPED_AS_OF)
    over calendars/ itself, as it is refreshed: continuing its SEQUENCEs and keeping, cancelled,
    what it showed before (so it may differ from a build into an empty folder)."""
    built_folder = build_shipped(tmp_path, over=SHIPPED_CALENDARS)
    built = {p.name: p.read_bytes() for p in built_folder.glob("*.ics")}
    committed = {p.name: p.read_bytes() for p in SHIPPED_CALENDARS.glob("*.ics")}
    assert sorted(committed) == sorted(built), f"calendars/ lists other feeds than the code builds; {REFRESH}"
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"calendars/ is out of date ({', '.join(stale)}); {REFRESH}"


def test_feeds_are_well_formed_icalendar(shipped: Path) -> None:
    for path in shipped.glob("*.ics"):
        data = path.read_bytes()
        assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
        assert b"\n" not in data.replace(b"\r\n", b""), "every line ends with CRLF"
        for line in data.split(b"\r\n"):
            assert len(line) <= 75, f"{path.name}: unfolded line {line[:40]!r}…"
        data.decode("utf-8")
        for needed in (b"\r\nMETHOD:PUBLISH\r\n", b"\r\nX-WR-CALNAME:", b"\r\nX-WR-CALDESC:",
                       b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT12H\r\n", b"\r\nX-PUBLISHED-TTL:PT12H\r\n",
                       b"\r\nX-WR-TIMEZONE:America/Panama\r\n", b"\r\nPRODID:", b"\r\nVERSION:2.0\r\n"):
            assert needed in data, (path.name, needed)
        assert b"VALARM" not in data
        for event in parse_icalendar(data):
            for prop in ("UID", "DTSTAMP", "DTSTART", "SUMMARY", "SEQUENCE", "LAST-MODIFIED", "STATUS"):
                assert prop in event, (path.name, prop)


def test_shipped_feeds_say_what_is_due_by_whom(shipped: Path) -> None:
    events = {str(e["UID"]): e for e in parse_icalendar((shipped / "CR.ics").read_bytes())}
    matrix = events["assignment-statistics-matrix-2018+CR@rcm.example.org"]
    assert str(matrix["SUMMARY"]).startswith("✓ Cumplida: Enviar a la ST la matriz actualizada")
    assert matrix.decoded("DTSTART") == date(2018, 12, 31)
    assert matrix.decoded("DTEND") == date(2019, 1, 1), "all-day deadlines end the next day (exclusive)"
    text = str(matrix["DESCRIPTION"])
    assert "prevista: la próxima reunión virtual, que aún no está convocada" in text
    assert "cumplida desde el 31 de mayo de 2018" in text
    assert str(matrix["STATUS"]) == "CONFIRMED", "a closed deadline is no longer tentative, expected or not"
    assert "“It was recommended and requested that each country send the missing information" in text
    # the same action in all.ics names the owners still open, and is marked expected
    everyone = {str(e["UID"]): e for e in parse_icalendar((shipped / "all.ics").read_bytes())}
    action = everyone["action-statistics-matrix-2018@rcm.example.org"]
    assert str(action["SUMMARY"]) == ("Due (expected): Send the updated statistical information matrix on "
                                      "extra-regional flows to the TS — BZ, DO, NI, US")
    assert str(action["STATUS"]) == "TENTATIVE"
    # a month-only meeting: tentative, all month, and it says so
    month = everyone["meeting-ahg-2016-09@rcm.example.org"]
    assert month.decoded("DTSTART") == date(2016, 9, 1) and month.decoded("DTEND") == date(2016, 10, 1)
    assert "September 2016" in str(month["SUMMARY"]) and str(month["STATUS"]) == "TENTATIVE"
    assert str(everyone["meeting-ahg-2018-05@rcm.example.org"]["STATUS"]) == "CONFIRMED"
    # ongoing commitments (no due date) are not in any calendar
    assert "action-combat-smuggling-gangs@rcm.example.org" not in everyone


def test_two_builds_in_a_row_are_byte_identical_and_the_second_writes_nothing(wp, project: Path) -> None:
    first = wp("calendars")
    assert first.code == 0, first.err
    folder = project / "calendars"

    def state() -> dict[str, tuple[bytes, int, int]]:
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.iterdir()}

    before = state()
    second = wp("calendars")
    assert second.code == 0 and second.out.startswith("0 of 28 feeds written")
    assert state() == before, "unchanged feeds are neither rewritten nor touched"
    assert not [p for p in (project / "calendars").iterdir() if p.name.startswith(".")], "no temporary file left"


def test_a_fresh_clone_builds_the_same_feeds(tmp_path: Path, shipped: Path) -> None:
    again = build_shipped(tmp_path)
    for path in shipped.glob("*.ics"):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_moving_a_meeting_moves_its_deadlines_raises_sequence_and_changes_nothing_else(wp, project: Path) -> None:
    assert wp("calendars", "--as-of", SHIPPED_AS_OF).code == 0
    before = {p.name: p.read_bytes() for p in (project / "calendars").glob("*.ics")}
    text = (project / "actions.yaml").read_text(encoding="utf-8")
    assert text.count("start: 2016-08-26") == 1
    (project / "actions.yaml").write_text(text.replace("start: 2016-08-26", "start: 2016-08-30"), encoding="utf-8")
    assert wp("sync").code == 0
    result = wp("calendars", "--as-of", SHIPPED_AS_OF)
    assert result.code == 0, result.err
    after = {p.name: p.read_bytes() for p in (project / "calendars").glob("*.ics")}
    moved = {
        "meeting-twg-2016-08@rcm.example.org",
        # the three actions due at that meeting, and their assignments
        "action-twg-establish@rcm.example.org", "assignment-twg-establish+TS@rcm.example.org",
        "action-ts-online-folder@rcm.example.org", "assignment-ts-online-folder+TS@rcm.example.org",
        "action-twg-first-meeting@rcm.example.org", "assignment-twg-first-meeting+TWG@rcm.example.org",
    }
    seen_moved: set[str] = set()
    for name, data in before.items():
        old, new = vevent_blocks(data), vevent_blocks(after[name])
        assert sorted(old) == sorted(new), name
        head_old, head_new = data.split(b"BEGIN:VEVENT", 1)[0], after[name].split(b"BEGIN:VEVENT", 1)[0]
        assert head_old == head_new, name
        for uid in old:
            if uid not in moved:
                assert new[uid] == old[uid], f"{name}: {uid} changed although it does not depend on the meeting"
                continue
            seen_moved.add(uid)
            was = icalendar.Event.from_ical(old[uid])
            now = icalendar.Event.from_ical(new[uid])
            assert now.decoded("DTSTART") == date(2016, 8, 30), uid
            assert now.decoded("DTEND") == date(2016, 8, 31), uid
            assert int(now["SEQUENCE"]) > int(was["SEQUENCE"]), uid
            assert str(now["UID"]) == str(was["UID"])
    assert seen_moved == moved


# ---------------------------------------------------------------------------
# small projects


SPANISH = "Reunión Técnica — Migración, año 2018; acción\ny una segunda línea: \"comillas\", \\ barra"


def _yaml_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_a_title_with_commas_semicolons_newline_and_non_ascii_round_trips(tmp_path: Path) -> None:
    yaml = MINIMAL.replace("title: First, kind", f"title: {_yaml_quote(SPANISH)}, kind").replace(
        "title: First action", f"title: {_yaml_quote(SPANISH)}")
    folder = write_project(tmp_path / "es", yaml)
    result = run_cli(folder, "calendars", "--as-of", "2020-05-01")
    assert result.code == 0, result.err
    data = (folder / "calendars" / "CR.ics").read_bytes()
    meeting = "meeting-m1@test.example.org"
    deadline = "assignment-a1+CR@test.example.org"
    by_uid = {str(e["UID"]): e for e in parse_icalendar(data)}
    assert str(by_uid[meeting]["SUMMARY"]) == SPANISH
    assert str(by_uid[deadline]["SUMMARY"]) == f"Due: {SPANISH} — CR"
    assert str(by_uid[deadline]["DESCRIPTION"]).startswith(SPANISH + "\n")
    expanded = {str(e["UID"]): e for e in parse_recurring(data)}
    assert str(expanded[meeting]["SUMMARY"]) == SPANISH
    vo = {e.uid.value: e for e in parse_vobject(data)}  # type: ignore[attr-defined]
    assert vo[meeting].summary.value == SPANISH
    assert vo[deadline].summary.value == f"Due: {SPANISH} — CR"
    assert vo[deadline].description.value.startswith(SPANISH + "\n")


RESTRICTED = MINIMAL + """\
  - id: secret
    title: Restricted follow-up of a sensitive case
    owners: [CR]
    with: [TS]
    visibility: restricted
    due: 2020-05-01
"""


def test_published_feeds_hold_no_restricted_action(tmp_path: Path) -> None:
    """calendars/ is published (the RCM commits it): a restricted action is in none of its feeds."""
    folder = write_project(tmp_path / "r", RESTRICTED)
    assert run_cli(folder, "calendars", "--as-of", "2020-04-15").code == 0
    feeds = {p.name: p.read_bytes() for p in (folder / "calendars").glob("*.ics")}
    assert sorted(feeds) == ["CR.ics", "PA.ics", "TS.ics", "all.ics", "meetings.ics"]
    for name, data in feeds.items():
        assert b"sensitive case" not in data and b"secret" not in data.replace(b"\r\n ", b""), name
    assert "assignment-a1+CR@test.example.org" in uids(feeds["CR.ics"])


def test_a_restricted_action_shows_only_in_its_owners_and_participants_private_feeds(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "r", RESTRICTED)
    assert run_cli(folder, "calendars", "--private", "--as-of", "2020-04-15").code == 0
    feeds = {p.name: p.read_bytes() for p in (folder / "calendars").glob("*.ics")}
    assert sorted(feeds) == ["CR.ics", "PA.ics", "TS.ics", "all.ics", "meetings.ics"]
    for name, data in feeds.items():
        visible = b"sensitive case" in data
        assert visible == (name in ("CR.ics", "TS.ics")), name
        assert (b"secret" in data.replace(b"\r\n ", b"")) == visible, name
    assert "assignment-secret+CR@test.example.org" in uids(feeds["CR.ics"])
    assert "action-secret@test.example.org" in uids(feeds["TS.ics"])


def test_a_public_action_waiting_on_a_restricted_one_does_not_name_it_outside_its_feeds(tmp_path: Path) -> None:
    """Its id and title would say what the restricted action is: only its owners' and
    participants' feeds name it; everywhere else the dependency is only "(restricted)"."""
    yaml = RESTRICTED + """\
  - id: follow-on
    title: Public report that waits on the case
    owners: [PA]
    depends_on: [secret]
    due: 2020-06-01
"""
    folder = write_project(tmp_path / "d", yaml)
    assert run_cli(folder, "calendars", "--private", "--as-of", "2020-04-15").code == 0
    feeds = {p.name: p.read_bytes().replace(b"\r\n ", b"") for p in (folder / "calendars").glob("*.ics")}
    for name in ("all.ics", "PA.ics"):
        assert b"Public report that waits on the case" in feeds[name], name
        assert b"sensitive case" not in feeds[name] and b"secret" not in feeds[name], name
        assert b"(restricted)" in feeds[name], name
    for name in ("CR.ics", "TS.ics"):
        assert b"sensitive case" in feeds[name], name
    assert b"secret" not in feeds["meetings.ics"]


def test_closed_cancelled_and_withdrawn_items_stay_in_the_feeds(tmp_path: Path) -> None:
    yaml = MINIMAL + """\
  - id: gone
    title: An action later removed from the file
    owners: [TS]
    due: 2020-06-01
"""
    folder = write_project(tmp_path / "w", yaml)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-20").code == 0
    assert run_cli(folder, "cancel", "a1", "--party", "PA", "--on", "2020-03-21", "--note", "no longer").code == 0
    assert run_cli(folder, "calendars").code == 0
    before = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "TS.ics").read_bytes())}
    (folder / "actions.yaml").write_text(MINIMAL, encoding="utf-8")
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "calendars").code == 0
    cr = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "CR.ics").read_bytes())}
    pa = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "PA.ics").read_bytes())}
    ts = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "TS.ics").read_bytes())}
    everyone = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "all.ics").read_bytes())}
    done = cr["assignment-a1+CR@test.example.org"]
    assert str(done["SUMMARY"]) == "✓ Done: First action — CR" and str(done["STATUS"]) == "CONFIRMED"
    cancelled = pa["assignment-a1+PA@test.example.org"]
    assert str(cancelled["SUMMARY"]).startswith("Cancelled:") and str(cancelled["STATUS"]) == "CANCELLED"
    withdrawn = ts["assignment-gone+TS@test.example.org"]
    assert str(withdrawn["STATUS"]) == "CANCELLED" and str(withdrawn["SUMMARY"]).startswith("Withdrawn:")
    assert int(withdrawn["SEQUENCE"]) > int(before["assignment-gone+TS@test.example.org"]["SEQUENCE"])
    assert str(everyone["action-gone@test.example.org"]["STATUS"]) == "CANCELLED"
    # status changes raise SEQUENCE too, so clients that compare it pick them up
    assert int(done["SEQUENCE"]) == 1


def test_out_writes_elsewhere_and_a_bad_folder_is_one_clear_error(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "o", MINIMAL)
    result = run_cli(folder, "calendars", "--out", str(tmp_path / "elsewhere"))
    assert result.code == 0, result.err
    assert (tmp_path / "elsewhere" / "all.ics").is_file() and not (folder / "calendars").exists()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    bad = run_cli(folder, "calendars", "--out", str(blocker / "sub"))
    assert bad.code == 1
    assert bad.err.startswith("workplan: cannot write the feeds into") and "Traceback" not in bad.err


def test_the_calendars_dir_setting_is_honoured(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "s", MINIMAL)
    (folder / "workplan.toml").write_text('[calendars]\ndir = "public/feeds"\n')
    assert run_cli(folder, "calendars").code == 0
    assert (folder / "public" / "feeds" / "meetings.ics").is_file()


def test_feeds_rebuilt_at_another_moment_show_statuses_of_that_moment(tmp_path: Path, shipped: Path) -> None:
    folder = tmp_path / "early"
    folder.mkdir()
    (folder / "actions.yaml").write_bytes((shipped.parent / "actions.yaml").read_bytes())
    assert run_cli(folder, "calendars", "--as-of", "2018-05-01").code == 0
    cr = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "CR.ics").read_bytes())}
    assert str(cr["assignment-statistics-matrix-2018+CR@rcm.example.org"]["SUMMARY"]).startswith("Vence (prevista):")


# ---------------------------------------------------------------------------
# golden files: one feed of each kind, frozen time, compared after normalising property order


@pytest.mark.parametrize("name", GOLDEN_FEEDS)
def test_golden_feeds(name: str, tmp_path: Path) -> None:
    built = build_golden(tmp_path) / name
    golden = GOLDEN_DIR / name
    assert normalise(built.read_bytes()) == normalise(golden.read_bytes()), (
        f"{name} differs from tests/golden/{name} (built --as-of {GOLDEN_AS_OF}); {REFRESH}")


def test_help_does_not_import_icalendar_or_sqlalchemy() -> None:
    import subprocess
    import sys

    code = ("import sys; from workplan.cli import cli; "
            "assert 'icalendar' not in sys.modules and 'sqlalchemy' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('icalendar', 'sqlalchemy'))")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_todo_writes_the_deadlines_as_tasks_too(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "t", MINIMAL)
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-20").code == 0
    result = run_cli(folder, "calendars", "--todo", "--as-of", "2020-04-15")
    assert result.code == 0, result.err
    names = sorted(str(p.relative_to(folder / "calendars")) for p in (folder / "calendars").rglob("*.ics"))
    assert names == ["CR.ics", "PA.ics", "TS.ics", "all.ics", "meetings.ics",
                     "todo/CR.ics", "todo/PA.ics", "todo/TS.ics", "todo/all.ics"]
    data = (folder / "calendars" / "todo" / "CR.ics").read_bytes()
    cal = icalendar.Calendar.from_ical(data)
    todos = {str(t["UID"]): t for t in cal.walk("VTODO")}
    assert not cal.walk("VEVENT"), "meetings are events only"
    task = todos["task-assignment-a1+CR@test.example.org"]
    assert str(task["STATUS"]) == "COMPLETED" and int(task["PERCENT-COMPLETE"]) == 100
    assert task.decoded("DUE") == date(2020, 4, 1)
    assert task.decoded("COMPLETED").date() == date(2020, 3, 20)
    vo = vobject.readOne(data.decode())
    assert [t.uid.value for t in vo.vtodo_list] == list(todos)
    everyone = icalendar.Calendar.from_ical((folder / "calendars" / "todo" / "all.ics").read_bytes())
    statuses = {str(t["UID"]): str(t["STATUS"]) for t in everyone.walk("VTODO")}
    assert statuses == {"task-action-a1@test.example.org": "IN-PROCESS",
                        "task-action-a2@test.example.org": "NEEDS-ACTION"}


@pytest.mark.parametrize("party", ["all", "Meetings"])
def test_a_party_named_like_another_feed_is_refused(tmp_path: Path, party: str) -> None:
    yaml = MINIMAL.replace("  - {id: PA, name: Panama", f"  - {{id: {party}, name: Clash, kind: member}}\n"
                           "  - {id: PA, name: Panama")
    folder = write_project(tmp_path / "c", yaml)
    result = run_cli(folder, "calendars")
    assert result.code == 2
    assert f"party '{party}' would take the name of the feed {party.lower()}.ics" in result.err
    assert not (folder / "calendars").exists()


def test_a_database_synced_before_the_rule_gets_the_same_sentence_from_the_feeds() -> None:
    """The rule has one home (planning.party_id_clashes): check refuses the file for it, and the
    feeds, which may read parties synced before the rule existed, refuse them in the same words."""
    from workplan import feeds
    from workplan.errors import UsageError

    with pytest.raises(UsageError, match="party 'cr' differs from 'CR' only by case"):
        feeds._check_file_names((feeds.FeedParty("CR", "Costa Rica"), feeds.FeedParty("cr", "Costa Rica bis")))
    feeds._check_file_names((feeds.FeedParty("CR", "Costa Rica"), feeds.FeedParty("PA", "Panama")))


def _queries_for_feed_set(folder: Path) -> int:
    from sqlalchemy import event

    from workplan import feeds
    from workplan.project import Project as App

    app = App(folder, None, None, None, False)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        with app.session() as session:
            ctx = app.read_context(session, "2030-01-01")
            statements: list[str] = []
            engine = session.get_bind()

            def count(*_: object) -> None:
                statements.append("q")

            event.listen(engine, "before_cursor_execute", count)
            try:
                feeds.feed_set(session, ctx)
            finally:
                event.remove(engine, "before_cursor_execute", count)
    finally:
        app.close()
        os.chdir(previous)
    return len(statements)


def test_the_feeds_are_read_with_a_fixed_number_of_queries(tmp_path: Path) -> None:
    small = write_project(tmp_path / "small", MINIMAL)
    many = MINIMAL + "".join(
        f"  - {{id: x{i}, title: Extra {i}, owners: [members], with: [TS], depends_on: [a1],"
        f" due: 2020-0{1 + i % 9}-10}}\n"
        for i in range(60)
    )
    large = write_project(tmp_path / "large", many)
    assert run_cli(large, "done", "x1", "--party", "CR").code == 0
    assert _queries_for_feed_set(small) == _queries_for_feed_set(large) == 10  # the roles are one more


def test_a_dependency_without_a_due_date_still_counts_as_closed_when_it_is(tmp_path: Path) -> None:
    yaml = MINIMAL + """\
  - id: ongoing
    title: Ongoing groundwork
    owners: [TS]
  - id: after
    title: Builds on the groundwork
    owners: [PA]
    depends_on: [ongoing]
    due: 2020-06-01
"""
    folder = write_project(tmp_path / "d", yaml)
    assert run_cli(folder, "calendars", "--as-of", "2020-04-01").code == 0
    before = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "PA.ics").read_bytes())}
    uid = "assignment-after+PA@test.example.org"
    assert "- ongoing: Ongoing groundwork (not closed yet)" in str(before[uid]["DESCRIPTION"])
    assert "action-ongoing@test.example.org" not in uids((folder / "calendars" / "all.ics").read_bytes())
    assert run_cli(folder, "done", "ongoing", "--on", "2020-04-10").code == 0
    assert run_cli(folder, "calendars", "--as-of", "2020-04-15").code == 0
    after = {str(e["UID"]): e for e in parse_icalendar((folder / "calendars" / "PA.ics").read_bytes())}
    assert "- ongoing: Ongoing groundwork (closed)" in str(after[uid]["DESCRIPTION"])
    assert after[uid].decoded("LAST-MODIFIED") > before[uid].decoded("LAST-MODIFIED"), "its description changed"


def test_golden_feeds_with_time_zones_read_the_same_in_every_parser(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    built = build_golden(tmp_path)
    for name in GOLDEN_FEEDS:
        data = (built / name).read_bytes()
        n = len(parse_icalendar(data))
        assert len(parse_recurring(data)) == len(parse_vobject(data)) == n, name
    data = (built / "meetings.ics").read_bytes()
    madrid = "meeting-madrid@test.example.org"
    expected = datetime(2020, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 in Madrid, after the end of summer time
    by_uid = {str(e["UID"]): e for e in parse_recurring(data)}
    assert by_uid[madrid].decoded("DTSTART").astimezone(UTC) == expected
    vo = {e.uid.value: e for e in parse_vobject(data)}  # type: ignore[attr-defined]
    assert vo[madrid].dtstart.value.astimezone(UTC) == expected
    panama = vo["meeting-v1@test.example.org"].dtstart.value
    assert panama.astimezone(UTC) == datetime(2020, 6, 15, 15, 0, tzinfo=UTC)


def test_a_held_meeting_is_tentative_in_a_feed_built_before_it(wp: Runner, project: Path) -> None:
    """The V meeting is recorded as held; a feed built as of 1 May 2018 shows it still to come."""
    for as_of, status in (("2018-05-01", "TENTATIVE"), ("2018-06-02", "CONFIRMED")):
        result = wp("calendars", "--as-of", as_of, "--out", f"out-{as_of}")
        assert result.code == 0, result.err
        events = parse_icalendar((project / f"out-{as_of}" / "meetings.ics").read_bytes())
        v = next(e for e in events if str(e["UID"]).startswith("meeting-ahg-2018-05@"))
        assert str(v["STATUS"]) == status, as_of


TITLE = "Report; due, now\\r\\nEND:VEVENT\\r\\nBEGIN:VEVENT\\r\\nSUMMARY:Injected\\r\\nURL:http://evil.example.org"
NOTE = "cannot\r\nEND:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Also injected"


def test_titles_and_notes_stay_text_in_every_feed(tmp_path: Path) -> None:
    import icalendar

    folder = write_project(tmp_path / "p", MINIMAL.replace("title: First action", f'title: "{TITLE}"'))
    assert run_cli(folder, "waive", "a1", "--party", "PA", "--on", "2020-03-20", "--note", NOTE).code == 0
    clean = write_project(tmp_path / "clean", MINIMAL)
    assert run_cli(folder, "calendars", "--as-of", "2020-04-15").code == 0
    assert run_cli(clean, "calendars", "--as-of", "2020-04-15").code == 0
    title = TITLE.replace("\\r\\n", "\n")  # line breaks are kept, as TEXT escapes (\\n)
    for feed in sorted((folder / "calendars").glob("*.ics")):
        raw = feed.read_bytes()
        assert b"\r\nBEGIN:VEVENT\r\nSUMMARY:Injected" not in raw and b"\nSUMMARY:Also injected" not in raw
        assert b"\nURL:http://evil" not in raw
        events = icalendar.Calendar.from_ical(raw).walk("VEVENT")
        reference = icalendar.Calendar.from_ical((clean / "calendars" / feed.name).read_bytes()).walk("VEVENT")
        assert len(events) == len(reference), feed.name  # no event added, none lost
        assert not any(str(e.get("SUMMARY")).startswith(("Injected", "Also injected")) for e in events)
        assert all(e.get("URL") is None or "evil" not in str(e.get("URL")) for e in events)
        if feed.name in ("all.ics", "CR.ics", "PA.ics"):
            assert any(title in str(e.get("SUMMARY")).replace("\r\n", "\n") for e in events), feed.name


AS_OF = "2021-03-01"
THIRD = "  - id: a3\n    title: Third action\n    source: {meeting: m1, ref: \"3\"}\n    owners: [PA]\n    due: 2020-05-01\n"
FUTURE = MINIMAL.replace(
    "cadence:", "  - {id: m9, title: Far meeting, kind: face-to-face, start: 2099-03-10, status: planned}\ncadence:")


def components(data: bytes) -> dict[str, icalendar.cal.Component]:
    cal = icalendar.Calendar.from_ical(data)
    for c in cal.walk():
        assert not c.errors, (c.name, c.errors)
    return {str(c["UID"]): c for c in cal.walk() if c.name in ("VEVENT", "VTODO")}


def feed(folder: Path, name: str) -> dict[str, icalendar.cal.Component]:
    return components((folder / "calendars" / name).read_bytes())


def build(folder: Path, *args: str) -> str:
    result = run_cli(folder, "calendars", "--as-of", AS_OF, *args)
    assert result.code == 0, result.err
    return result.out


def fresh_clone(folder: Path, yaml: str, into: Path) -> Path:
    """The project *folder* copied with its calendars/ but without its database, then given *yaml*."""
    clone = write_project(into, yaml)
    shutil.copytree(folder / "calendars", clone / "calendars")
    return clone


# ---------------------------------------------------------------------------
# sync


@pytest.mark.usefixtures("db_backend")
def test_reordering_the_actions_or_removing_one_changes_no_other_item(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL + THIRD)
    assert run_cli(folder, "sync").code == 0
    build(folder)
    before = {p.name: p.read_bytes() for p in (folder / "calendars").glob("*.ics")}
    a1 = MINIMAL.split("  - id: a1\n")[1].split("  - id: a2\n")[0]
    reordered = MINIMAL.replace("  - id: a1\n" + a1, "") + THIRD + "  - id: a1\n" + a1
    (folder / "actions.yaml").write_text(reordered, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert result.code == 0 and result.out == "nothing changed\n", result.out
    assert build(folder).startswith("0 of "), "reordering the file changes no feed"
    # removing the first action withdraws it and changes nothing about the others
    (folder / "actions.yaml").write_text(MINIMAL.replace("  - id: a1\n" + a1, "").replace(
        "    depends_on: [a1]\n", "") + THIRD, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert "changed: action a3" not in result.out and "action a3" not in result.out, result.out
    build(folder)
    after = feed(folder, "PA.ics")
    assert after["assignment-a3+PA@test.example.org"].to_ical() == \
        components(before["PA.ics"])["assignment-a3+PA@test.example.org"].to_ical()


@pytest.mark.usefixtures("db_backend")
def test_reordering_the_meetings_changes_nothing(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", FUTURE)
    assert run_cli(folder, "sync").code == 0
    m1 = "  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}\n"
    assert m1 in FUTURE
    swapped = FUTURE.replace(m1, "").replace("cadence:", m1 + "cadence:")
    (folder / "actions.yaml").write_text(swapped, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert result.code == 0 and result.out == "nothing changed\n", result.out


@pytest.mark.usefixtures("db_backend")
def test_restoring_a_withdrawn_action_raises_its_sequence_past_the_cancelled_one(tmp_path: Path) -> None:
    """Both in the database (what the server publishes, and a new folder) and in a folder
    that is continued from build to build."""
    folder = write_project(tmp_path / "p", MINIMAL + THIRD)
    assert run_cli(folder, "sync").code == 0
    uid = "assignment-a3+PA@test.example.org"
    seen: dict[str, list[tuple[int, str]]] = {"new folder": [], "continued": []}
    for step, yaml in enumerate((MINIMAL + THIRD, MINIMAL, MINIMAL + THIRD)):
        (folder / "actions.yaml").write_text(yaml, encoding="utf-8")
        assert run_cli(folder, "sync").code == 0
        assert run_cli(folder, "calendars").code == 0
        assert run_cli(folder, "calendars", "--out", str(folder / f"new{step}")).code == 0
        for kind, where in (("continued", folder / "calendars"), ("new folder", folder / f"new{step}")):
            item = components((where / "PA.ics").read_bytes())[uid]
            seen[kind].append((int(item["SEQUENCE"]), str(item["STATUS"])))
    for kind, steps in seen.items():
        assert [status for _seq, status in steps] == ["CONFIRMED", "CANCELLED", "CONFIRMED"], kind
        assert steps[0][0] < steps[1][0] < steps[2][0], (kind, steps)


@pytest.mark.usefixtures("db_backend")
def test_a_meeting_dated_in_the_future_is_not_stamped_in_the_future(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", FUTURE)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "calendars").code == 0
    far = feed(folder, "meetings.ics")["meeting-m9@test.example.org"]
    now = datetime.now(UTC)
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        assert far.decoded(name) <= now, name
    # and a feed built as of a past day carries no stamp after that day
    build(folder)
    cutoff = datetime(2021, 3, 2, 5, 0, tzinfo=UTC)  # the end of 1 March 2021 in Panama
    for uid, item in feed(folder, "all.ics").items():
        assert item.decoded("DTSTAMP") <= cutoff, uid
        assert item.decoded("LAST-MODIFIED") <= cutoff, uid


@pytest.mark.usefixtures("db_backend")
def test_a_future_stamp_left_in_the_database_by_an_earlier_version_is_brought_back_by_sync(tmp_path: Path) -> None:
    import sqlalchemy

    from conftest import database_url

    folder = write_project(tmp_path / "p", FUTURE)
    assert run_cli(folder, "sync").code == 0
    engine = sqlalchemy.create_engine(database_url(folder).replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # what versions before this one wrote: the meeting's own day
        conn.execute(sqlalchemy.text("UPDATE meeting SET updated_at = '2099-03-10 05:00:00' WHERE id = 'm9'"))
    engine.dispose()
    # at its next sync (a sync runs when the file changed)
    (folder / "actions.yaml").write_text(FUTURE + "# edited\n", encoding="utf-8")
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "calendars").code == 0
    far = feed(folder, "meetings.ics")["meeting-m9@test.example.org"]
    assert far.decoded("DTSTAMP") <= datetime.now(UTC)
    # and fixed there: feeds built a second later, into a new folder, are the same bytes
    time.sleep(1.1)
    assert run_cli(folder, "calendars", "--out", str(folder / "later")).code == 0
    assert (folder / "later" / "meetings.ics").read_bytes() == (folder / "calendars" / "meetings.ics").read_bytes()


# ---------------------------------------------------------------------------
# a folder continued from a fresh database (how calendars/ is refreshed)


MOVED = (MINIMAL.replace("start: 2020-03-10, end: 2020-03-11", "start: 2020-03-12, end: 2020-03-13")
         .replace("title: First action", "title: First action, reworded"))


def _block(data: bytes, uid: str) -> bytes:
    unfolded = data.replace(b"\r\n ", b"")
    match = re.search(rb"BEGIN:(VEVENT|VTODO)\r\n(?:(?!END:VEVENT|END:VTODO).)*?UID:" + re.escape(uid.encode())
                      + rb"\r\n.*?END:\1\r\n", unfolded, re.S)
    assert match, uid
    return match.group(0)


@pytest.mark.usefixtures("db_backend")
def test_a_fresh_database_continues_sequence_and_cancels_what_it_no_longer_produces(tmp_path: Path) -> None:
    first = write_project(tmp_path / "first", MINIMAL + THIRD)
    assert run_cli(first, "sync").code == 0
    build(first, "--todo")
    old = {p.relative_to(first / "calendars").as_posix(): p.read_bytes()
           for p in (first / "calendars").rglob("*.ics")}
    # the meeting moved, an action reworded, a3 removed: a clone with a fresh database
    clone = fresh_clone(first, MOVED, tmp_path / "clone")
    assert run_cli(clone, "sync").code == 0
    build(clone, "--todo")
    new = {name: (clone / "calendars" / name).read_bytes() for name in old}
    build_moment = datetime(2021, 3, 2, 4, 59, 59, tzinfo=UTC)  # --as-of 2021-03-01: its end, in Panama
    for name in old:
        was, now = components(old[name]), components(new[name])
        assert set(now) == set(was), f"{name}: no item dropped"
        for uid, item in now.items():
            before = was[uid]
            changed = uid.startswith(("meeting-m1", "action-a1", "assignment-a1", "task-action-a1",
                                      "task-assignment-a1", "action-a3", "assignment-a3", "task-action-a3",
                                      "task-assignment-a3", "action-a2", "assignment-a2", "task-action-a2",
                                      "task-assignment-a2"))
            if not changed:
                assert _block(new[name], uid) == _block(old[name], uid), f"{name}: {uid}"
                continue
            assert int(item["SEQUENCE"]) > int(before["SEQUENCE"]), f"{name}: {uid}"
            assert before.decoded("DTSTAMP") <= item.decoded("DTSTAMP") <= build_moment, f"{name}: {uid}"
            assert item.decoded("LAST-MODIFIED") == item.decoded("DTSTAMP")
            if "-a3" in uid:
                assert str(item["STATUS"]) == "CANCELLED", f"{name}: {uid}"
                assert str(item["SUMMARY"]) == str(before["SUMMARY"])
    assert components(new["meetings.ics"])["meeting-m1@test.example.org"].decoded("DTSTART").day == 12
    # rebuilt again, from the same database or another fresh one: nothing moves
    assert build(clone, "--todo").startswith("0 of ")
    again = fresh_clone(clone, MOVED, tmp_path / "again")
    assert run_cli(again, "sync").code == 0
    build(again, "--todo")
    for name, data in new.items():
        assert (again / "calendars" / name).read_bytes() == data, name
    # restoring a3 raises its SEQUENCE above the cancellation's
    cancelled = int(components(new["PA.ics"])["assignment-a3+PA@test.example.org"]["SEQUENCE"])
    (again / "actions.yaml").write_text(MOVED + THIRD, encoding="utf-8")
    assert run_cli(again, "sync").code == 0
    build(again)
    back = feed(again, "PA.ics")["assignment-a3+PA@test.example.org"]
    assert str(back["STATUS"]) == "CONFIRMED" and int(back["SEQUENCE"]) > cancelled
    # a build without --todo leaves the task feeds alone
    assert (again / "calendars" / "todo" / "PA.ics").read_bytes() == new["todo/PA.ics"]


@pytest.mark.usefixtures("db_backend")
def test_a_removed_timed_meeting_stays_cancelled_with_its_time_zone(tmp_path: Path) -> None:
    madrid = MINIMAL.replace("cadence:", "  - {id: mad, title: Madrid, kind: other, start: \"2020-10-26T09:00\", "
                                         "end: \"2020-10-27T13:00\", timezone: Europe/Madrid, status: planned}\n"
                                         "cadence:")
    first = write_project(tmp_path / "first", madrid)
    assert run_cli(first, "sync").code == 0
    build(first)
    clone = fresh_clone(first, MINIMAL, tmp_path / "clone")
    assert run_cli(clone, "sync").code == 0
    build(clone)
    for name in ("all.ics", "meetings.ics", "CR.ics"):
        data = (clone / "calendars" / name).read_bytes()
        gone = components(data)["meeting-mad@test.example.org"]
        assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == 1
        assert str(gone.decoded("DTSTART").tzinfo) == "Europe/Madrid"
        assert data.count(b"TZID:Europe/Madrid\r\n") == 1
        cal = vobject.readOne(data.decode("utf-8"))
        assert "meeting-mad@test.example.org" in {e.uid.value for e in cal.vevent_list}


@pytest.mark.usefixtures("db_backend")
def test_a_stamp_from_the_future_in_the_folder_is_brought_back(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    build(folder)
    path = folder / "calendars" / "CR.ics"
    data = path.read_bytes()
    block = _block(data, "assignment-a1+CR@test.example.org")
    stamp = re.search(rb"DTSTAMP:(\d{8}T\d{6}Z)", block).group(1)  # type: ignore[union-attr]
    path.write_bytes(data.replace(b"DTSTAMP:" + stamp, b"DTSTAMP:20990101T000000Z", 1))
    build(folder)
    assert path.read_bytes() == data


@pytest.mark.usefixtures("db_backend")
def test_a_hand_edited_or_foreign_file_in_the_folder_is_no_traceback(tmp_path: Path) -> None:
    first = write_project(tmp_path / "first", MINIMAL + THIRD)
    assert run_cli(first, "sync").code == 0
    build(first)
    pa = first / "calendars" / "PA.ics"
    data = pa.read_bytes()
    uid = data.index(b"UID:assignment-a3+PA@test.example.org\r\n")
    start, end = data.rindex(b"BEGIN:VEVENT", 0, uid), data.index(b"END:VEVENT", uid)
    broken = re.sub(rb"DTSTAMP:\S+", b"DTSTAMP:garbage", re.sub(rb"SEQUENCE:\d+", b"SEQUENCE:x", data[start:end]))
    assert broken != data[start:end]
    pa.write_bytes(data[:start] + broken + data[end:])
    (first / "calendars" / "other.ics").write_bytes(b"BEGIN:VCALENDAR\r\nPRODID:-//someone else//EN\r\n"
                                                    b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    (first / "calendars" / "empty.ics").write_bytes(b"")
    clone = fresh_clone(first, MINIMAL, tmp_path / "clone")
    assert run_cli(clone, "sync").code == 0
    build(clone)
    gone = feed(clone, "PA.ics")["assignment-a3+PA@test.example.org"]
    assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == 1
    assert (clone / "calendars" / "other.ics").read_bytes().startswith(b"BEGIN:VCALENDAR\r\nPRODID:-//someone")
    assert (clone / "calendars" / "empty.ics").read_bytes() == b""


# ---------------------------------------------------------------------------
# the line reader agrees with icalendar


@pytest.mark.usefixtures("db_backend")
def test_the_folder_reader_reads_what_icalendar_reads() -> None:
    from golden_feeds import SHIPPED_CALENDARS

    from workplan.feed_history import read_items

    paths = sorted(SHIPPED_CALENDARS.glob("*.ics"))
    assert paths
    for path in paths:
        mine = {uid: item for uid, item, _block in read_items(path.read_bytes())}
        theirs = components(path.read_bytes())
        assert set(mine) == set(theirs), path.name
        for uid, c in theirs.items():
            assert mine[uid].sequence == int(c.get("SEQUENCE", 0)), uid
            assert mine[uid].stamp == c["DTSTAMP"].to_ical().decode(), uid
            assert (mine[uid].modified or mine[uid].stamp) == c["LAST-MODIFIED"].to_ical().decode(), uid


# ---------------------------------------------------------------------------
# task feeds


@pytest.mark.usefixtures("db_backend")
def test_task_feeds_are_valid_publish_calendars_even_when_empty(tmp_path: Path) -> None:
    yaml = MINIMAL.replace("  - {id: PA,", "  - {id: IOM, name: IOM, kind: organization}\n  - {id: PA,")
    folder = write_project(tmp_path / "p", yaml)
    assert run_cli(folder, "sync").code == 0
    build(folder, "--todo")
    todo = folder / "calendars" / "todo"
    for path in sorted(todo.glob("*.ics")):
        data = path.read_bytes()
        cal = icalendar.Calendar.from_ical(data)
        assert cal.subcomponents, f"{path.name}: RFC 5545 wants at least one component"
        tasks = list(cal.walk("VTODO"))
        if not tasks:
            assert path.name == "IOM.ics"
            assert "METHOD" not in cal, "PUBLISH (RFC 5546) needs at least one task"
            assert [c.name for c in cal.subcomponents] == ["VTIMEZONE"]
        else:
            assert str(cal["METHOD"]) == "PUBLISH"
        for task in tasks:  # RFC 5546 §3.4.1
            for name in ("DTSTAMP", "DTSTART", "PRIORITY", "SUMMARY", "UID"):
                assert name in task, (path.name, name)
            assert task.decoded("DTSTART") < task.decoded("DUE"), "RFC 5545 §3.8.2.3: DUE later than DTSTART"
        vcal = vobject.readOne(data.decode("utf-8"))
        assert len(getattr(vcal, "vtodo_list", [])) == len(tasks)
        recurring_ical_events.of(cal, components=["VTODO"]).between(date(2000, 1, 1), date(2100, 1, 1))


# ---------------------------------------------------------------------------
# the server: Last-Modified moves whenever the bytes do, across restarts and --as-of


@pytest.mark.usefixtures("db_backend")
def test_the_servers_last_modified_moves_with_the_bytes_across_restarts_and_as_of(tmp_path: Path) -> None:
    from email.utils import parsedate_to_datetime

    from test_web import serving

    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-03-30").code == 0
    served = []
    for as_of in ("2020-05-01", "2020-03-20", "2020-03-20", "2020-05-01"):
        with serving(folder, "--as-of", as_of) as server:
            reply = server.request("/calendars/CR.ics")
            assert reply.status == 200
            served.append((reply.body, reply.headers["etag"], reply.headers["last-modified"]))
            if len(served) > 1:
                body, etag, modified = served[-2]
                asked = server.request("/calendars/CR.ics", headers={"If-Modified-Since": modified})
                if body == reply.body:
                    assert asked.status == 304, "the same bytes keep their Last-Modified"
                else:
                    assert asked.status == 200, f"as of {as_of}: new bytes, yet 304 to the Last-Modified before"
    bodies = [body for body, _etag, _modified in served]
    assert bodies[0] != bodies[1] and bodies[1] == bodies[2] and bodies[3] != bodies[2]
    moments = [parsedate_to_datetime(modified) for _body, _etag, modified in served]
    assert moments[0] < moments[1] == moments[2] < moments[3]


@pytest.mark.usefixtures("db_backend")
def test_the_schedulers_rebuild_continues_the_folder_too(tmp_path: Path) -> None:
    from workplan.scheduler import rebuild_calendars

    first = write_project(tmp_path / "first", MINIMAL + THIRD)
    assert run_cli(first, "sync").code == 0
    assert run_cli(first, "calendars").code == 0
    before = int(feed(first, "PA.ics")["assignment-a3+PA@test.example.org"]["SEQUENCE"])
    clone = fresh_clone(first, MINIMAL, tmp_path / "clone")
    assert run_cli(clone, "sync").code == 0
    rebuild_calendars({"cwd": str(clone), "config": None, "db": None, "file": None})
    gone = feed(clone, "PA.ics")["assignment-a3+PA@test.example.org"]
    assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == before + 1


@pytest.mark.usefixtures("db_backend")
def test_a_restricted_action_is_not_kept_cancelled_in_a_public_rebuild(tmp_path: Path) -> None:
    secret = "  - id: a4\n    title: Secret follow-up\n    owners: [PA]\n    visibility: restricted\n    due: 2020-06-01\n"
    folder = write_project(tmp_path / "p", MINIMAL + secret)
    assert run_cli(folder, "sync").code == 0
    build(folder, "--private")  # by mistake, into the published folder
    assert "assignment-a4+PA@test.example.org" in feed(folder, "PA.ics")
    build(folder)
    for path in (folder / "calendars").glob("*.ics"):
        assert b"Secret follow-up" not in path.read_bytes().replace(b"\r\n ", b""), path.name


@pytest.mark.usefixtures("db_backend")
def test_a_kept_last_modified_that_does_not_read_as_one_is_ignored(tmp_path: Path) -> None:
    import sqlalchemy
    from test_web import serving

    from conftest import database_url

    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    engine = sqlalchemy.create_engine(database_url(folder).replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO meta (key, value) VALUES ('served:x', 'not a moment')"))
    engine.dispose()
    with serving(folder, "--as-of", AS_OF) as server:
        assert server.request("/calendars/CR.ics").status == 200
