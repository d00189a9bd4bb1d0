"""The domain, pure: deadlines, cadence slots, occurrences, overdue / blocked / at risk.

Nothing here opens a database or reads a file; every function takes plain
objects and returns plain objects, so the rules can be read and tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .statuses import CLOSED
from .timeutil import (
    first_period_after,
    next_period_start,
    period_end,
    period_label,
    period_start,
    periods_between,
    start_of_day,
)

if TYPE_CHECKING:
    from . import spec

MAX_OCCURRENCES = 520  # ten years of weekly occurrences; a bound, not a plan
DUE_KINDS = ("date", "meeting", "expected", "none")


# ---------------------------------------------------------------------------
# deadlines


@dataclass(frozen=True)
class CadenceRule:
    """How often meetings of a kind must be held: at least N per period, from a day on."""

    kind: str
    per: str
    at_least: int
    start: date
    report: bool = True  # False: only used to expect slots, never judged (a body whose meetings we don't track)


@dataclass(frozen=True)
class Deadline:
    """A resolved deadline: the local day it falls on, and the exact moment when known."""

    kind: str  # date | meeting | expected | none
    day: date | None = None
    at: datetime | None = None
    meeting: str | None = None  # the meeting it resolved to (kind "meeting")
    next_kind: str = ""  # for "expected": the kind of meeting awaited
    slot: tuple[date, date] | None = None  # for "expected": the cadence slot


NO_DEADLINE = Deadline("none")


def meeting_deadline_day(meeting: spec.Meeting) -> date:
    """The day a deadline "at the meeting" falls on: its first day, or the month's end when
    only the month is known (nobody is late before the month is over)."""
    return meeting.start.last_day if meeting.start.precision == "month" else meeting.start.day


def meeting_last_day(meeting: spec.Meeting) -> date:
    return (meeting.end or meeting.start).last_day


def next_meeting(
    kind: str, after: date, meetings: Iterable[spec.Meeting]
) -> spec.Meeting | None:
    """The first meeting of *kind*, not cancelled, that starts after the day *after*."""
    candidates = [
        m for m in meetings if m.kind == kind and m.status != "cancelled" and m.start.day > after
    ]
    return min(candidates, key=lambda m: (m.start.day, m.id), default=None)


def expected_slot(kind: str, after: date, cadence: Mapping[str, CadenceRule]) -> tuple[date, date] | None:
    """The first cadence slot for meetings of *kind* that begins after the day *after*."""
    rule = cadence.get(kind)
    if rule is None:
        return None
    start = first_period_after(after, rule.per)
    while start < rule.start:
        start = next_period_start(start, rule.per)
    return start, period_end(start, rule.per)


def resolve_due(
    due: spec.DueSpec,
    meetings: Mapping[str, spec.Meeting],
    cadence: Mapping[str, CadenceRule],
) -> Deadline:
    """Turn a deadline as written into a date; it moves when what it refers to moves."""
    shift = timedelta(days=due.offset_days)
    if due.form == "date" and due.when is not None:
        return Deadline("date", due.when.last_day, due.when.at)
    if due.form == "meeting":
        meeting = meetings[due.meeting]
        return _at_meeting(meeting, shift)
    if due.form == "next":
        ref = meetings[due.meeting]
        after = meeting_last_day(ref)
        found = next_meeting(due.next_kind, after, meetings.values())
        if found is not None:
            return _at_meeting(found, shift)
        slot = expected_slot(due.next_kind, after, cadence)
        if slot is None:
            return NO_DEADLINE
        return Deadline("expected", slot[1] + shift, None, None, due.next_kind, slot)
    return NO_DEADLINE


def _at_meeting(meeting: spec.Meeting, shift: timedelta) -> Deadline:
    at = meeting.start.at + shift if meeting.start.at is not None else None
    return Deadline("meeting", meeting_deadline_day(meeting) + shift, at, meeting.id)


# ---------------------------------------------------------------------------
# recurrence


def occurrences(rec: spec.Recurrence, tz: ZoneInfo, horizon: date) -> list[date]:
    """Due dates of a recurring action's occurrences, up to *horizon* (and its ``until``).

    ``repeat: semester`` yields one occurrence per calendar semester that begins on
    or after ``from``, due on the semester's last day; an ``rrule`` yields its dates.
    """
    assert rec.start is not None
    last = min(rec.until, horizon) if rec.until else horizon
    out: list[date] = []
    if rec.repeat:
        start = period_start(rec.start, rec.repeat)
        if start < rec.start:
            start = next_period_start(start, rec.repeat)
        while start <= last and len(out) < MAX_OCCURRENCES:
            out.append(period_end(start, rec.repeat))
            start = next_period_start(start, rec.repeat)
        return out
    from dateutil.rrule import rrulestr

    rule = rrulestr(rec.rrule, dtstart=start_of_day(rec.start, tz))
    for moment in rule:
        day = moment.date()
        if day > last or len(out) >= MAX_OCCURRENCES:
            break
        out.append(day)
    return out


# ---------------------------------------------------------------------------
# assignments to create


@dataclass(frozen=True)
class PlannedAssignment:
    action_id: str
    party_id: str
    occurrence: str  # '' or the occurrence's due date, ISO
    deadline: Deadline


def plan(doc: spec.Document, horizon: date) -> tuple[dict[str, Deadline], list[PlannedAssignment]]:
    """The deadline of every action and the assignments the document asks for.

    Recurring actions get one assignment per party and occurrence up to *horizon*.
    """
    tz = ZoneInfo(doc.group.timezone)
    cadence = {rule.kind: rule for rule in doc.cadence}
    deadlines: dict[str, Deadline] = {}
    planned: list[PlannedAssignment] = []
    for action in doc.actions.values():
        owners = doc.expand(action.owners)
        if action.recurrence is not None:
            days = occurrences(action.recurrence, tz, horizon)
            deadlines[action.id] = Deadline("date", days[0]) if days else NO_DEADLINE
            for day in days:
                deadline = Deadline("date", day)
                planned.extend(PlannedAssignment(action.id, p, day.isoformat(), deadline) for p in owners)
            continue
        deadline = resolve_due(action.due, doc.meetings, cadence)
        deadlines[action.id] = deadline
        planned.extend(PlannedAssignment(action.id, p, "", deadline) for p in owners)
    return deadlines, planned


# ---------------------------------------------------------------------------
# overdue, blocked, at risk


@dataclass
class ActionState:
    """What the readers need to know about an action to judge its dependants."""

    closed: bool
    latest_open_due: date | None = None  # the latest deadline among its open assignments


@dataclass(frozen=True, slots=True)
class Judgement:
    overdue: bool
    days_overdue: int | None
    blocked_by: Sequence[str] = ()
    at_risk: bool = False


SETTLED = Judgement(False, None)  # a closed assignment: never late, waiting on nothing


def judge(
    status: str,
    due_day: date | None,
    due_at: datetime | None,
    depends_on: Sequence[str],
    states: Mapping[str, ActionState],
    as_of: datetime,
    tz: ZoneInfo,
    lookahead_days: int,
) -> Judgement:
    """Derive overdue, blocked and at-risk for one assignment (SPEC §1, status)."""
    return Judge(states, as_of, tz, lookahead_days)(status, due_day, due_at, blockers(depends_on, states))


def blockers(depends_on: Sequence[str], states: Mapping[str, ActionState]) -> list[str]:
    """The dependencies not closed yet: the same for every assignment of an action."""
    return [d for d in depends_on if d in states and not states[d].closed]


class Judge:
    """:func:`judge` for many assignments as of one moment: the as-of day and the look-ahead
    window are worked out once (a listing of 10,000 actions judges 34,000 assignments); the caller
    passes each action's :func:`blockers`, found once for all its assignments."""

    __slots__ = ("states", "as_of", "today", "soon")

    def __init__(self, states: Mapping[str, ActionState], as_of: datetime, tz: ZoneInfo, lookahead_days: int) -> None:
        self.states = states
        self.as_of = as_of
        self.today = as_of.astimezone(tz).date()
        self.soon = self.today + timedelta(days=lookahead_days)

    def __call__(self, status: str, due_day: date | None, due_at: datetime | None,
                 blocked_by: Sequence[str]) -> Judgement:
        if status in CLOSED:
            return SETTLED
        if due_day is None:
            # an ongoing commitment (no deadline): never late, never at risk; it may still wait on others
            return Judgement(False, None, blocked_by, False)
        # due before the as-of moment; a deadline without a time is met by anything done on that day
        overdue = due_at < self.as_of if due_at is not None else due_day < self.today
        at_risk = False
        if blocked_by:
            if due_day <= self.soon:
                at_risk = True
            else:
                states = self.states
                for dep in blocked_by:
                    dep_due = states[dep].latest_open_due
                    if dep_due is not None and dep_due > due_day:
                        at_risk = True
                        break
        return Judgement(overdue, (self.today - due_day).days if overdue else None, blocked_by, at_risk)


