"""The domain, pure: deadlines, cadence slots, occurrences, overdue / blocked / at risk.

Nothing here opens a database or reads a file; every function takes plain
objects and returns plain objects, so the rules can be read and tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

from .errors import HistoryError
from .i18n import current, word
from .i18n import gettext as _
from .statuses import CLOSED
from .timeutil import (
    LAST_YEAR,
    When,
    end_of_day,
    first_period_after,
    next_period_start,
    parse_rrule_until,
    period_end,
    period_label,
    period_start,
    periods_between,
    start_of_day,
)

if TYPE_CHECKING:
    from dateutil import rrule as rrules

    from . import spec

MAX_OCCURRENCES = 520  # ten years of weekly occurrences; a bound, not a plan
# "unscheduled": at the next meeting of a kind (or of another body) that no cadence rule expects
# and none is scheduled: *to be scheduled*, no date, never overdue, until such a meeting is added
DUE_KINDS = ("date", "meeting", "expected", "none", "unscheduled")


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


class Scheduled(Protocol):
    """A meeting as the rules below read it (the file's, or a listing's row)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def start_day(self) -> date: ...
    @property
    def body(self) -> str: ...


M = TypeVar("M", bound=Scheduled)


# ---------------------------------------------------------------------------
# meetings of other bodies (``body:`` or ``kind: external``)


def is_external(meeting: Scheduled) -> bool:
    """Another body's meeting: ``kind: external``, or one that names its ``body:``."""
    return meeting.kind == "external" or bool(meeting.body)


def counts_for_cadence(meeting: Scheduled, kind: str) -> bool:
    """Whether *meeting* is one of the group's own meetings of *kind* that a cadence rule counts:
    not cancelled, and never another body's meeting (SPEC §7)."""
    return meeting.kind == kind and not is_external(meeting) and meeting.status != "cancelled"


def is_of(meeting: Scheduled, kind: str | None) -> bool:
    """Whether *meeting* is what "the next *kind* meeting" names: of any of the group's own
    kinds (None); of a kind of the group's own; or, for another body's meeting, its body's name
    (or ``external``)."""
    if is_external(meeting):
        return kind is not None and kind in (meeting.body, "external")
    return kind is None or meeting.kind == kind


def marked_title(title: str, kind: str, body: str) -> str:
    """A meeting's title as listings, agendas, the board and feeds show it: another body's
    meeting says so, so nobody takes it for one of the group's own."""
    if body:
        return _("{title} (meeting of {body}, not of this group)").format(title=title, body=body)
    if kind == "external":
        return _("{title} (another body's meeting, not of this group)").format(title=title)
    return title


def next_meeting(kind: str | None, after: date, meetings: Iterable[M], *, inclusive: bool = False) -> M | None:
    """The first meeting of *kind* (of the group's own, of any kind: None; or of another body,
    by its name), not cancelled, that starts after the day *after* (or on it: *inclusive*); of
    two on one day, the first by id."""
    candidates = [m for m in meetings if is_of(m, kind) and m.status != "cancelled"
                  and (m.start_day >= after if inclusive else m.start_day > after)]
    return min(candidates, key=lambda m: (m.start_day, m.id), default=None)


def expected_slot(rule: CadenceRule, first: date, meetings: Sequence[Scheduled]) -> tuple[date, date]:
    """Where the next meeting of the rule's kind is expected: the first slot of *rule*, from the
    one holding the day *first* (and none before the rule's start), that the rule requires and
    that does not yet hold enough meetings of its kind (not cancelled).

    A deadline "at the next meeting after X" looks from the first slot that begins after X
    (SPEC §2); the agenda and the digest from the slot holding the as-of day."""
    start = period_start(first, rule.per)
    while start < rule.start:
        start = next_period_start(start, rule.per)
    for _attempt in range(1000):
        end = period_end(start, rule.per)
        count = sum(1 for m in meetings if counts_for_cadence(m, rule.kind) and start <= m.start_day <= end)
        if count < rule.at_least:
            break
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
        rule = cadence.get(due.next_kind)
        if rule is None:  # nothing expects one (another body's meetings never have a rule)
            return Deadline("unscheduled", next_kind=due.next_kind)
        # none of its kind is scheduled after *after*: the slots from then on hold none
        slot = expected_slot(rule, first_period_after(after, rule.per), ())
        return Deadline("expected", slot[1] + shift, None, None, due.next_kind, slot)
    return NO_DEADLINE


def to_be_scheduled(due_kind: str) -> bool:
    """A deadline at a meeting nobody can date yet: listed as *to be scheduled*, never overdue."""
    return due_kind == "unscheduled"


def _at_meeting(meeting: spec.Meeting, shift: timedelta) -> Deadline:
    at = meeting.start.at + shift if meeting.start.at is not None else None
    return Deadline("meeting", meeting_deadline_day(meeting) + shift, at, meeting.id)


