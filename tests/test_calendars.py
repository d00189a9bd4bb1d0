"""`workplan calendars`: the feeds as subscribers get them, read back by independent parsers."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date
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
    from workplan.cli.app import App
    from workplan.models import Participant, Party
    from workplan.planning import horizon

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
    from workplan.cli.app import App

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
    assert _queries_for_feed_set(small) == _queries_for_feed_set(large) == 9


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
