"""Feeds keep their update promise over time: SEQUENCE only rises, DTSTAMP never comes from the
future, and an item once published is never dropped without a STATUS:CANCELLED, also when the
feeds are rebuilt from a fresh database over the folder that holds them (how calendars/ is
refreshed)."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
import vobject

from conftest import MINIMAL, run_cli, write_project

pytestmark = pytest.mark.usefixtures("db_backend")

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


def test_reordering_the_meetings_changes_nothing(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", FUTURE)
    assert run_cli(folder, "sync").code == 0
    m1 = "  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}\n"
    assert m1 in FUTURE
    swapped = FUTURE.replace(m1, "").replace("cadence:", m1 + "cadence:")
    (folder / "actions.yaml").write_text(swapped, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert result.code == 0 and result.out == "nothing changed\n", result.out


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


def test_a_restricted_action_is_not_kept_cancelled_in_a_public_rebuild(tmp_path: Path) -> None:
    secret = "  - id: a4\n    title: Secret follow-up\n    owners: [PA]\n    visibility: restricted\n    due: 2020-06-01\n"
    folder = write_project(tmp_path / "p", MINIMAL + secret)
    assert run_cli(folder, "sync").code == 0
    build(folder, "--private")  # by mistake, into the published folder
    assert "assignment-a4+PA@test.example.org" in feed(folder, "PA.ics")
    build(folder)
    for path in (folder / "calendars").glob("*.ics"):
        assert b"Secret follow-up" not in path.read_bytes().replace(b"\r\n ", b""), path.name


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
