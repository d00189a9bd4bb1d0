"""The pure domain rules, without a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workplan import planning, spec
from workplan.timeutil import When, parse_offset, parse_when

PANAMA = ZoneInfo("America/Panama")


def meeting(mid: str, kind: str, start: str, end: str | None = None, status: str = "held") -> spec.Meeting:
    return spec.Meeting(mid, mid, kind, parse_when(start, PANAMA), parse_when(end, PANAMA) if end else None,
                        "America/Panama", "", "", status, "", spec.Pos(1, 1))


MEETINGS = {
    "ahg-2018-05": meeting("ahg-2018-05", "face-to-face", "2018-05-31", "2018-06-01"),
    "ahg-2016-09": meeting("ahg-2016-09", "face-to-face", "2016-09", status="planned"),
}
CADENCE = {
    "virtual": planning.CadenceRule("virtual", "semester", 1, date(2018, 6, 1)),
    "face-to-face": planning.CadenceRule("face-to-face", "year", 1, date(2018, 6, 1)),
}


def test_date_deadline() -> None:
    d = planning.resolve_due(spec.DueSpec("date", when=When(date(2016, 7, 28))), MEETINGS, CADENCE)
    assert (d.kind, d.day) == ("date", date(2016, 7, 28))


def test_meeting_deadline_with_offset() -> None:
    d = planning.resolve_due(spec.DueSpec("meeting", meeting="ahg-2018-05", offset_days=-14), MEETINGS, CADENCE)
    assert (d.kind, d.day, d.meeting) == ("meeting", date(2018, 5, 17), "ahg-2018-05")


def test_month_only_meeting_is_due_at_month_end() -> None:
    d = planning.resolve_due(spec.DueSpec("meeting", meeting="ahg-2016-09"), MEETINGS, CADENCE)
    assert d.day == date(2016, 9, 30)


def test_next_virtual_expected_in_second_semester() -> None:
    due = spec.DueSpec("next", meeting="ahg-2018-05", next_kind="virtual")
    d = planning.resolve_due(due, MEETINGS, CADENCE)
    assert (d.kind, d.day, d.slot) == ("expected", date(2018, 12, 31), (date(2018, 7, 1), date(2018, 12, 31)))


def test_next_virtual_resolves_to_scheduled_meeting_and_ignores_cancelled() -> None:
    meetings = dict(MEETINGS)
    meetings["v-cancelled"] = meeting("v-cancelled", "virtual", "2018-08-01", status="cancelled")
    meetings["v-1"] = meeting("v-1", "virtual", "2018-10-04T09:00", status="planned")
    meetings["v-2"] = meeting("v-2", "virtual", "2018-11-04", status="planned")
    d = planning.resolve_due(spec.DueSpec("next", meeting="ahg-2018-05", next_kind="virtual", offset_days=-14),
                             meetings, CADENCE)
    assert (d.kind, d.meeting, d.day) == ("meeting", "v-1", date(2018, 9, 20))
    assert d.at == datetime(2018, 9, 20, 9, 0, tzinfo=PANAMA)


def test_next_face_to_face_expected_next_year() -> None:
    d = planning.resolve_due(spec.DueSpec("next", meeting="ahg-2018-05", next_kind="face-to-face"), MEETINGS, CADENCE)
    assert d.day == date(2019, 12, 31)


def test_next_without_cadence_is_to_be_scheduled() -> None:
    # issue 21: no date and never overdue, until a meeting of that kind is added
    d = planning.resolve_due(spec.DueSpec("next", meeting="ahg-2018-05", next_kind="other"), MEETINGS, CADENCE)
    assert (d.kind, d.day, d.next_kind) == ("unscheduled", None, "other")
    assert planning.to_be_scheduled(d.kind)


@pytest.mark.parametrize(("text", "days"), [("-14d", -14), ("+2w", 14), ("3d", 3), ("-1w", -7)])
def test_offsets(text: str, days: int) -> None:
    assert parse_offset(text).days == days


@pytest.mark.parametrize("text", ["14", "two weeks", "-14m", "", "d"])
def test_bad_offsets(text: str) -> None:
    with pytest.raises(ValueError, match="does not parse"):
        parse_offset(text)


def test_semester_occurrences() -> None:
    rec = spec.Recurrence(repeat="semester", start=date(2018, 6, 1), until=date(2019, 12, 31))
    assert planning.occurrences(rec, PANAMA, date(2030, 1, 1)) == [
        date(2018, 12, 31), date(2019, 6, 30), date(2019, 12, 31)]


def test_rrule_occurrences_stop_at_horizon() -> None:
    rec = spec.Recurrence(rrule="FREQ=MONTHLY;BYMONTHDAY=15", start=date(2019, 1, 1))
    assert planning.occurrences(rec, PANAMA, date(2019, 3, 31)) == [
        date(2019, 1, 15), date(2019, 2, 15), date(2019, 3, 15)]


_BY = {
    "BYMONTH": st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True),
    "BYMONTHDAY": st.lists(st.sampled_from([1, 13, 15, 28, -1, -7]), min_size=1, max_size=2, unique=True),
    "BYDAY": st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1, max_size=3, unique=True),
    "WKST": st.sampled_from([["MO"], ["SU"]]),
}


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]),
       st.dictionaries(st.sampled_from(sorted(_BY)), st.just(None), max_size=3).flatmap(
           lambda keys: st.fixed_dictionaries({k: _BY[k] for k in keys})),
       st.integers(0, 1500))
def test_the_yearly_probe_agrees_with_dateutil(freq: str, by: dict[str, list[object]], offset: int) -> None:
    """first_occurrence reads a DAILY, WEEKLY or MONTHLY rule as the YEARLY one with the same
    days (dateutil would walk a rule that never matches day by day to the year 9999): the days
    must be dateutil's own, and every value here matches some day."""
    parts = {"FREQ": freq, **{k: ",".join(map(str, v)) for k, v in by.items()}}
    start = date(2020, 1, 1) + timedelta(days=offset)
    rule, _count = planning.recurrence_rule(parts, start, PANAMA, date(2060, 12, 31))
    probe, _count = planning.recurrence_rule(planning._as_yearly(parts, start), start, PANAMA, date(2060, 12, 31))
    assert list(islice(rule, 30)) == list(islice(probe, 30)), parts