# ---------------------------------------------------------------------------
# recurrence


class RecurrenceError(ValueError):
    """An ``rrule`` that workplan cannot expand into days; the message is the user's sentence."""


DAY_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_TIME_OF_DAY = ("BYHOUR", "BYMINUTE", "BYSECOND")
# RFC 5545's ranges (dateutil expands a value outside them into nothing, every day, or a crash);
# True: also counted from the end, with a minus. BYEASTER is dateutil's: days from Easter Sunday.
_RANGES = {"BYMONTH": (1, 12, False), "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True),
           "BYWEEKNO": (1, 53, True), "BYSETPOS": (1, 366, True), "BYDAY": (1, 53, True), "BYEASTER": (0, 366, True)}
_ORDINAL_RE = re.compile(r"^([+-]?\d+)?([A-Z]*)$")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_FILTERS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER")
END_OF_PLANNING = date(LAST_YEAR, 12, 31)  # no occurrence is looked for beyond it


def rule_parts(text: str) -> dict[str, str]:
    """The parts of an ``rrule:`` (``FREQ=MONTHLY;BYMONTHDAY=15``), refused with a sentence
    (RecurrenceError) when workplan cannot expand them into days: occurrences are days, each
    with one assignment per owner, so a rule repeating within a day (FREQ=HOURLY, BYHOUR=3,4,
    INTERVAL=0) is refused here rather than left to collide in the database."""
    value = text.strip()
    if value[:6].upper() == "RRULE:":
        value = value[6:]
    if "\n" in value or ":" in value:
        raise RecurrenceError(_("an rrule takes one RRULE value such as FREQ=MONTHLY;BYMONTHDAY=15; "
                                "its first day is 'from'"))
    parts: dict[str, str] = {}
    for part in filter(None, value.split(";")):
        key, _eq, val = part.partition("=")
        parts[key.strip().upper()] = val.strip().upper()
    if "FREQ" not in parts:
        raise RecurrenceError(_("the rule lacks FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)"))
    if parts["FREQ"] in ("HOURLY", "MINUTELY", "SECONDLY"):
        raise RecurrenceError(_("occurrences are days, so FREQ is DAILY, WEEKLY, MONTHLY or YEARLY, not {freq}")
                              .format(freq=parts["FREQ"]))
    if parts["FREQ"] not in DAY_FREQUENCIES:
        raise RecurrenceError(_("FREQ is DAILY, WEEKLY, MONTHLY or YEARLY, not {freq!r}").format(freq=parts["FREQ"]))
    for key in _TIME_OF_DAY:
        if key in parts:
            raise RecurrenceError(_("{key}: occurrences are whole days, so the rule takes no time of day")
                                  .format(key=key))
    for key, (low, high, signed) in _RANGES.items():
        for item in parts.get(key, "").split(","):
            m = _ORDINAL_RE.match(item.strip())
            number = int(m.group(1)) if m and m.group(1) else None
            if number is None:
                continue  # a weekday without an ordinal, or something dateutil will not read either
            if not low <= (abs(number) if signed else number) <= high:
                message = (_("{part!r} is out of range: {key} takes {low} to {high}, or the same counted from the "
                             "end with a minus") if signed else _("{part!r} is out of range: {key} takes {low} to {high}"))
                raise RecurrenceError(message.format(part=f"{key}={parts[key]}", key=key, low=low, high=high))
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and int(parts["INTERVAL"]) >= 1):
        raise RecurrenceError(_("INTERVAL must be a whole number from 1, not {value!r}").format(value=parts["INTERVAL"]))
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError(_("COUNT and UNTIL cannot go together (RFC 5545); keep one"))
    if "COUNT" in parts and not parts["COUNT"].lstrip("-").isdigit():
        raise RecurrenceError(_("COUNT must be a whole number, not {value!r}").format(value=parts["COUNT"]))
    return parts


