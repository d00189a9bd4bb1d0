"""iCalendar feeds: a :class:`~workplan.views.FeedSet` in, one ``.ics`` file's bytes per feed out.

Pure: no session, no clock, no locale. Every VEVENT is serialised once and the same bytes are
spliced into every feed that shows it (a meeting appears in every party's feed).

What the feeds contain (documented for subscribers in the README):

* meetings — a timed VEVENT in the meeting's own zone (with its VTIMEZONE) when the time is
  known; an all-day VEVENT (exclusive DTEND) when only dates are; a meeting known only by its
  month is a TENTATIVE all-day event spanning that month whose summary says so. STATUS: held →
  CONFIRMED, planned → TENTATIVE, cancelled or withdrawn → CANCELLED.
* deadlines — all-day, TRANSPARENT VEVENTs on the resolved due date: in a party's feed one per
  assignment (``assignment-ACTION+PARTY[+OCCURRENCE]@DOMAIN``); in ``all.ics``, and in the feeds
  of the parties an action lists under ``with``, one per action (``action-ACTION[+OCCURRENCE]@DOMAIN``)
  naming the owners still open. Closed assignments stay, marked done or waived; cancelled
  assignments and withdrawn actions stay with STATUS:CANCELLED. An *expected* deadline (its
  meeting is not scheduled yet) is TENTATIVE and says so.
* SEQUENCE is the stored sequence (raised by sync when a date, time or title changes) plus the
  number of status changes the item has seen; DTSTAMP and LAST-MODIFIED are the item's latest
  change in the data. No VALARM: subscribed clients strip or ignore it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, vText

if TYPE_CHECKING:
    from ..feed_history import FeedHistory
from ..i18n import _, current, long_date, month_year, ngettext, word
from ..planning import closed_action_word
from ..statuses import CLOSED, COMPLETED
from ..views import FeedAction, FeedAssignment, FeedMeeting, FeedSet, feed_party, visible_to

PRODID = "-//workplan//calendar feeds//EN"
REFRESH = timedelta(hours=12)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MAX_NAMED = 6  # owners named in a summary before "+N more"


def day_text(day: date) -> str:
    """``31 December 2018``: the same on every machine, whatever its locale (Babel's for other
    languages than English)."""
    if current() != "en":
        return long_date(day)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def month_text(day: date) -> str:
    if current() != "en":
        return month_year(day)
    return f"{MONTHS[day.month - 1]} {day.year}"


def _closed_word(status: str) -> str:
    return {"done": _("✓ Done"), "waived": _("✓ Waived"), "cancelled": _("Cancelled")}[status]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Feed:
    """One file: its name, its calendar properties, and the keys of the components it shows."""

    filename: str
    name: str
    description: str
    meetings: tuple[str, ...]
    deadlines: tuple[str, ...]


# ---------------------------------------------------------------------------
# writing components
#
# Fast path beside icalendar. icalendar builds the calendar head and the VTIMEZONEs; events and
# tasks, tens of thousands of them in a large workplan, are written here, about fifty times
# faster than icalendar's per-character line folding allows: `calendars --out DIR` at 10,000
# actions has a target of 5 s in bench/README.md (3.3 s measured, two thirds of it writing
# 41,800 events), which icalendar's writer would miss. The suite checks that this writer gives exactly the bytes
# icalendar gives for the same properties (tests/test_ical_render.py), so icalendar stays the
# reference for escaping, folding, value formats and property order.

Value = str | int | date | datetime | list[str]
_URI = frozenset({"URL"})
# icalendar's order: these first, in this order, then the others alphabetically
_CANONICAL = {"VEVENT": ("SUMMARY", "DTSTART", "DTEND", "DURATION", "DTSTAMP", "UID", "RECURRENCE-ID", "SEQUENCE",
                         "RRULE", "RDATE", "EXDATE"), "VTODO": ()}


class Component:
    """A VEVENT or VTODO as a name and typed property values (one value per property)."""

    __slots__ = ("name", "properties")

    def __init__(self, name: str) -> None:
        self.name = name
        self.properties: dict[str, Value] = {}

    def add(self, name: str, value: Value) -> None:
        self.properties[name.upper()] = value

    def lines(self) -> dict[str, str]:
        """Each property's content line, folded, in the order they are written."""
        props = self.properties
        return {k: fold(_FORMAT[type(props[k])](k, props[k])) for k in ordered_names(self.name, tuple(props))}

    def to_ical(self, lines: dict[str, str] | None = None) -> bytes:
        body = "\r\n".join((lines if lines is not None else self.lines()).values())
        return f"BEGIN:{self.name}\r\n{body}\r\nEND:{self.name}\r\n".encode()