@pytest.mark.parametrize("rule", ["FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31",
                                  "FREQ=MONTHLY;BYMONTH=6;BYMONTHDAY=-31", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                                  "FREQ=MONTHLY;BYDAY=6FR", "FREQ=MONTHLY;COUNT=0"])
def test_a_rule_that_never_matches_has_no_first_occurrence(rule: str) -> None:
    assert planning.first_occurrence(spec.Recurrence(rrule=rule, start=date(2020, 1, 1)), PANAMA) is None


AS_OF = datetime(2019, 1, 15, 23, 59, tzinfo=PANAMA)


def test_overdue_rules() -> None:
    def overdue(status: str, due_day: date | None, due_at: datetime | None = None) -> bool:
        return planning.judge(status, due_day, due_at, [], {}, AS_OF, PANAMA, 14).overdue

    assert overdue("open", date(2019, 1, 14))
    assert not overdue("open", date(2019, 1, 15))  # due today is not late
    assert not overdue("done", date(2018, 1, 1))
    assert not overdue("open", None)  # ongoing commitments never are
    assert overdue("in_progress", date(2019, 1, 15), datetime(2019, 1, 15, 9, tzinfo=PANAMA))
    j = planning.judge("open", date(2019, 1, 5), None, [], {}, AS_OF, PANAMA, 14)
    assert j.days_overdue == 10 and not j.at_risk and not j.blocked_by