def recurrence_rule(parts: dict[str, str], start: date, tz: ZoneInfo, last: date) -> tuple[rrules.rrule, int | None]:
    """The rule of :func:`rule_parts` as dateutil expands it from the local day *start* up to the
    day *last* (and its UNTIL), and its COUNT, which the caller applies (dateutil warns about a
    rule with both). Raises RecurrenceError with a sentence about the rule."""
    from dateutil.rrule import rrule, rrulestr

    parts = dict(parts)
    count = max(int(parts.pop("COUNT")), 0) if "COUNT" in parts else None
    bound = end_of_day(min(last, END_OF_PLANNING), tz)
    if "UNTIL" in parts:
        try:
            bound = min(bound, parse_rrule_until(parts.pop("UNTIL"), tz))
        except ValueError as exc:
            raise RecurrenceError(str(exc)) from None
    dtstart = start_of_day(start, tz)
    try:
        rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=dtstart)
    except (ValueError, TypeError):
        # dateutil's own words name none of this: say which part it could not read
        for key, val in parts.items():
            try:
                rrulestr(f"{key}={val}" if key == "FREQ" else f"FREQ=YEARLY;{key}={val}", dtstart=dtstart)
            except (ValueError, TypeError):
                raise RecurrenceError(_("{part!r} is not a part of an RFC 5545 rule").format(
                    part=f"{key}={val}")) from None
        raise RecurrenceError(_("it does not read as an RFC 5545 rule (FREQ=…;BY…=…)")) from None
    assert isinstance(rule, rrule)  # one RRULE value, never a set (checked by rule_parts)
    return rule.replace(until=bound), count


def occurrences(rec: spec.Recurrence, tz: ZoneInfo, horizon: date, limit: int = MAX_OCCURRENCES) -> list[date]:
    """Due dates of a recurring action's occurrences, up to *horizon* (and its ``until``), at
    most *limit* of them.

    ``repeat: semester`` yields one occurrence per calendar semester that begins on
    or after ``from``, due on the semester's last day; an ``rrule`` yields its dates.
    """
    assert rec.start is not None
    last = min(rec.until, horizon) if rec.until else horizon
    if rec.repeat:
        return list(islice(_period_ends(rec.repeat, rec.start, last), limit))
    rule, count = recurrence_rule(rule_parts(rec.rrule), rec.start, tz, last)
    return [moment.date() for moment in islice(rule, min(limit, count) if count is not None else limit)]


def _period_ends(per: str, first: date, last: date) -> Iterator[date]:
    start = period_start(first, per)
    if start < first:
        start = next_period_start(start, per)
    while start <= last:
        yield period_end(start, per)
        start = next_period_start(start, per)


def first_occurrence(rec: spec.Recurrence, tz: ZoneInfo) -> date | None:
    """Whether the recurrence yields any occurrence up to its ``until`` (or the end of the
    years workplan plans in), and the first one's day; None when it yields none (COUNT=0,
    30 February, no period between ``from`` and ``until``): such an action would have no
    assignment, and a sync would withdraw those it had. Raises RecurrenceError as
    :func:`rule_parts` does."""
    assert rec.start is not None
    last = min(rec.until, END_OF_PLANNING) if rec.until else END_OF_PLANNING
    if rec.repeat:
        return next(_period_ends(rec.repeat, rec.start, last), None)
    parts = rule_parts(rec.rrule)
    rule, count = recurrence_rule(_as_yearly(parts, rec.start), rec.start, tz, last)
    if count == 0:
        return None
    try:
        return next((moment.date() for moment in rule), None)
    except (ArithmeticError, IndexError, ValueError):  # what dateutil raises on a rule it half read
        raise RecurrenceError(_("it does not read as an RFC 5545 rule (FREQ=…;BY…=…)")) from None


def _as_yearly(parts: dict[str, str], start: date) -> dict[str, str]:
    """The same days as a YEARLY rule, where that holds (every period, no BYSETPOS, no BYDAY
    counted within a month, no BYWEEKNO, whose weeks dateutil cuts at the year's end in its own
    way); else the rule itself.

    dateutil walks a rule period by period and only checks UNTIL against days that match, so
    finding out that a DAILY rule never matches (BYMONTH=2;BYMONTHDAY=30) takes it 2.9 million
    steps to the year 9999 (seconds), a YEARLY one 8,000. The defaults a finer rule takes from
    its first day are written out, since YEARLY would take others."""
    freq = parts["FREQ"]
    if freq == "YEARLY" or parts.get("INTERVAL", "1") != "1" or "BYSETPOS" in parts or "BYWEEKNO" in parts or any(
            (m := _ORDINAL_RE.match(d.strip())) is None or m.group(1) for d in parts.get("BYDAY", "MO").split(",")):
        return parts
    out = {**parts, "FREQ": "YEARLY"}
    if not any(key in parts for key in _DAY_FILTERS):
        if freq == "DAILY":
            out["BYDAY"] = ",".join(_WEEKDAYS)
        elif freq == "WEEKLY":
            out["BYDAY"] = _WEEKDAYS[start.weekday()]
        else:
            out["BYMONTHDAY"] = str(start.day)
    return out


# ---------------------------------------------------------------------------
# parties


SHARED_FEEDS = ("all", "meetings")  # the feeds that name no party; a party's is PARTY.ics beside them


def party_language(explicit: str | None, party_lang: str | None, group_languages: Sequence[str]) -> str:
    """The language of a party's digest and feed: *explicit* (--lang), else the party's ``lang``,
    else the group's first language, else the reader's (LC_ALL, LC_MESSAGES, LANG; English)."""
    return explicit or party_lang or group_language(group_languages)