def blocked_chains(depends_on: Mapping[str, Sequence[str]], open_actions: set[str]) -> list[list[str]]:
    """Maximal chains of open actions where each waits on the one before: ``[draft, discussion, approval]``.

    A chain starts at an open action that waits on no open action and ends at one that no
    open action waits on; only chains of two or more are returned.
    """
    waits = {a: [d for d in deps if d in open_actions] for a, deps in depends_on.items() if a in open_actions}
    dependants: dict[str, list[str]] = {}
    for action, deps in waits.items():
        for dep in deps:
            dependants.setdefault(dep, []).append(action)
    roots = sorted(a for a in open_actions if not waits.get(a) and a in dependants)
    chains: list[list[str]] = []

    def walk(path: list[str]) -> None:
        nexts = sorted(dependants.get(path[-1], []))
        if not nexts:
            chains.append(path)
            return
        for nxt in nexts:
            if nxt not in path and len(chains) < 1000:
                walk([*path, nxt])

    for root in roots:
        walk([root])
    return [c for c in chains if len(c) > 1]


# ---------------------------------------------------------------------------
# cadence compliance


def meeting_status(declared: str, start_day: date, as_of_day: date) -> str:
    """A meeting's status as of a day: the file records what happened, so a meeting recorded as
    ``held`` that starts after *as_of_day* was, on that day, still ``planned``."""
    if declared == "held" and start_day > as_of_day:
        return "planned"
    return declared