def test_blocked_and_at_risk() -> None:
    states = {
        "draft": planning.ActionState(closed=False, latest_open_due=date(2019, 3, 1)),
        "done-dep": planning.ActionState(closed=True),
    }
    j = planning.judge("open", date(2019, 2, 1), None, ["draft", "done-dep"], states, AS_OF, PANAMA, 14)
    assert j.blocked_by == ["draft"]
    assert j.at_risk  # its dependency is due after it
    j = planning.judge("open", date(2019, 1, 20), None, ["done-dep"], states, AS_OF, PANAMA, 14)
    assert not j.blocked_by and not j.at_risk
    states["draft"] = planning.ActionState(closed=False, latest_open_due=date(2019, 1, 1))
    j = planning.judge("open", date(2019, 1, 25), None, ["draft"], states, AS_OF, PANAMA, 14)
    assert j.at_risk  # blocked and due within the look-ahead window
    j = planning.judge("open", date(2019, 6, 25), None, ["draft"], states, AS_OF, PANAMA, 14)
    assert j.blocked_by == ["draft"] and not j.at_risk


def test_blocked_chain() -> None:
    deps = {"discussion": ["draft"], "approval": ["discussion"], "other": []}
    chains = planning.blocked_chains(deps, {"draft", "discussion", "approval", "other"})
    assert chains == [["draft", "discussion", "approval"]]
    assert planning.blocked_chains(deps, {"discussion", "approval"}) == [["discussion", "approval"]]


def test_compliance_verdicts() -> None:
    facts = [
        planning.MeetingFact("f2018", "face-to-face", "held", date(2018, 5, 31)),
        planning.MeetingFact("v2019a", "virtual", "held", date(2019, 3, 1)),
        planning.MeetingFact("v2019b", "virtual", "planned", date(2019, 9, 1)),
        planning.MeetingFact("v2020", "virtual", "cancelled", date(2020, 2, 1)),
    ]
    result = planning.compliance(CADENCE.values(), facts, date(2020, 3, 1))
    virtual = {p.label: p.verdict for p in result if p.kind == "virtual"}
    assert virtual == {"2018-S1": "partial", "2018-S2": "missed", "2019-S1": "met", "2019-S2": "scheduled",
                       "2020-S1": "pending"}
    face = {p.label: p.verdict for p in result if p.kind == "face-to-face"}
    assert face == {"2018": "met", "2019": "missed", "2020": "pending"}


def test_a_meeting_recorded_held_is_planned_before_it_begins() -> None:
    assert planning.meeting_status("held", date(2018, 5, 31), date(2018, 5, 30)) == "planned"
    assert planning.meeting_status("held", date(2018, 5, 31), date(2018, 5, 31)) == "held"
    assert planning.meeting_status("cancelled", date(2018, 5, 31), date(2018, 5, 1)) == "cancelled"
    facts = [planning.MeetingFact("f2018", "face-to-face", "held", date(2018, 5, 31))]
    before = planning.compliance(CADENCE.values(), facts, date(2018, 5, 1))
    face = next(p for p in before if p.kind == "face-to-face" and p.label == "2018")
    assert (face.verdict, face.held, face.scheduled) == ("scheduled", [], ["f2018"])


# open commitments without a deadline (issue 18): never overdue, aged from their source meeting
def test_the_rule_and_the_age() -> None:
    assert planning.open_without_deadline("open", None) and planning.open_without_deadline("in_progress", None)
    assert not planning.open_without_deadline("open", date(2020, 1, 1))
    for closed in ("done", "waived", "cancelled"):
        assert not planning.open_without_deadline(closed, None)
    today = date(2020, 6, 1)
    assert planning.commitment_age(date(2020, 3, 11), today) == 82
    assert planning.commitment_age(today, today) == 0
    assert planning.commitment_age(None, today) is None
    assert planning.commitment_age(date(2020, 6, 2), today) is None  # agreed after the day asked about