@functools.cache
def ordered_names(component: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The order in which the properties *names* of a *component* are written."""
    canonical = _CANONICAL[component]
    return (*(k for k in canonical if k in names), *sorted(k for k in names if k not in canonical))


def escape_text(text: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon, comma and line breaks escaped."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _datetime(name: str, value: datetime) -> str:
    if value.tzinfo is UTC:
        return f"{name}:{value:%Y%m%dT%H%M%SZ}"
    assert isinstance(value.tzinfo, ZoneInfo), "timed values carry an IANA zone or UTC"
    return f"{name};TZID={value.tzinfo.key}:{value:%Y%m%dT%H%M%S}"


def _text(name: str, value: str) -> str:
    return f"{name}:{value if name in _URI else escape_text(value)}"


_FORMAT: dict[type, Callable[[str, Any], str]] = {
    str: _text,
    int: lambda name, value: f"{name}:{value}",
    date: lambda name, value: f"{name};VALUE=DATE:{value:%Y%m%d}",
    datetime: _datetime,
    list: lambda name, value: f"{name}:" + ",".join(escape_text(v) for v in value),
}


def content_line(name: str, value: Value) -> str:
    """One property as a content line (unfolded)."""
    return _FORMAT[type(value)](name, value)


def fold(line: str) -> str:
    """Fold a content line as icalendar does: pieces of at most 74 octets, never inside a UTF-8
    character, and never right after a backslash (some clients mis-read an escape split in two)."""
    if len(line) < 19:  # even at four octets a character, shorter than 75 octets
        return line
    data = line.encode("utf-8")
    if len(data) < 75:
        return line
    pieces: list[bytes] = []
    start, size = 0, len(data)
    while size - start > 74:
        cut = start + 74
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            cut -= 1
        if data[cut - 1] in b"\\^" and cut - 1 > start:
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return b"\r\n ".join(pieces).decode("utf-8")


# ---------------------------------------------------------------------------
# meetings


def _meeting_moments(m: FeedMeeting) -> tuple[Any, Any]:
    """DTSTART and DTEND of a meeting (DTEND None: a timed meeting with no known end)."""
    if m.precision == "month":
        last = m.end_day
        return m.start_day, last + timedelta(days=1)
    if m.precision == "datetime":
        tz = ZoneInfo(m.timezone)
        start = datetime.fromisoformat(m.start).astimezone(tz)
        if m.end is None:
            return start, None
        if "T" in m.end:
            return start, datetime.fromisoformat(m.end).astimezone(tz)
        # a start time but only an end date: until the end of that day, in the meeting's zone
        return start, datetime.combine(m.end_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return m.start_day, m.end_day + timedelta(days=1)


def meeting_status(m: FeedMeeting) -> str:
    if m.withdrawn or m.status == "cancelled":
        return "CANCELLED"
    if m.precision == "month":
        return "TENTATIVE"
    return "CONFIRMED" if m.status == "held" else "TENTATIVE"


def meeting_summary(m: FeedMeeting) -> str:
    title = m.title
    if m.precision == "month":
        title = _("{title} (sometime in {month}; day not fixed)").format(title=title, month=month_text(m.start_day))
    if m.withdrawn:
        return _("Withdrawn: {title}").format(title=title)
    if m.status == "cancelled":
        return _("Cancelled: {title}").format(title=title)
    return title


def meeting_description(m: FeedMeeting) -> str:
    kind = word(m.kind)
    state = _("withdrawn from the workplan") if m.withdrawn else word(m.status)
    lines = [_("{Kind} meeting, {state}.").format(kind=kind, Kind=kind[:1].upper() + kind[1:], state=state)]
    if m.precision == "month":
        lines.append("")
        lines.append(_("Only the month is known: {month}. The days are not fixed yet; this event spans the whole "
                       "month.").format(month=month_text(m.start_day)))
    if m.description:
        lines += ["", m.description]
    if m.url:
        lines += ["", m.url]
    lines += ["", _("Meeting: {id}").format(id=m.id)]
    return "\n".join(lines)


def meeting_event(m: FeedMeeting, domain: str) -> Component:
    ev = Component("VEVENT")
    ev.add("uid", f"meeting-{m.id}@{domain}")
    ev.add("dtstamp", _utc(m.modified))
    ev.add("last-modified", _utc(m.modified))
    ev.add("sequence", m.sequence)
    ev.add("summary", meeting_summary(m))
    start, end = _meeting_moments(m)
    ev.add("dtstart", start)
    if end is not None:
        ev.add("dtend", end)
    ev.add("status", meeting_status(m))
    ev.add("transp", "TRANSPARENT" if m.precision == "month" else "OPAQUE")
    if m.location:
        ev.add("location", m.location)
    if m.url:
        ev.add("url", m.url)
    ev.add("categories", ["Meeting", m.kind])
    ev.add("description", meeting_description(m))
    return ev


def timezones(meetings: Iterable[FeedMeeting]) -> list[Timezone]:
    """The VTIMEZONEs the timed meetings reference, covering only the years they span (so the
    component stays short, and the same as long as those years' rules do)."""
    years: dict[str, list[int]] = {}
    for m in meetings:
        if m.precision == "datetime":
            years.setdefault(m.timezone, []).extend((m.start_day.year, m.end_day.year))
    return [
        Timezone.from_tzinfo(ZoneInfo(name), name, date(min(ys), 1, 1), date(max(ys) + 1, 1, 1))
        for name, ys in sorted(years.items())
    ]


# ---------------------------------------------------------------------------
# deadlines


def _due_line(action: FeedAction, a: FeedAssignment, meeting_titles: dict[str, str]) -> str:
    due = _("Due: {day}").format(day=day_text(a.due_date))
    if a.due_at is not None:
        due += _(", by {time} {zone}").format(time=f"{a.due_at:%H:%M}", zone=a.due_at.tzinfo)
    spec = action.due_spec
    offset = int(spec.get("offset_days") or 0)
    rel = ""
    if offset:
        rel = (ngettext("{days} day before ", "{days} days before ", abs(offset)) if offset < 0
               else ngettext("{days} day after ", "{days} days after ", abs(offset))).format(days=abs(offset))
    if a.occurrence:
        return due + _(" (this period's occurrence of a recurring action)")
    if a.due_kind == "expected":
        kind = word(str(spec.get("next", ""))).replace("-", " ")
        return due + _(" — expected: {relative}the next {kind} meeting, which is not scheduled yet; the date is the "
                       "end of the period in which the agreed cadence expects it").format(relative=rel, kind=kind)
    if a.due_kind == "meeting" and a.due_meeting:
        title = meeting_titles.get(a.due_meeting, a.due_meeting)
        what = (_("the next {kind} meeting, ").format(kind=word(str(spec.get("next"))).replace("-", " "))
                if spec.get("form") == "next" else "")
        at = rel or _("at ")
        return due + f" — {at}{what}{title} ({a.due_meeting})"
    return due


def _source_lines(action: FeedAction) -> list[str]:
    lines: list[str] = []
    if action.source_meeting:
        where = action.source_meeting_title or action.source_meeting
        ref = f", {action.source_ref}" if action.source_ref else ""
        lines.append(_("Source: {meeting}").format(meeting=f"{where} ({action.source_meeting}){ref}"))
        if action.source_text:
            lines.append(f"“{action.source_text}”")
    return lines


def _dependency_lines(action: FeedAction) -> list[str]:
    if not action.depends_on:
        return []
    withdrawn, closed, not_closed = _("withdrawn"), word("closed"), _("not closed yet")
    return [_("Depends on:")] + [
        f"- {d.id}: {d.title} ({withdrawn if d.withdrawn else closed if d.closed else not_closed})"
        for d in action.depends_on
    ]


def _owner_state(a: FeedAssignment) -> str:
    if a.withdrawn:
        return _("withdrawn")
    state = word(a.status)
    if a.status != "open" and a.status_since is not None:
        state = _("{state} since {day}").format(state=state, day=day_text(a.status_since.date()))
    return state


def _body(action: FeedAction, head: Sequence[str], due: str) -> str:
    lines = [action.title, "", due, *head]
    if action.with_:
        lines.append(_("With: {parties}").format(parties=", ".join(action.with_)))
    lines += _dependency_lines(action)
    source = _source_lines(action)
    if source:
        lines += ["", *source]
    if action.description:
        lines += ["", action.description]
    if action.withdrawn:
        lines += ["", _("This action was withdrawn from the workplan.")]
    lines += ["", _("Action: {id}").format(id=action.id)]
    return "\n".join(lines)


@dataclass(frozen=True)
class Deadline:
    """One deadline as both kinds of component show it (a VEVENT, or a VTODO for task lists)."""

    key: str  # the UID without its prefix and domain: ACTION[+PARTY][+OCCURRENCE]
    kind: str  # assignment | action
    summary: str
    description: str
    day: date
    status: str  # the workplan status: open | in_progress | done | waived | cancelled
    expected: bool
    sequence: int
    modified: datetime  # naive UTC
    completed: datetime | None = None  # when it was done or waived


TODO_STATUS = {"open": "NEEDS-ACTION", "in_progress": "IN-PROCESS", "done": "COMPLETED", "waived": "COMPLETED",
               "cancelled": "CANCELLED"}


def _stamp(component: Component, d: Deadline, uid: str) -> None:
    component.add("uid", uid)
    component.add("dtstamp", _utc(d.modified))
    component.add("last-modified", _utc(d.modified))
    component.add("sequence", d.sequence)
    component.add("summary", d.summary)


def deadline_event(d: Deadline, domain: str) -> Component:
    ev = Component("VEVENT")
    _stamp(ev, d, f"{d.kind}-{d.key}@{domain}")
    ev.add("dtstart", d.day)
    ev.add("dtend", d.day + timedelta(days=1))
    # expected: the date may still move; once closed it no longer matters when it was expected
    tentative = d.expected and d.status in ("open", "in_progress")
    status = "CANCELLED" if d.status == "cancelled" else "TENTATIVE" if tentative else "CONFIRMED"
    ev.add("status", status)
    ev.add("transp", "TRANSPARENT")
    ev.add("categories", ["Deadline"])
    ev.add("description", d.description)
    return ev


def deadline_todo(d: Deadline, domain: str, start: date | None = None) -> Component:
    """The same deadline as a task: due on its day, completed when done or waived.

    RFC 5546 §3.4.1 (PUBLISH of a VTODO) requires DTSTART and PRIORITY besides DTSTAMP, UID
    and SUMMARY: the task starts on *start* (the day of the meeting that agreed it) or, without
    one or when that is not earlier, the day before it is due (RFC 5545 §3.8.2.3: DUE later
    than DTSTART); its PRIORITY is 0, undefined (RFC 5545 §3.8.1.9), as the workplan ranks no
    deadline above another."""
    todo = Component("VTODO")
    _stamp(todo, d, f"task-{d.kind}-{d.key}@{domain}")
    todo.add("dtstart", start if start is not None and start < d.day else d.day - timedelta(days=1))
    todo.add("due", d.day)
    todo.add("priority", 0)
    todo.add("status", TODO_STATUS.get(d.status, "NEEDS-ACTION"))
    if TODO_STATUS.get(d.status) == "COMPLETED":
        todo.add("percent-complete", 100)
        if d.completed is not None:
            todo.add("completed", d.completed.astimezone(UTC))
    todo.add("categories", ["Deadline"])
    todo.add("description", d.description)
    return todo


def assignment_summary(action: FeedAction, a: FeedAssignment) -> str:
    if action.withdrawn or a.withdrawn:
        return _("Withdrawn: {title}").format(title=f"{action.title} — {a.party}")
    if a.status in CLOSED:
        return f"{_closed_word(a.status)}: {action.title} — {a.party}"
    due = _("Due (expected)") if a.due_kind == "expected" else _("Due")
    extra = " (" + word("in_progress") + ")" if a.status == "in_progress" else ""
    return f"{due}: {action.title} — {a.party}{extra}"


def assignment_deadline(action: FeedAction, a: FeedAssignment, meeting_titles: dict[str, str],
                        party_names: dict[str, str]) -> Deadline:
    """One party's deadline (in that party's feed)."""
    occurrence = f"+{a.occurrence}" if a.occurrence else ""
    owner = _("Owner: {party}").format(party=f"{a.party} ({party_names.get(a.party, a.party)}) — {_owner_state(a)}")
    others = sorted({o.party for o in action.assignments if o.party != a.party})
    head = [owner] + ([_("Other owners: {parties}").format(parties=", ".join(others))] if others else [])
    status = "cancelled" if action.withdrawn or a.withdrawn else a.status
    return Deadline(
        f"{action.id}+{a.party}{occurrence}", "assignment", assignment_summary(action, a),
        _body(action, head, _due_line(action, a, meeting_titles)), a.due_date, status,
        a.due_kind == "expected", a.sequence, max(action.modified, a.modified),
        a.status_since if a.status in COMPLETED else None,
    )


def action_summary(action: FeedAction, owners: Sequence[FeedAssignment]) -> str:
    if action.withdrawn:
        return _("Withdrawn: {title}").format(title=action.title)
    live = [a for a in owners if not a.withdrawn]
    closed_as = closed_action_word([a.status for a in live])
    if closed_as == "cancelled":
        return _("Cancelled: {title}").format(title=action.title)
    if closed_as is not None:
        closed = _("✓ Done") if closed_as == "done" else _("✓ Closed")
        return f"{closed}: {action.title}"
    pending = [a.party for a in live if a.status not in CLOSED]
    named = ", ".join(pending[:MAX_NAMED]) + (
        _(" +{count} more").format(count=len(pending) - MAX_NAMED) if len(pending) > MAX_NAMED else "")
    due = _("Due (expected)") if owners[0].due_kind == "expected" else _("Due")
    return f"{due}: {action.title} — {named}"


def action_deadline(action: FeedAction, owners: Sequence[FeedAssignment], meeting_titles: dict[str, str],
                    party_names: dict[str, str]) -> Deadline:
    """One action's deadline (one occurrence of it) for everyone: which owners are still open."""
    first = owners[0]
    occurrence = f"+{first.occurrence}" if first.occurrence else ""
    live = [a for a in owners if not a.withdrawn]
    head = [_("Owners:")] + [f"- {a.party} ({party_names.get(a.party, a.party)}): {_owner_state(a)}" for a in owners]
    closed_as = closed_action_word([a.status for a in live])
    if action.withdrawn or not live or closed_as == "cancelled":
        status = "cancelled"
    elif closed_as is None:
        status = "in_progress" if any(a.status != "open" for a in live) else "open"
    else:
        status = "done"  # done or closed: a calendar has no word between them
    since = [a.status_since for a in live if a.status_since is not None]
    return Deadline(
        f"{action.id}{occurrence}", "action", action_summary(action, owners),
        _body(action, head, _due_line(action, first, meeting_titles)), first.due_date, status,
        first.due_kind == "expected", action.sequence + sum(a.sequence for a in owners),
        max([action.modified, *(a.modified for a in owners)]),
        max(since) if status == "done" and since else None,
    )


# ---------------------------------------------------------------------------
# the feeds


def _calendar_head(timezone: str, name: str, description: str, publish: bool = True) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if publish:
        cal.add("method", "PUBLISH")
    # TEXT, escaped: icalendar would write an unknown X- property raw, and a comma in it would
    # cut the name short in parsers that read it as a list (vobject does)
    cal.add("x-wr-calname", vText(name))
    cal.add("x-wr-caldesc", vText(description))
    cal.add("x-wr-timezone", timezone)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT12H")
    text: bytes = cal.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert text.endswith(end)
    return text[: -len(end)]


def render_in_languages(feed_sets: dict[str, FeedSet], shared: str, party_langs: dict[str, str],
                        todo: bool = False, private: bool = False,
                        history: FeedHistory | None = None) -> dict[str, bytes]:
    """Every published feed, each party's in its language and the shared ones in *shared*:
    what `workplan calendars`, the scheduler's rebuild and the server all publish. With
    *history* (a folder's feeds read back), each item continues what the folder showed."""
    from ..i18n import language

    rendered = {}
    for lang, fs in feed_sets.items():
        with language(lang):
            rendered[lang] = render_published(fs, todo=todo, private=private, history=history)
    return {name: rendered[party_langs.get(feed_party(name), shared)][name] for name in rendered[shared]}


def render_published(fs: FeedSet, todo: bool = False, private: bool = False,
                     history: FeedHistory | None = None) -> dict[str, bytes]:
    """The feeds as they are written to a folder. By default they are public (the folder is
    published, even committed): no feed holds a restricted action or names one that an action
    waits on (it is "(restricted)"). With *private*, each party's feed also holds the restricted
    actions it owns or takes part in, as its private feed over HTTP does.

    Rendered once when nothing is restricted; otherwise once for everyone, plus, when private,
    once for each party that has a part in a restricted action (its own feed only)."""
    restricted = [a for a in fs.actions if a.visibility != "public"]
    if not restricted:
        return render_feeds(fs, todo, history)
    out = render_feeds(visible_to(fs), todo, history)
    if not private:
        return out
    involved = sorted({p for a in restricted for p in (*a.with_, *(x.party for x in a.assignments))})
    for party in involved:
        own = render_feeds(visible_to(fs, party), todo, history)
        for name in (f"{party}.ics", f"todo/{party}.ics"):
            if name in own:
                out[name] = own[name]
    return out


def render_feeds(fs: FeedSet, todo: bool = False, history: FeedHistory | None = None) -> dict[str, bytes]:
    """Every feed of the workplan: ``all.ics``, ``meetings.ics`` and ``<PARTY>.ics`` per party;
    with *todo*, also ``todo/all.ics`` and ``todo/<PARTY>.ics``: the same deadlines as VTODOs.
    With *history*, each item's SEQUENCE and stamps continue what the folder showed."""
    domain = fs.group.domain
    names = {p.id: p.name for p in fs.parties}
    titles = fs.meeting_titles
    starts = {m.id: m.start_day for m in fs.meetings}
    events: dict[str, bytes] = {}
    todos: dict[str, bytes] = {}

    def finish(component: Component) -> bytes:
        return component.to_ical() if history is None else history.carried(component)

    zones = b"".join(tz.to_ical() for tz in timezones(fs.meetings))
    meeting_keys = []
    for m in fs.meetings:
        key = f"meeting:{m.id}"
        events[key] = finish(meeting_event(m, domain))
        meeting_keys.append(key)

    def keep(key: str, d: Deadline, action: FeedAction) -> None:
        events[key] = finish(deadline_event(d, domain))
        if todo:
            todos[key] = finish(deadline_todo(d, domain, starts.get(action.source_meeting)))

    public: list[tuple[date, int, str]] = []
    per_party: dict[str, list[tuple[date, int, str]]] = {p.id: [] for p in fs.parties}
    for position, action in enumerate(fs.actions):
        occurrences: dict[str, list[FeedAssignment]] = {}
        for a in action.assignments:
            occurrences.setdefault(a.occurrence, []).append(a)
        owners_all = {a.party for a in action.assignments}
        for occurrence, owners in sorted(occurrences.items()):
            key = f"action:{action.id}:{occurrence}"
            keep(key, action_deadline(action, owners, titles, names), action)
            due = owners[0].due_date
            if action.visibility == "public":
                public.append((due, position, key))
            for party in action.with_:
                for taker in (party, *fs.holders.get(party, ())):  # a role takes part through its holders
                    if taker not in owners_all and taker in per_party:
                        per_party[taker].append((due, position, key))
            for a in owners:
                akey = f"assignment:{action.id}:{a.party}:{occurrence}"
                keep(akey, assignment_deadline(action, a, titles, names), action)
                per_party.setdefault(a.party, []).append((a.due_date, position, akey))
                for holder in fs.holders.get(a.party, ()):  # a role's deadline is in its holders' feeds
                    if holder in per_party:
                        per_party[holder].append((a.due_date, position, akey))

    group = fs.group
    feeds = [
        Feed("all.ics", group.name, _("Meetings and public deadlines of the {group}.").format(group=group.name),
             tuple(meeting_keys), tuple(key for *_rest, key in sorted(public))),
        Feed("meetings.ics", _("{group} — meetings").format(group=group.name),
             _("Meetings of the {group}.").format(group=group.name), tuple(meeting_keys), ()),
    ]
    for pid, items in per_party.items():
        name = names.get(pid, pid)
        feeds.append(Feed(
            f"{pid}.ics", f"{group.name} — {pid} ({name})" if name != pid else f"{group.name} — {pid}",
            _("Deadlines of {party} and of the actions it takes part in; meetings of the {group}.").format(
                party=name, group=group.name),
            tuple(meeting_keys), tuple(key for *_rest, key in sorted(items)),
        ))
    out: dict[str, bytes] = {}
    end = b"END:VCALENDAR\r\n"

    def calendar(name: str, description: str, zones: bytes, body: bytes) -> bytes:
        if body:
            return _calendar_head(group.timezone, name, description) + zones + body + end
        # RFC 5545 wants at least one component and RFC 5546's PUBLISH at least one event or
        # task: an empty feed is a plain calendar (no METHOD) holding the group's time zone
        return _calendar_head(group.timezone, name, description, publish=False) + _group_zone(fs) + end

    for feed in feeds:
        body = b"".join(events[k] for k in (*feed.meetings, *feed.deadlines))
        out[feed.filename] = calendar(feed.name, feed.description, zones, body)
    if todo:
        for feed in feeds:
            if feed.filename == "meetings.ics":
                continue
            out[f"todo/{feed.filename}"] = calendar(
                _("{name} — tasks").format(name=feed.name),
                feed.description + " " + _("As tasks (VTODO), without meetings."),
                b"", b"".join(todos[k] for k in feed.deadlines))
    return out


def _group_zone(fs: FeedSet) -> bytes:
    """The group's VTIMEZONE over the years of its meetings (2000 when it has none)."""
    years = [y for m in fs.meetings for y in (m.start_day.year, m.end_day.year)] or [2000]
    zone = Timezone.from_tzinfo(ZoneInfo(fs.group.timezone), fs.group.timezone,
                                date(min(years), 1, 1), date(max(years) + 1, 1, 1))
    text: bytes = zone.to_ical()
    return text