def group_language(group_languages: Sequence[str]) -> str:
    """The language of what the group reads as one (the board): its first, else the reader's."""
    return (group_languages[0] if group_languages else "") or current()


def party_id_clashes(ids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(party id, sentence) for each id that cannot name a feed file: the name of a shared
    feed, or another party's id in other case (one file on the case-insensitive disks of
    Windows and macOS). The actions file is refused for it, and the feeds never written."""
    seen: dict[str, str] = {}
    for pid in ids:
        folded = pid.casefold()
        if folded in SHARED_FEEDS:
            yield pid, _("party {pid!r} would take the name of the feed {name}.ics; give it another id").format(
                pid=pid, name=folded)
        elif folded in seen:
            yield pid, _("party {pid!r} differs from {other!r} only by case, so their feeds would be one file "
                         "on Windows and macOS; rename one of them").format(pid=pid, other=seen[folded])
        else:
            seen[folded] = pid


# ---------------------------------------------------------------------------
# assignments to create


def horizon(day: date, last_meeting: date | None = None) -> date:
    """How far recurring actions are planned: to the end of the year after *day*'s, or after the
    year of the *last_meeting* when that is later.

    A sync plans (materialises) occurrences up to the horizon of its moment and the file's last
    meeting; a feed shows those up to the horizon of its read moment alone, so that it does not
    depend on when the database was synced."""
    return date(max(day.year, last_meeting.year if last_meeting else day.year) + 1, 12, 31)


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
        self.soon = lookahead_end(self.today, lookahead_days)

    def __call__(self, status: str, due_day: date | None, due_at: datetime | None,
                 blocked_by: Sequence[str]) -> Judgement:
        if status in CLOSED:
            return SETTLED
        if due_day is None:
            # an ongoing commitment (no deadline): never late, never at risk; it may still wait on others.
            # Readers list these apart: open_without_deadline is this branch, said for them
            return Judgement(False, None, blocked_by, False)
        overdue = is_overdue(due_day, due_at, self.as_of, self.today)
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


def is_overdue(due_day: date, due_at: datetime | None, as_of: datetime, today: date) -> bool:
    """Due before the as-of moment (*today* is its day in the group's zone); a deadline without
    a time is met by anything done on that day."""
    return due_at < as_of if due_at is not None else due_day < today


def action_closed(open_left: int | None) -> bool:
    """Whether an action is closed, given how many of its live assignments are still open (None:
    it has none): every one of them closed. An action nobody owns can never be closed."""
    return open_left == 0


class Judged(Protocol):
    """An assignment as judged: its status and :class:`Judgement` (a listing's row, an item)."""

    @property
    def status(self) -> str: ...
    @property
    def overdue(self) -> bool: ...
    @property
    def blocked_by(self) -> Sequence[str]: ...
    @property
    def at_risk(self) -> bool: ...


def state_word(status: str, overdue: bool, blocked: bool, at_risk: bool) -> str:
    """The one word a person needs: closed statuses win, then overdue, blocked, at risk, else the
    status (``in progress``, ``open``)."""
    if status in CLOSED:
        return status
    if overdue:
        return "overdue"
    if blocked:
        return "blocked"
    if at_risk:
        return "at risk"
    return status.replace("_", " ")


def assignment_state(a: Judged) -> str:
    """:func:`state_word` of a judged assignment."""
    return state_word(a.status, a.overdue, bool(a.blocked_by), a.at_risk)


_PRESSING = ("overdue", "blocked", "at risk", "in progress", "open")  # an open action's states, the first wins


def action_state(assignments: Iterable[Judged]) -> str:
    """An action's one word from its assignments': while one is open, the most pressing of their
    :func:`assignment_state` (overdue, blocked, at risk, in progress, open); once all are closed,
    ``done`` when every one was done, else ``closed``. An action without assignments is open."""
    items = list(assignments)
    pending = {assignment_state(a) for a in items if a.status not in CLOSED}
    if pending:
        return next(state for state in _PRESSING if state in pending)
    if not items:
        return "open"
    word = closed_action_word([a.status for a in items])
    return "closed" if word in (None, "cancelled") else word  # agendas and the graph call a cancelled action closed


def closed_action_word(statuses: Sequence[str]) -> str | None:
    """What an action is called once none of its (live) assignments, with *statuses*, is open:
    ``cancelled`` when every one was cancelled, ``done`` when every one was done (also when it
    has none left), else ``closed``; None while one is still open. The feeds say all three;
    :func:`action_state` says ``closed`` of a cancelled one."""
    if any(status not in CLOSED for status in statuses):
        return None
    if statuses and all(status == "cancelled" for status in statuses):
        return "cancelled"
    return "done" if all(status == "done" for status in statuses) else "closed"


CONCLUSION_STATES = ("done", "in progress", "overdue", "not started", "no action needed")


def conclusion_state(actions: Sequence[Sequence[Judged]]) -> str:
    """A conclusion's one word from its actions (each the assignments it has as of a moment):
    ``no action needed`` when it has none (what "took note" means); ``done`` when every action
    is closed (:func:`action_state`); ``overdue`` when one is; ``in progress`` when any of their
    assignments has moved (started, or closed while others are open); else ``not started``."""
    if not actions:
        return "no action needed"
    words = [action_state(items) for items in actions]
    if all(word in ("done", "closed") for word in words):
        return "done"
    if "overdue" in words:
        return "overdue"
    if any(a.status != "open" for items in actions for a in items):
        return "in progress"
    return "not started"


def open_without_deadline(status: str, due_day: date | None, due_kind: str = "") -> bool:
    """An ongoing commitment still to deliver: no deadline, so :class:`Judge` never finds it late,
    due soon or at risk, and a reader that lists by deadline never shows it. The digest and the
    board list these on their own, with their :func:`commitment_age`. One *to be scheduled* is not
    ongoing: it is listed with what falls due (:func:`due_soon`)."""
    return due_day is None and not to_be_scheduled(due_kind) and status not in CLOSED


def commitment_age(agreed_on: date | None, today: date) -> int | None:
    """Days from *agreed_on*, the last day of the meeting that agreed a commitment (its source),
    to *today*: how long it has been open. None when the source meeting is not known, or has not
    ended by *today*. (An assignment keeps no date of its own creation: a sync of old minutes
    creates it years after the fact, and the meeting is the date its owners know.)"""
    if agreed_on is None or agreed_on > today:
        return None
    return (today - agreed_on).days


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
# status changes

TRANSITIONS: dict[str, tuple[str, frozenset[str]]] = {
    # verb: (target status, statuses it may come from)
    "start": ("in_progress", frozenset({"open"})),
    "done": ("done", frozenset({"open", "in_progress"})),
    "waive": ("waived", frozenset({"open", "in_progress"})),
    "cancel": ("cancelled", frozenset({"open", "in_progress"})),
    "reopen": ("open", CLOSED | {"in_progress"}),
}


# what a focal point may report on its own assignment (the report page's ``status`` field and
# the verbs of a reply): "cannot deliver" is ``waived``; cancelling is the secretariat's decision
VERB_OF_STATUS = {TRANSITIONS[verb][0]: verb for verb in ("start", "done", "waive")}  # in_progress, done, waived
REPORT_STATUSES: tuple[str, ...] = tuple(VERB_OF_STATUS)


def report_verbs(current: str, target: str) -> tuple[str, ...] | None:
    """The status changes (verbs of :data:`TRANSITIONS`, applied in order) that take a party's
    own assignment from *current* to *target*; () when it is already there; None when a party
    may not change it (a cancelled assignment, or a status a party does not report).

    A party corrects its own report by the same events as anybody: one that said ``done`` and
    now says ``in_progress`` is reopened, then started; the log keeps both, never rewritten."""
    if target not in REPORT_STATUSES or current == "cancelled":
        return None
    if current == target:
        return ()
    verb = VERB_OF_STATUS[target]
    if current in TRANSITIONS[verb][1]:
        return (verb,)
    if current in TRANSITIONS["reopen"][1] and "open" in TRANSITIONS[verb][1]:
        return ("reopen", verb)
    return None


def quote_in_document(quote: str, document: str) -> bool:
    """Whether *quote* is a verbatim passage of *document*: the same words in the same order,
    with any run of white space (line breaks, indentation) read as one space. The one check of
    every ``source.text`` of an actions file against its meeting's document."""
    return " ".join(quote.split()) in " ".join(document.split())


def unexplained_waiver(status: str, note: str) -> bool:
    """A party that cannot deliver says why: a change to ``waived`` without a note is refused
    (by the command, the status service and the actions file's progress alike)."""
    return status == "waived" and not note.strip()


# ---------------------------------------------------------------------------
# the digest's period

def lookahead_end(today: date, lookahead_days: int) -> date:
    """The last day of the look-ahead window that starts *today*: what falls due from today to
    this day (both included) is "due soon" in digests and on the board, and a blocked
    assignment due by then is at risk."""
    return today + timedelta(days=lookahead_days)


def due_soon(due: date | None, today: date, end: date, due_kind: str = "") -> bool:
    """A deadline inside the look-ahead window from *today* to *end* (:func:`lookahead_end`), or
    one *to be scheduled* (:func:`to_be_scheduled`): listed as such until it has a date."""
    if due is None:
        return to_be_scheduled(due_kind)
    return today <= due <= end


DIGEST_WINDOW = timedelta(days=7)
"""What a digest looks back on (the closings it reports): the week before its as-of moment."""

RESTRICTED_DEPENDENCY = "(restricted)"  # how a dependency that may not be shown is named

REPORT_PAGE_WINDOW = timedelta(days=30)
"""What a party's report page looks back on: assignments closed (their latest event) in the 30
days before the page's moment are listed beside the open ones, so that a report can be corrected."""


def shown_dependency(dependency: str, restricted: Collection[str], visible: Collection[str]) -> str:
    """How a party's own page names an action its assignment waits on: by its id, unless the
    action is restricted and not one the party owns or takes part in (*visible*), which is
    named only as restricted (its id would say what it is), as private feeds do."""
    return RESTRICTED_DEPENDENCY if dependency in restricted and dependency not in visible else dependency


def digest_period(day: date) -> str:
    """The period a digest counts in, at most once per recipient: the ISO week of the as-of day
    in the group's zone (``2019-W03``), whatever day of the week it is sent on."""
    return "{}-W{:02d}".format(*day.isocalendar()[:2])


# ---------------------------------------------------------------------------
# when a status change may be dated

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a status change may be dated: the clocks of the machines that record
changes (laptops, the server, the database) may disagree by this much; anything later is a typo."""


@dataclass(frozen=True)
class LatestEvent:
    """An assignment's latest event, as a refusal names it: the latest by moment, and among
    events of the same moment the one recorded last (the order the log and ``--as-of`` use)."""

    at: datetime  # aware
    from_status: str
    to_status: str
    by: str
    origin: str


def status_moment(
    on: datetime | None,
    *,
    day_only: bool,
    now: datetime,
    tz: ZoneInfo,
    subject: Callable[[], str],
    meeting: tuple[str, date] | None = None,
    latest: LatestEvent | None = None,
) -> datetime:
    """The moment to record a status change at, or :class:`HistoryError` in one sentence.

    The log is append-only, so a wrong date can never be taken back; a change is refused when
    it is dated after *now* plus :data:`CLOCK_SKEW`, before the day its action's source meeting
    (id, first day) began, or before the assignment's *latest* event. *on* None means now.

    *day_only*: *on* was written as a date (its start of day). A date is as precise as a day,
    so it is compared by day with the meeting and with the latest event; on the latest event's
    own day it is recorded at that event's moment (not at midnight, before it), so that the
    status it sets is the one shown. A moment given to the minute is exact: one equal to the
    latest event's comes after it (events of one moment are ordered as recorded).
    *subject* names the assignment ("a1 for CR") at the start of the sentence; it is called
    only for a refusal (a first sync checks tens of thousands of facts).
    """
    moment = now if on is None else on
    day_only = day_only and on is not None
    if moment > now + CLOCK_SKEW:
        raise HistoryError(_("{subject}: {on} is in the future; a status change is dated when it happened").format(
            subject=subject(), on=_moment_text(moment, tz, day_only)))
    if meeting is not None and moment.astimezone(tz).date() < meeting[1]:
        raise HistoryError(_("{subject}: {on} is before {start}, the day its source meeting {meeting} began").format(
            subject=subject(), on=_moment_text(moment, tz, day_only), start=meeting[1].isoformat(),
            meeting=meeting[0]))
    if latest is not None and moment < latest.at:
        if on is None and latest.at <= now + CLOCK_SKEW:
            moment = latest.at  # another machine's clock ran a little ahead: keep the log in order
        elif day_only and moment.astimezone(tz).date() == latest.at.astimezone(tz).date():
            moment = latest.at
        else:
            raise HistoryError(_("{subject}: {on} is before the assignment's latest event, {change} on {at}{by} "
                                 "({origin})").format(
                subject=subject(), on=_moment_text(moment, tz, day_only),
                change=f"{word(latest.from_status)} → {word(latest.to_status)}", at=_moment_text(latest.at, tz),
                by=_(" by {name}").format(name=latest.by) if latest.by else "", origin=latest.origin))
    return moment


def assignment_subject(action_id: str, party: str, occurrence: str = "") -> str:
    """How a refused status change names its assignment at the start of the sentence."""
    return _("{action} for {party}").format(action=action_id, party=party) + (f" ({occurrence})" if occurrence else "")


def progress_subject(action_id: str, party: str) -> str:
    """How a refused progress fact of the actions file is named at the start of its sentence."""
    return _("action {aid}: progress of {party}").format(aid=action_id, party=party)


def source_day(source: spec.Source | None, meetings: Mapping[str, spec.Meeting]) -> tuple[str, date] | None:
    """The source meeting's id and first day (the first of the month when only the month is
    known), which no status change of its actions may precede."""
    if source is None or source.meeting not in meetings:
        return None
    return source.meeting, meetings[source.meeting].start.day


def _moment_text(moment: datetime, tz: ZoneInfo, day_only: bool = False) -> str:
    """A moment as a person wrote it: the day alone when that is all it says."""
    local = moment.astimezone(tz)
    if day_only or local.time() == time(0):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


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
    body: str = ""


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
    meetings = [MeetingFact(m.id, m.kind, meeting_status(m.status, m.start_day, as_of_day), m.start_day, m.body)
                for m in meetings if counts_for_cadence(m, m.kind)]
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


# ---------------------------------------------------------------------------
# what-if: moving a meeting (``workplan meetings move``, and what ``sync`` prints when one moved)


@dataclass(frozen=True)
class MovedDeadline:
    action: str
    party: str
    occurrence: str
    old: Deadline
    new: Deadline


@dataclass(frozen=True)
class EarlyDependant:
    """An action that would fall due before a prerequisite it waits on."""

    action: str
    due: date
    prerequisite: str
    prerequisite_due: date


@dataclass(frozen=True)
class VerdictChange:
    kind: str
    period: str
    old: str
    new: str


@dataclass(frozen=True)
class MeetingMove:
    meeting: str
    old_start: str
    old_end: str | None
    new_start: str
    new_end: str | None


@dataclass
class MoveEffects:
    meetings: list[MeetingMove]
    deadlines: list[MovedDeadline]
    early: list[EarlyDependant]
    cadence: list[VerdictChange]


def moved_document(doc: spec.Document, meeting_id: str, start: When, end: When | None) -> spec.Document:
    """A copy of *doc* with *meeting_id* moved to *start* (and *end*; without it, the meeting
    keeps its length). UnknownItem for an unknown id, UsageError for an end before its start."""
    from dataclasses import replace

    from .errors import UnknownItem, UsageError

    meeting = doc.meetings.get(meeting_id)
    if meeting is None:
        raise UnknownItem(_("there is no meeting {meeting!r} (known: {known})").format(
            meeting=meeting_id, known=", ".join(doc.meetings)))
    if end is None and meeting.end is not None:
        shift = start.day - meeting.start.day
        end = When(meeting.end.day + shift, "date" if meeting.end.precision == "month" else meeting.end.precision,
                   meeting.end.at + shift if meeting.end.at is not None else None)
    if end is not None and end.last_day < start.day:
        raise UsageError(_("meeting {mid} would end ({end}) before it starts ({start})").format(
            mid=meeting_id, end=end.iso(), start=start.iso()))
    meetings = dict(doc.meetings)
    meetings[meeting_id] = replace(meeting, start=start, end=end)
    return replace(doc, meetings=meetings)


def move_effects(before: spec.Document, after: spec.Document, as_of_day: date) -> MoveEffects:
    """What moving meetings (from *before* to *after*, the same file but for meeting dates)
    changes, by the rules above: each owner's deadline that moves, the actions that would fall
    due before a prerequisite they wait on (and did not), the cadence verdicts that change."""
    moves = [MeetingMove(mid, m.start.iso(), _iso(m.end),
                         after.meetings[mid].start.iso(),
                         _iso(after.meetings[mid].end))
             for mid, m in before.meetings.items()
             if mid in after.meetings and (m.start, m.end) != (after.meetings[mid].start, after.meetings[mid].end)]
    last = max([as_of_day, *(m.start.last_day for m in before.meetings.values()),
                *(m.start.last_day for m in after.meetings.values())])
    end = horizon(as_of_day, last)
    old_deadlines, old_planned = plan(before, end)
    new_deadlines, new_planned = plan(after, end)
    old_by_key = {(p.action_id, p.party_id, p.occurrence): p.deadline for p in old_planned}
    moved = [MovedDeadline(p.action_id, p.party_id, p.occurrence, old_by_key[key], p.deadline)
             for p in new_planned
             if (key := (p.action_id, p.party_id, p.occurrence)) in old_by_key
             and (old_by_key[key].day, old_by_key[key].kind) != (p.deadline.day, p.deadline.kind)]

    def early(deadlines: Mapping[str, Deadline]) -> dict[tuple[str, str], tuple[date, date]]:
        out = {}
        for action in after.actions.values():
            due = deadlines.get(action.id, NO_DEADLINE).day
            for dep in action.depends_on:
                dep_due = deadlines.get(dep, NO_DEADLINE).day
                if due is not None and dep_due is not None and due < dep_due:
                    out[(action.id, dep)] = (due, dep_due)
        return out

    was = early(old_deadlines)
    now = early(new_deadlines)
    early_list = [EarlyDependant(a, due, d, dep_due) for (a, d), (due, dep_due) in now.items() if (a, d) not in was]

    def verdicts(doc: spec.Document) -> dict[tuple[str, str], str]:
        facts = [MeetingFact(m.id, m.kind, m.status, m.start_day, m.body) for m in doc.meetings.values()]
        return {(p.kind, p.label): p.verdict for p in compliance(doc.cadence, facts, last)}

    old_v, new_v = verdicts(before), verdicts(after)
    changes = [VerdictChange(kind, label, old_v.get((kind, label), ""), verdict)
               for (kind, label), verdict in new_v.items() if old_v.get((kind, label), "") != verdict]
    return MoveEffects(moves, moved, early_list, changes)


def _iso(when: When | None) -> str | None:
    return when.iso() if when is not None else None


# ---------------------------------------------------------------------------
# roles that rotate (``roles:``)


@dataclass(frozen=True)
class Holding:
    """One period a party held a role: ``from`` and ``to`` are local days, both included."""

    party: str
    start: date
    end: date | None = None  # None: still holds it


@dataclass(frozen=True)
class Role:
    """A role (``PPT``) and its holders over time, or derived from another (the Troika of ``PPT``).

    A derived role has no holders of its own: on a day it is held by the previous, the current
    and the next holder of the role it derives from.
    """

    id: str
    holdings: tuple[Holding, ...] = ()
    derived_from: str | None = None


def overlapping_holdings(holdings: Sequence[Holding]) -> Iterator[tuple[int, int]]:
    """Pairs (earlier index, later index) of periods of one role that share a day."""
    for j, later in enumerate(holdings):
        for i in range(j):
            earlier = holdings[i]
            if (earlier.end is None or later.start <= earlier.end) and (later.end is None or earlier.start <= later.end):
                yield i, j


def derivation_cycle(role: str, derived_from: Mapping[str, str | None]) -> list[str] | None:
    """The chain by which ``role`` names itself through derivations, or None."""
    chain = [role]
    step = derived_from.get(role)
    while step is not None:
        if step == role:
            return [*chain, role]
        if step in chain:  # a cycle that does not pass through ``role``: reported on its own roles
            return None
        chain.append(step)
        step = derived_from.get(step)
    return None


def role_holder(role: Role, day: date) -> str | None:
    """The party that holds a role with holders on ``day``, or None when nobody does."""
    for holding in role.holdings:
        if holding.start <= day and (holding.end is None or day <= holding.end):
            return holding.party
    return None


def role_holders(role: str, day: date, roles: Mapping[str, Role]) -> tuple[str, ...]:
    """Who holds ``role`` on ``day``: one party, none, or the Troika's previous, current and next.

    A name that is not a role is its own holder, so that callers resolve every owner alike.
    For a derived role, the previous and next holders are those of the periods around the one
    that covers ``day``; when no period covers it, the last before and the first after.
    """
    found = roles.get(role)
    if found is None:
        return (role,)
    if found.derived_from is None:
        holder = role_holder(found, day)
        return () if holder is None else (holder,)
    base = roles.get(found.derived_from)
    if base is None or base.derived_from is not None:
        return ()
    periods = sorted(base.holdings, key=lambda h: h.start)
    before = [h for h in periods if h.end is not None and h.end < day]
    current = [h for h in periods if h.start <= day and (h.end is None or day <= h.end)]
    after = [h for h in periods if h.start > day]
    chosen = before[-1:] + current[:1] + after[:1]
    if not current:
        return ()  # no current holder: nobody is the Troika's centre on that day
    out: list[str] = []
    for holding in chosen:
        if holding.party not in out:
            out.append(holding.party)
    return tuple(out)


def held_by(owner: str, day: date, roles: Mapping[str, Role], fallback: str) -> tuple[str, ...]:
    """Whom an item owned by ``owner`` goes to on ``day``: its holders, or ``fallback`` (the
    secretariat) while a role has nobody holding it."""
    holders = role_holders(owner, day, roles)
    return holders or (fallback,)


def role_label(role: str, holders: Sequence[str]) -> str:
    """How a role is shown with whoever holds it: ``PPT (Panama)``; the bare role when nobody does."""
    return f"{role} ({', '.join(holders)})" if holders else role


def unheld(planned: Iterable[PlannedAssignment], roles: Mapping[str, Role]) -> list[tuple[str, str, date]]:
    """(action, role, deadline) where a role owns an assignment due on a day nobody holds it:
    the first such day of each action and role (``check`` warns; the secretariat gets it meanwhile)."""
    out: dict[tuple[str, str], date] = {}
    for p in planned:
        day = p.deadline.day
        if p.party_id in roles and day is not None and (p.action_id, p.party_id) not in out \
                and not role_holders(p.party_id, day, roles):
            out[(p.action_id, p.party_id)] = day
    return [(aid, rid, day) for (aid, rid), day in out.items()]
