"""Hostile text in titles and notes cannot add properties or events to a calendar feed (issue 8)."""

from __future__ import annotations

from pathlib import Path

from conftest import MINIMAL, run_cli, write_project

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