@dataclass(frozen=True)
class MeetingFact:
    id: str
    kind: str
    status: str
    start_day: date


@dataclass
class PeriodCompliance:
    kind: str
    per: str
    label: str
    start: date
    end: date
    required: int
    held: list[str]
    scheduled: list[str]
    verdict: str  # met | scheduled | missed | pending | partial


def compliance(
    rules: Iterable[CadenceRule], meetings: Iterable[MeetingFact], as_of_day: date
) -> list[PeriodCompliance]:
    """For every cadence rule, each period from its start to the one containing *as_of_day*.

    A held meeting counts (once it has begun, see :func:`meeting_status`); a planned one counts
    as *scheduled*. The first period, when the
    rule starts in its middle, is ``partial`` rather than ``missed``: nobody agreed to it in full.
    """
    meetings = [MeetingFact(m.id, m.kind, meeting_status(m.status, m.start_day, as_of_day), m.start_day)
                for m in meetings if m.status != "cancelled"]
    out: list[PeriodCompliance] = []
    for rule in rules:
        if not rule.report:
            continue
        for start, end in periods_between(rule.start, max(as_of_day, rule.start), rule.per):
            inside = [m for m in meetings if m.kind == rule.kind and start <= m.start_day <= end]
            held = sorted(m.id for m in inside if m.status == "held")
            scheduled = sorted(m.id for m in inside if m.status == "planned")
            if len(held) >= rule.at_least:
                verdict = "met"
            elif len(held) + len(scheduled) >= rule.at_least:
                verdict = "scheduled"
            elif start < rule.start:
                verdict = "partial"
            elif end < as_of_day:
                verdict = "missed"
            else:
                verdict = "pending"
            out.append(
                PeriodCompliance(rule.kind, rule.per, period_label(start, rule.per), start, end,
                                 rule.at_least, held, scheduled, verdict)
            )
    return out
