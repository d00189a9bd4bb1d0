"""The iCalendar renderer alone: plain objects in, bytes out, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import icalendar
import vobject

from workplan.feeds import FeedAction, FeedAssignment, FeedMeeting, FeedParty, FeedSet
from workplan.queries import GroupInfo
from workplan.render.ical import (
    Component,
    action_deadline,
    assignment_deadline,
    day_text,
    deadline_event,
    deadline_todo,
    meeting_event,
    render_feeds,
)

GROUP = GroupInfo("g", "Test Group", "America/Panama", "test.example.org")
T0 = datetime(2020, 1, 1, 5, 0)


def meeting(mid: str = "m", **kw: object) -> FeedMeeting:
    base = FeedMeeting(
        id=mid, title="A meeting", kind="virtual", start="2020-03-10", end=None, start_day=date(2020, 3, 10),
        end_day=date(2020, 3, 10), precision="date", timezone="America/Panama", location="", url="",
        description="", status="planned", withdrawn=False, sequence=0, modified=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def assignment(party: str, status: str = "open", **kw: object) -> FeedAssignment:
    base = FeedAssignment(
        action_id="a", party=party, occurrence="", due_date=date(2020, 4, 1), due_at=None, due_kind="date",
        due_meeting=None, status=status, status_since=None, withdrawn=False, sequence=0, modified=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def action(*owners: FeedAssignment, **kw: object) -> FeedAction:
    base = FeedAction(
        id="a", title="Do it", description="", source_meeting="", source_meeting_title="", source_ref="",
        source_text="", due_spec={"form": "date"}, visibility="public", withdrawn=False, sequence=0, modified=T0,
        with_=(), depends_on=(), assignments=tuple(owners),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def feeds(meetings: tuple[FeedMeeting, ...] = (), actions: tuple[FeedAction, ...] = (),
          parties: tuple[str, ...] = ("CR",)) -> dict[str, bytes]:
    return render_feeds(FeedSet(GROUP, tuple(FeedParty(p, p) for p in parties), meetings, actions))


def events(data: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}


def test_a_timed_meeting_is_in_its_own_zone_with_the_vtimezone_it_references() -> None:
    madrid = meeting("md", precision="datetime", start="2020-10-26T09:00:00+01:00", end="2020-10-27T13:00:00+01:00",
                     start_day=date(2020, 10, 26), end_day=date(2020, 10, 27), timezone="Europe/Madrid")
    data = feeds((madrid,))["meetings.ics"]
    assert b"DTSTART;TZID=Europe/Madrid:20201026T090000\r\n" in data
    assert b"DTEND;TZID=Europe/Madrid:20201027T130000\r\n" in data
    cal = icalendar.Calendar.from_ical(data)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Madrid"]
    assert cal.get_missing_tzids() == set()
    start = events(data)["meeting-md@test.example.org"].decoded("DTSTART")
    assert start == datetime(2020, 10, 26, 9, tzinfo=ZoneInfo("Europe/Madrid"))
    # vobject resolves the zone from the VTIMEZONE in the file, and agrees on the moment
    vo = vobject.readOne(data.decode())
    assert vo.vevent.dtstart.value.utcoffset() == start.utcoffset()


def test_date_only_feeds_carry_no_vtimezone() -> None:
    assert b"VTIMEZONE" not in feeds((meeting(),))["meetings.ics"]


def test_a_timed_start_with_only_an_end_date_lasts_until_the_end_of_that_day() -> None:
    m = meeting(precision="datetime", start="2020-03-10T09:00:00-05:00", end="2020-03-11",
                end_day=date(2020, 3, 11))
    ev = events(feeds((m,))["meetings.ics"])["meeting-m@test.example.org"]
    assert ev.decoded("DTEND") == datetime(2020, 3, 12, tzinfo=ZoneInfo("America/Panama"))


def test_meeting_statuses() -> None:
    got = events(feeds((
        meeting("held", status="held"), meeting("planned"), meeting("off", status="cancelled"),
        meeting("gone", status="held", withdrawn=True),
        meeting("month", status="held", precision="month", start="2020-09", start_day=date(2020, 9, 1),
                end_day=date(2020, 9, 30)),
    ))["meetings.ics"])
    status = {uid.split("@")[0]: str(e["STATUS"]) for uid, e in got.items()}
    assert status == {"meeting-held": "CONFIRMED", "meeting-planned": "TENTATIVE", "meeting-off": "CANCELLED",
                      "meeting-gone": "CANCELLED", "meeting-month": "TENTATIVE"}
    month = got["meeting-month@test.example.org"]
    assert "sometime in September 2020; day not fixed" in str(month["SUMMARY"])
    assert (month.decoded("DTSTART"), month.decoded("DTEND")) == (date(2020, 9, 1), date(2020, 10, 1))


def test_all_ics_names_only_the_owners_still_open_and_counts_the_rest() -> None:
    owners = [assignment(p) for p in ("AA", "BB", "CC", "DD", "EE", "FF", "GG", "HH")]
    owners[0] = replace(owners[0], status="done")
    data = feeds(actions=(action(*owners),), parties=())["all.ics"]
    summary = str(events(data)["action-a@test.example.org"]["SUMMARY"])
    assert summary == "Due: Do it — BB, CC, DD, EE, FF, GG +1 more"


def test_an_action_closed_by_every_owner_reads_done_or_closed() -> None:
    done = feeds(actions=(action(assignment("AA", "done"), assignment("BB", "done")),), parties=())["all.ics"]
    assert str(events(done)["action-a@test.example.org"]["SUMMARY"]) == "✓ Done: Do it"
    mixed = feeds(actions=(action(assignment("AA", "done"), assignment("BB", "waived")),), parties=())["all.ics"]
    assert str(events(mixed)["action-a@test.example.org"]["SUMMARY"]) == "✓ Closed: Do it"


def test_recurring_occurrences_get_their_own_uids_in_every_feed() -> None:
    occ = [assignment("CR", occurrence=d.isoformat(), due_date=d) for d in (date(2020, 6, 30), date(2020, 12, 31))]
    out = feeds(actions=(action(*occ),))
    assert sorted(events(out["CR.ics"])) == ["assignment-a+CR+2020-06-30@test.example.org",
                                             "assignment-a+CR+2020-12-31@test.example.org"]
    assert sorted(events(out["all.ics"])) == ["action-a+2020-06-30@test.example.org",
                                              "action-a+2020-12-31@test.example.org"]


def test_a_party_taking_part_sees_the_action_event_unless_it_also_owns_it() -> None:
    out = feeds(actions=(action(assignment("CR"), with_=("CR", "PA")),), parties=("CR", "PA"))
    assert list(events(out["CR.ics"])) == ["assignment-a+CR@test.example.org"]
    assert list(events(out["PA.ics"])) == ["action-a@test.example.org"]
    # the shared event is the very same bytes in all.ics and in PA's feed
    assert out["PA.ics"].split(b"BEGIN:VEVENT", 1)[1] == out["all.ics"].split(b"BEGIN:VEVENT", 1)[1]


def test_long_non_ascii_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    title = "Reunión Técnica — Migración, año 2018; acción " * 6
    data = feeds((meeting(title=title.strip()),))["meetings.ics"]
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # every folded line is valid UTF-8 on its own
    assert str(events(data)["meeting-m@test.example.org"]["SUMMARY"]) == title.strip()


def test_dates_are_written_the_same_whatever_the_locale() -> None:
    assert day_text(date(2018, 12, 31)) == "31 December 2018"


def test_dtstamp_and_last_modified_come_from_the_data() -> None:
    m = meeting(modified=datetime(2019, 5, 6, 7, 8, 9))
    ev = events(feeds((m,))["meetings.ics"])["meeting-m@test.example.org"]
    assert ev.decoded("DTSTAMP") == ev.decoded("LAST-MODIFIED") == datetime(2019, 5, 6, 7, 8, 9, tzinfo=ZoneInfo("UTC"))


# ---------------------------------------------------------------------------
# the fast component writer gives exactly icalendar's bytes


def _reference(component: Component) -> bytes:
    """The same properties written by icalendar itself."""
    ref = icalendar.Event() if component.name == "VEVENT" else icalendar.Todo()
    for name, value in component.properties.items():
        ref.add(name, value)
    return ref.to_ical()  # type: ignore[no-any-return]


TRICKY = [
    "Reunión Técnica — Migración, año 2018; acción\ny una segunda línea",
    "a\\b; c, d\r\ne\rf",
    "x" * 73 + "\\;" + "y" * 80,  # an escape right at a fold
    "é" * 40 + "—" * 30,  # multi-octet characters across folds
    "🙂" * 25,
    "",
]


def test_the_component_writer_matches_icalendar_byte_for_byte() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    for text in TRICKY:
        for name in ("VEVENT", "VTODO"):
            c = Component(name)
            c.add("uid", f"x+{len(text)}@test.example.org")
            c.add("dtstamp", datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
            c.add("sequence", 12)
            c.add("summary", text)
            c.add("description", text + text)
            c.add("categories", ["Deadline", text])
            c.add("url", "https://example.org/a?b=c,d;e")
            if name == "VEVENT":
                c.add("dtstart", datetime(2020, 10, 26, 9, tzinfo=madrid))
                c.add("dtend", date(2020, 10, 27))
                c.add("location", text)
            else:
                c.add("due", date(2020, 10, 27))
                c.add("percent-complete", 100)
            assert c.to_ical() == _reference(c), (name, text)


def test_every_component_of_the_golden_workplan_matches_icalendar() -> None:
    occ = [assignment("CR", occurrence="2020-06-30", due_date=date(2020, 6, 30), status="done",
                      status_since=datetime(2020, 6, 1, tzinfo=ZoneInfo("America/Panama")))]
    for d in (assignment_deadline(action(*occ), occ[0], {}, {}), action_deadline(action(*occ), occ, {}, {})):
        for c in (deadline_event(d, "t.example.org"), deadline_todo(d, "t.example.org")):
            assert c.to_ical() == _reference(c)
    m = meeting(precision="datetime", start="2020-03-10T09:00:00-05:00", end="2020-03-11",
                end_day=date(2020, 3, 11), url="https://x.example.org", location="Sala 1, piso 2")
    c = meeting_event(m, "t.example.org")
    assert c.to_ical() == _reference(c)
