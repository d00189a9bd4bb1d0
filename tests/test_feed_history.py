"""Feeds keep their update promise over time: SEQUENCE only rises, DTSTAMP never comes from the
future, and an item once published is never dropped without a STATUS:CANCELLED, also when the
feeds are rebuilt from a fresh database over the folder that holds them (how calendars/ is
refreshed)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest

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


def test_restoring_a_withdrawn_action_raises_its_sequence_past_the_cancelled_one(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL + THIRD)
    assert run_cli(folder, "sync").code == 0
    build(folder)
    uid = "assignment-a3+PA@test.example.org"
    sequences = [int(feed(folder, "PA.ics")[uid]["SEQUENCE"])]
    for yaml in (MINIMAL, MINIMAL + THIRD):
        (folder / "actions.yaml").write_text(yaml, encoding="utf-8")
        assert run_cli(folder, "sync").code == 0
        build(folder)
        item = feed(folder, "PA.ics")[uid]
        sequences.append(int(item["SEQUENCE"]))
    assert str(item["STATUS"]) == "CONFIRMED"
    assert sequences[0] < sequences[1] < sequences[2], sequences
    action = feed(folder, "all.ics")["action-a3@test.example.org"]
    assert str(action["STATUS"]) == "CONFIRMED" and int(action["SEQUENCE"]) >= 2


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
