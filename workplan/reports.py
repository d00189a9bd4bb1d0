"""Agendas, digests and the dependency graph as plain objects, built from a Session.

The renderers in :mod:`workplan.render` take these objects and never see a database.
Every builder runs a handful of queries whatever the number of actions (see
:mod:`workplan.queries` for its batches of 500 ids): rows come from
:func:`queries.assignment_rows` with filters, events from one windowed query, and the
grouping is done in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import planning, queries
from .changes import Changes
from .errors import UnknownItem, UsageError
from .i18n import _, language, pick, word
from .models import Action, Assignment, Event, Participant, Party
from .queries import Filters, ReadContext, Row, live, status_expr
from .statuses import CLOSED, COMPLETED, STATUSES
from .timeutil import start_of_day, to_utc_naive

# words used for a fanned-out deliverable's cell in the per-country table
CELL_WORD = {"done": "received", "waived": "waived", "cancelled": "cancelled", "open": "missing",
             "in_progress": "in progress"}


# ---------------------------------------------------------------------------
# plain objects shared by agenda and digest


@dataclass(frozen=True)
class PartyRef:
    id: str
    name: str
    kind: str = ""
    emails: tuple[str, ...] = ()
    lang: str = ""  # its documents' language; "" for the group's first
    holders: tuple[str, ...] = ()  # a role's: the names of who holds it on the day it is shown for

    @property
    def label(self) -> str:
        """How an owner is named in a list: its id, and for a role who holds it, ``PPT (Panama)``."""
        return planning.role_label(self.id, self.holders)


@dataclass(frozen=True)
class Source:
    meeting: str
    meeting_title: str
    ref: str

    def __bool__(self) -> bool:
        return bool(self.meeting or self.ref)


@dataclass
class Item:
    """One assignment, as a document shows it."""

    action: str
    title: str
    party: PartyRef
    occurrence: str
    due: date | None
    due_kind: str
    due_meeting: str | None
    status: str
    state: str  # the one word: done, waived, overdue, blocked, at risk, open, in progress…
    overdue: bool
    days_overdue: int | None
    blocked_by: list[str]
    at_risk: bool
    source: Source
    on: date | None = None  # for completed items: the day it was closed
    note: str = ""
    age_days: int | None = None  # for open items without a deadline: planning.commitment_age
    number: int | None = None  # [1], [2]…: set when the digest carries a report key (number_items)
    conclusion: str = ""  # the id of the conclusion its action carries out, '' when it names none
    conclusion_kind: str = ""


@dataclass
class ActionSummary:
    """One action and its assignments (a fanned-out action is one line, with who is pending)."""

    action: str
    title: str
    due: date | None
    due_kind: str
    source: Source
    items: list[Item]
    rolled_over: bool = False  # expected at a slot that passed without a meeting

    @property
    def pending(self) -> list[Item]:
        return [i for i in self.items if i.status not in CLOSED]

    @property
    def closed(self) -> list[Item]:
        return [i for i in self.items if i.status in CLOSED]

    @property
    def owners(self) -> list[PartyRef]:
        return [i.party for i in self.items]

    @property
    def blocked_by(self) -> list[str]:
        seen: dict[str, None] = {}
        for i in self.pending:
            for dep in i.blocked_by:
                seen[dep] = None
        return list(seen)

    @property
    def state(self) -> str:
        return planning.action_state(self.items)


@dataclass
class MeetingInfo:
    """A scheduled meeting, or a meeting the cadence expects in a slot (``expected``)."""

    kind: str
    title: str
    id: str | None = None
    start: date | None = None
    end: date | None = None
    precision: str = "date"
    location: str = ""
    url: str = ""
    status: str = "expected"
    slot_start: date | None = None
    slot_end: date | None = None
    slot_label: str = ""  # "second semester of 2018"
    per: str = ""  # for an expected meeting: the cadence rule that expects it
    at_least: int = 0

    @property
    def expected(self) -> bool:
        return self.id is None

    @property
    def day(self) -> date:
        """The day deadlines "at this meeting" fall on: its first day, or the slot's end."""
        if self.expected:
            assert self.slot_end is not None
            return self.slot_end
        assert self.start is not None
        return self.start

    @property
    def last_day(self) -> date:
        if self.expected:
            assert self.slot_end is not None
            return self.slot_end
        assert self.start is not None
        return self.end or self.start

    @property
    def kind_label(self) -> str:
        return self.kind


@dataclass
class DeliverableCell:
    party: PartyRef
    status: str
    word: str  # received | missing | waived | cancelled | in progress
    on: date | None
    note: str
    overdue: bool


@dataclass
class Deliverable:
    """A fanned-out action: one row per party in the per-country status table."""

    action: str
    title: str
    due: date | None
    due_kind: str
    source: Source
    cells: list[DeliverableCell]

    def count(self, word: str) -> int:
        return sum(1 for c in self.cells if c.word == word)

    def parties(self, word: str) -> list[str]:
        return [c.party.id for c in self.cells if c.word == word]


@dataclass
class ChainStep:
    action: str
    title: str
    owners: list[str]
    due: date | None
    due_kind: str
    state: str


@dataclass
class OwnerGroup:
    party: PartyRef
    items: list[Item]


@dataclass
class CadenceNote:
    kind: str
    per: str
    at_least: int
    next: MeetingInfo


@dataclass
class OwnerState:
    """One owner of an action, in the register of conclusions: its one word as of the moment."""

    party: PartyRef
    state: str  # planning.assignment_state (or action_state over a recurring action's occurrences)
    status: str


@dataclass
class ConclusionAction:
    """An action that carries out a conclusion, with each owner's state."""

    action: str
    title: str
    state: str  # planning.action_state
    due: date | None
    due_kind: str
    owners: list[OwnerState]
    requested_by: list[PartyRef]

    def by_state(self) -> list[tuple[str, list[PartyRef]]]:
        """The owners grouped by their state, the states in the order they first come."""
        groups: dict[str, list[PartyRef]] = {}
        for owner in self.owners:
            groups.setdefault(owner.state, []).append(owner.party)
        return list(groups.items())


@dataclass
class ConclusionEntry:
    """A conclusion as the follow-up report shows it."""

    id: str
    kind: str
    source: Source
    text: str
    requested_by: list[PartyRef]
    addressed_to: list[PartyRef]
    actions: list[ConclusionAction]
    state: str  # planning.conclusion_state: done, in progress, overdue, not started, no action needed
    restricted: int = 0  # its restricted actions: counted in the state, not shown (a shared document)

    def short(self, width: int = 90) -> str:
        """The text cut at a word before *width* characters, with an ellipsis (tables)."""
        return shorten(self.text, width)


@dataclass
class ConclusionsReport:
    """`workplan conclusions [MEETING]`: the follow-up of a meeting's conclusions (or of all)."""

    group_name: str
    as_of: datetime
    meeting: MeetingInfo | None  # None: every meeting's
    conclusions: list[ConclusionEntry]
    meetings: list[MeetingInfo]  # the meetings whose conclusions are listed, in date order

    @property
    def counts(self) -> dict[str, int]:
        """How many conclusions are in each state, in the order of planning.CONCLUSION_STATES."""
        return {state: sum(1 for c in self.conclusions if c.state == state) for state in planning.CONCLUSION_STATES}

    def of(self, meeting: MeetingInfo) -> list[ConclusionEntry]:
        return [c for c in self.conclusions if c.source.meeting == meeting.id]


def shorten(text: str, width: int) -> str:
    """*text* on one line, cut at a word before *width* characters with an ellipsis."""
    words = " ".join(text.split())
    if len(words) <= width:
        return words
    cut = words[: width - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


@dataclass
class Agenda:
    group_name: str
    as_of: datetime
    meeting: MeetingInfo
    previous: MeetingInfo | None
    following: MeetingInfo | None
    window_end: date
    due_here: list[ActionSummary]
    overdue_by_owner: list[OwnerGroup]
    deliverables: list[Deliverable]
    completed: list[ActionSummary]
    deadlines: list[ActionSummary]
    chains: list[list[ChainStep]]
    cadence: list[CadenceNote]
    follow_up: ConclusionsReport | None = None  # the conclusions of the previous meeting
    # meetings of other bodies from this meeting to the following one: shown, never the group's own
    other_bodies: list[MeetingInfo] = field(default_factory=list)


@dataclass
class Digest:
    group_name: str
    group_domain: str
    party: PartyRef
    group_wide: bool
    as_of: datetime
    period: str  # ISO week of the as-of day: the unit "exactly once" counts in
    lookahead_days: int
    completed_since: datetime
    overdue: list[Item]
    due_soon: list[Item]
    blocked: list[Item]
    completed: list[Item]
    taking_part: list[Item]
    meetings: list[MeetingInfo]
    secretariat_email: str = ""  # the default sender
    changes: Changes | None = None  # since the last digest sent to this party (workplan.mail)
    no_deadline: list[Item] = field(default_factory=list)  # open, no deadline: the oldest first
    report: ReportLinks | None = None  # the report page and reply address (workplan.reporting.attach)

    @property
    def counts(self) -> dict[str, int]:
        return {"overdue": len(self.overdue), "due_soon": len(self.due_soon), "blocked": len(self.blocked)}


@dataclass(frozen=True)
class ReportLinks:
    """Where a party answers its digest: the report page, the tagged reply address (empty when
    ``reply.address`` is not set) and the one-click pause (RFC 8058)."""

    page: str
    reply_to: str
    unsubscribe: str
    expires: date


def number_items(digest: Digest) -> list[tuple[int, Item]]:
    """Number the items *digest*'s party owns, [1], [2]…, in the order the digest shows them
    (overdue, due soon, blocked, no deadline, completed); an item shown in two sections keeps
    one number. Items of the actions it only takes part in get none: a reply cannot change them.
    The items of a role it holds (there only because it holds it) are numbered like its own."""
    numbers: dict[tuple[str, str, str], int] = {}
    out: list[tuple[int, Item]] = []
    if digest.group_wide:
        return out
    for item in (*digest.overdue, *digest.due_soon, *digest.blocked, *digest.no_deadline, *digest.completed):
        if item.party.id != digest.party.id and item.party.kind != "role":
            continue
        key = (item.action, item.party.id, item.occurrence)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            out.append((numbers[key], item))
        item.number = numbers[key]
    return out


@dataclass
class GraphNode:
    action: str
    title: str
    state: str  # done | overdue | blocked | at risk | in progress | open | waived | cancelled
    owners: list[str]
    due: date | None
    due_kind: str
    done: int
    total: int


@dataclass
class Graph:
    group_name: str
    as_of: datetime
    nodes: list[GraphNode]
    edges: list[tuple[str, str]] = field(default_factory=list)  # (dependency, dependant)


# ---------------------------------------------------------------------------
# lookups shared by the builders (one query each)


def role_ref(rid: str, roles: Mapping[str, planning.Role], parties: Mapping[str, PartyRef], day: date) -> PartyRef:
    """A role on *day*: named by whoever holds it (``label`` is then ``PPT (Panama)``), by its own
    name while nobody does."""
    holders = [parties[p].name if p in parties else p for p in planning.role_holders(rid, day, roles)]
    own = parties[rid].name if rid in parties else rid
    return PartyRef(rid, ", ".join(holders) or own, "role", holders=tuple(holders))


def _parties(session: Session, only: str | None = None) -> dict[str, PartyRef]:
    query = select(Party).where(Party.withdrawn_at.is_(None)).order_by(Party.position, Party.id)
    if only is not None:  # one party (a report page's, per request): not the whole list
        query = query.where(Party.id == only)
    return {p.id: PartyRef(p.id, pick(p.name, {"name": p.names or {}}, "name"), p.kind, tuple(p.emails or ()),
                           p.lang or "") for p in session.scalars(query)}


class _Context:
    """What every builder looks up once: parties, meetings, cadence."""

    def __init__(self, session: Session, ctx: ReadContext) -> None:
        self.session, self.ctx = session, ctx
        self.group = queries.group_info(session)
        self.parties = _parties(session)
        self._order = {pid: n for n, pid in enumerate(self.parties)}
        self.meetings = queries.meetings(session, ctx.as_of_day)
        self.meeting_titles = {m.id: m.title for m in self.meetings}
        self.meeting_ends = {m.id: m.end_day for m in self.meetings}
        self.rules = queries.cadence_rules(session)
        self.conclusion_of = queries.conclusion_of_actions(session, ctx)
        self.roles = queries.roles(session)
        if self.roles:  # a role is shown with whoever holds it on the as-of day: "PPT (Panama)"
            self.parties.update({rid: role_ref(rid, self.roles, self.parties, ctx.as_of_day) for rid in self.roles})

    def party(self, pid: str) -> PartyRef:
        return self.parties.get(pid) or PartyRef(pid, pid)

    def held_roles(self, pid: str) -> list[str]:
        """The roles *pid* holds on the as-of day: their items go to its digest and feed."""
        day = self.ctx.as_of_day
        return [rid for rid in self.roles if pid in planning.role_holders(rid, day, self.roles)]

    def source(self, meeting: str, ref: str) -> Source:
        return Source(meeting, self.meeting_titles.get(meeting, ""), ref)

    def item(self, row: Row) -> Item:
        conclusion, kind = self.conclusion_of.get(row.action, ("", ""))
        return Item(
            row.action, row.title, self.party(row.party), row.occurrence, row.due, row.due_kind, row.due_meeting,
            row.status, planning.assignment_state(row), row.overdue, row.days_overdue, list(row.blocked_by), row.at_risk,
            self.source(row.source_meeting, row.source_ref), conclusion=conclusion, conclusion_kind=kind,
        )

    def aged(self, row: Row) -> Item:
        """The item of an open assignment without a deadline, with its age."""
        item = self.item(row)
        item.age_days = planning.commitment_age(self.meeting_ends.get(row.source_meeting), self.ctx.as_of_day)
        return item

    def party_order(self, pid: str) -> tuple[int, str]:
        """Parties in the order of the actions file (the secretariat first, then the countries…)."""
        return (self._order.get(pid, len(self._order)), pid)


def _meeting_info(m: queries.MeetingRow) -> MeetingInfo:
    return MeetingInfo(m.kind, m.title, m.id, m.start_day, m.end_day if m.end else None, m.precision,
                       m.location, m.url, m.status)


# ---------------------------------------------------------------------------
# which meeting: scheduled, or expected per the cadence (pure)


def slot_label(start: date, per: str) -> str:
    """"second semester of 2018", "third quarter of 2019", "year 2019" (in the current language)."""
    from .i18n import slot_label as label

    return label(start, per)


def expected_meeting(
    rule: planning.CadenceRule, from_day: date, meetings: Sequence[queries.MeetingRow], group_name: str
) -> MeetingInfo:
    """The meeting of *rule*'s kind expected in its slot (:func:`planning.expected_slot` from *from_day*)."""
    start, end = planning.expected_slot(rule, from_day, meetings)
    kind = word(rule.kind)
    title = _("{Kind} meeting of the {group}").format(kind=kind, Kind=kind.capitalize(), group=group_name)
    return MeetingInfo(rule.kind, title, slot_start=start,
                       slot_end=end, slot_label=slot_label(start, rule.per), per=rule.per,
                       at_least=rule.at_least)


def next_of_kind(
    kind: str, after: date, meetings: Sequence[queries.MeetingRow], rules: Sequence[planning.CadenceRule],
    group_name: str, inclusive: bool = True,
) -> MeetingInfo | None:
    """The next scheduled meeting of *kind* from *after* (not cancelled), else the expected slot."""
    found = planning.next_meeting(kind, after, meetings, inclusive=inclusive)
    if found is not None:
        return _meeting_info(found)
    rule = next((r for r in rules if r.kind == kind), None)
    if rule is None:
        return None
    return expected_meeting(rule, after if inclusive else after + timedelta(days=1), meetings, group_name)


def choose_meeting(
    which: str, meeting_id: str | None, as_of_day: date, meetings: Sequence[queries.MeetingRow],
    rules: Sequence[planning.CadenceRule], group_name: str,
) -> MeetingInfo:
    """Resolve ``--next-virtual`` / ``--next-face-to-face`` / ``--next`` / ``--meeting ID``."""
    if which == "meeting":
        row = next((m for m in meetings if m.id == meeting_id), None)
        if row is None:
            known = ", ".join(m.id for m in meetings)
            raise UnknownItem(_("there is no meeting {meeting!r} (known: {known})").format(meeting=meeting_id,
                                                                                           known=known))
        return _meeting_info(row)
    if which in ("virtual", "face-to-face"):
        found = next_of_kind(which, as_of_day, meetings, rules, group_name)
        if found is None:
            raise UsageError(_("no {kind} meeting is scheduled from {day} on, and no cadence rule says when to "
                               "expect one; use --meeting ID").format(kind=word(which), day=as_of_day))
        return found
    # --next: the first scheduled meeting of any kind, unless a slot the group's cadence requires
    # ends before it
    candidates: list[MeetingInfo] = []
    scheduled = planning.next_meeting(None, as_of_day, meetings, inclusive=True)
    if scheduled is not None:
        candidates.append(_meeting_info(scheduled))
    for rule in rules:
        if rule.report:
            nxt = next_of_kind(rule.kind, as_of_day, meetings, rules, group_name)
            if nxt is not None:
                candidates.append(nxt)
    if not candidates:
        raise UsageError(_("no meeting is scheduled from {day} on, and no cadence rule says when to "
                           "expect one; use --meeting ID").format(day=as_of_day))
    return min(candidates, key=lambda m: (m.day, m.expected, m.id or ""))


def _cadence_notes(meeting: MeetingInfo, c: _Context) -> list[CadenceNote]:
    notes = []
    for rule in c.rules:
        if not rule.report:
            continue
        nxt = next_of_kind(rule.kind, meeting.last_day, c.meetings, c.rules, c.group.name, inclusive=False)
        if nxt is not None:
            notes.append(CadenceNote(rule.kind, rule.per, rule.at_least, nxt))
    return notes


# ---------------------------------------------------------------------------
# events


@dataclass(frozen=True)
class _Closing:
    action: str
    party: str
    occurrence: str
    status: str
    on: datetime
    note: str


def _last_events(session: Session, ctx: ReadContext, since: datetime | None,
                 actions: Iterable[str] | None = None, parties: Iterable[str] | None = None) -> list[_Closing]:
    """The latest event per assignment in (since, as-of]: when it closes the assignment, the
    assignment is still closed at the as-of moment (no later event before it)."""
    query = select(Event.assignment_id, Event.action_id, Event.party_id, Event.occurrence, Event.to_status,
                   Event.occurred_at, Event.note).where(Event.occurred_at <= ctx.as_of_utc)
    if since is not None:
        query = query.where(Event.occurred_at >= to_utc_naive(since))
    if parties is not None:
        query = query.where(Event.party_id.in_(list(parties)))
    query = query.order_by(Event.occurred_at, Event.id)
    last: dict[int, Any] = {}
    # in batches of actions: an assignment's events all come in its action's batch, in order
    for ev in session.execute(query) if actions is None else queries.rows_in(session, query, Event.action_id, actions):
        last[ev.assignment_id] = ev
    from .timeutil import from_utc_naive

    return [
        _Closing(ev.action_id, ev.party_id, ev.occurrence, ev.to_status, from_utc_naive(ev.occurred_at, ctx.tz),
                 ev.note)
        for ev in last.values()
    ]


def _summaries(rows: Iterable[Item]) -> list[ActionSummary]:
    """Group assignments by action (and by occurrence, for a recurring action)."""
    by_action: dict[tuple[str, str], ActionSummary] = {}
    for item in rows:
        key = (item.action, item.occurrence)
        summary = by_action.get(key)
        if summary is None:
            summary = by_action[key] = ActionSummary(item.action, item.title, item.due, item.due_kind, item.source,
                                                     [])
        summary.items.append(item)
    return list(by_action.values())


# ---------------------------------------------------------------------------
# the agenda


def agenda(session: Session, ctx: ReadContext, which: str, meeting_id: str | None = None) -> Agenda:
    c = _Context(session, ctx)
    today = ctx.as_of_day
    meeting = choose_meeting(which, meeting_id, today, c.meetings, c.rules, c.group.name)
    previous_rows = [m for m in c.meetings if m.status != "cancelled" and m.id != meeting.id
                     and not planning.is_external(m)
                     and m.start_day <= min(today, meeting.day - timedelta(days=1))]
    previous = _meeting_info(max(previous_rows, key=lambda m: (m.start_day, m.id))) if previous_rows else None
    cadence = _cadence_notes(meeting, c)
    following = min((n.next for n in cadence), key=lambda m: m.day, default=None)
    if following is None:
        later = planning.next_meeting(None, meeting.last_day, c.meetings)
        following = _meeting_info(later) if later is not None else None
    window_end = following.day if following else planning.lookahead_end(meeting.last_day, ctx.lookahead_days)

    # one pass over the public assignments (judging each needs every action's state, which is a
    # scan of its own: once, not once per section)
    rows = queries.assignment_rows(session, ctx, Filters(include_restricted=False))
    by_action: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_action[row.action].append(row)

    due_here = _due_at_meeting(c, meeting, by_action)
    here_ids = {s.action for s in due_here}

    overdue_rows = sorted((r for r in rows if r.overdue), key=lambda r: (-(r.days_overdue or 0), r.action, r.party))
    groups: dict[str, list[Item]] = defaultdict(list)
    for row in overdue_rows:
        groups[row.party].append(c.item(row))
    overdue_by_owner = [OwnerGroup(c.party(pid), groups[pid]) for pid in sorted(groups, key=c.party_order)]

    since = start_of_day(previous.start, ctx.tz) if previous and previous.start else None
    closings = _last_events(session, ctx, since)
    completed = _completed(c, closings, by_action)
    deliverables = _deliverables(c, window_end, {(x.action, x.party) for x in closings if x.status in CLOSED},
                                 by_action)

    # an action (occurrence) is listed when one of its assignments is still to be met in the
    # window; it is summed up over all of them, so that "7 of 11 closed" counts the closed ones too
    listed = {(r.action, r.occurrence) for r in rows
              if r.status not in CLOSED and not r.overdue and r.action not in here_ids
              and planning.due_soon(r.due, today, window_end, r.due_kind)}
    deadlines = _summaries(c.item(r) for r in rows if (r.action, r.occurrence) in listed)
    deadlines.sort(key=lambda s: (s.due or date.max, s.action))

    follow_up = _conclusions_report(c, previous.id, previous) if previous is not None and previous.id else None
    other_bodies = [_meeting_info(m) for m in c.meetings if planning.is_external(m) and m.status != "cancelled"
                    and (meeting.start or today) <= m.start_day <= window_end]
    return Agenda(c.group.name, ctx.as_of, meeting, previous, following, window_end, due_here, overdue_by_owner,
                  deliverables, completed, deadlines, _chains(c), cadence, follow_up, other_bodies)


def _due_at_meeting(c: _Context, meeting: MeetingInfo, by_action: dict[str, list[Row]]) -> list[ActionSummary]:
    """Actions due at the meeting itself (not the preparations due some days before it).

    For an expected meeting: deadlines that resolved to its slot, and those of earlier slots of
    the same kind that passed without a meeting while the action is still open (it still awaits
    "the next meeting", which this one is)."""
    # recurring actions have dated occurrences, never a meeting deadline
    query = select(Action.id, Action.due_spec, Action.due_date).where(
        live(Action.withdrawn_at, c.ctx), Action.visibility == "public")
    if meeting.expected:
        query = query.where(Action.due_kind == "expected")
    else:
        query = query.where(Action.due_meeting == meeting.id)
    exact: set[str] = set()
    earlier: set[str] = set()
    for aid, due_spec, due_date in c.session.execute(query):
        if (due_spec or {}).get("offset_days"):
            continue
        if not meeting.expected:
            exact.add(aid)
        elif (due_spec or {}).get("next") == meeting.kind and due_date is not None:
            if due_date == meeting.day:
                exact.add(aid)
            elif due_date < meeting.day:
                earlier.add(aid)
    if not exact and not earlier:
        return []
    rows = [r for aid in sorted(exact | earlier, key=_position(by_action)) for r in by_action.get(aid, [])]
    summaries = _summaries(c.item(r) for r in rows)
    out = []
    for s in summaries:
        if s.action in earlier:
            if not s.pending:
                continue
            s.rolled_over = True
        out.append(s)
    return out


def _position(by_action: dict[str, list[Row]]) -> Any:
    """Sort key: the order actions come in from the query (their order in the actions file)."""
    order = {aid: n for n, aid in enumerate(by_action)}
    return lambda aid: (order.get(aid, len(order)), aid)


def _completed(c: _Context, closings: list[_Closing], by_action: dict[str, list[Row]]) -> list[ActionSummary]:
    done = [x for x in closings if x.status in COMPLETED]
    if not done:
        return []
    rows = [r for aid in sorted({x.action for x in done}, key=_position(by_action))
            for r in by_action.get(aid, []) if r.status in CLOSED]
    by_key = {(x.action, x.party, x.occurrence): x for x in done}
    items = []
    for row in rows:
        closing = by_key.get((row.action, row.party, row.occurrence))
        if closing is None:
            continue
        item = c.item(row)
        item.on, item.note = closing.on.date(), closing.note
        items.append(item)
    return _summaries(items)


def _deliverables(c: _Context, window_end: date, closed_since: set[tuple[str, str]],
                  by_action: dict[str, list[Row]]) -> list[Deliverable]:
    """Fanned-out actions with a deadline by the following meeting that are still pending, or
    that were completed since the previous meeting."""
    query = (
        select(Assignment.action_id)
        .join(Action, Action.id == Assignment.action_id)
        .where(live(Assignment.withdrawn_at, c.ctx), live(Action.withdrawn_at, c.ctx),
               Action.visibility == "public", Assignment.occurrence == "",
               Assignment.due_date.is_not(None), Assignment.due_date <= window_end)
        .group_by(Assignment.action_id)
        .having(func.count(func.distinct(Assignment.party_id)) > 1)
    )
    ids = list(c.session.scalars(query))
    if not ids:
        return []
    notes = {(x.action, x.party): x for x in _last_events(c.session, c.ctx, None, actions=ids)}
    out = []
    for aid in sorted(ids, key=_position(by_action)):
        arows = by_action.get(aid, [])
        if not arows:
            continue
        pending = any(r.status not in CLOSED for r in arows)
        recent = any((aid, r.party) in closed_since for r in arows)
        if not pending and not recent:
            continue
        first = arows[0]
        cells = []
        for r in sorted(arows, key=lambda r: c.party_order(r.party)):
            ev = notes.get((aid, r.party))
            closed_ev = ev if ev is not None and r.status in CLOSED and ev.status == r.status else None
            cells.append(DeliverableCell(
                c.party(r.party), r.status, CELL_WORD.get(r.status, r.status),
                closed_ev.on.date() if closed_ev else None, closed_ev.note if closed_ev else "", r.overdue))
        out.append(Deliverable(aid, first.title, first.due, first.due_kind,
                               c.source(first.source_meeting, first.source_ref), cells))
    out.sort(key=lambda d: (d.due or date.max, d.action))
    return out


def _chains(c: _Context) -> list[list[ChainStep]]:
    status = status_expr(c.session, c.ctx)
    states = queries.action_states(c.session, c.ctx, status)
    deps = queries.dependency_map(c.session)
    open_actions = {a for a, s in states.items() if not s.closed}
    chains = planning.blocked_chains(deps, open_actions)
    if not chains:
        return []
    ids = sorted({a for chain in chains for a in chain})
    actions = {
        a.id: a for a in queries.rows_in(
            c.session, select(Action.id, Action.title, Action.owners, Action.due_date, Action.due_at, Action.due_kind,
                              Action.visibility, Action.translations), Action.id, ids)
    }
    today = c.ctx.as_of_day
    out = []
    for chain in chains:
        if any(actions[a].visibility != "public" for a in chain):
            continue
        steps = []
        for position, aid in enumerate(chain):
            a = actions[aid]
            # each waits on the one before it, still open; the first waits on none
            overdue = a.due_date is not None and planning.is_overdue(
                a.due_date, a.due_at.replace(tzinfo=UTC) if a.due_at else None, c.ctx.as_of, today)
            state = planning.state_word("open", overdue, position > 0, False)
            steps.append(ChainStep(aid, pick(a.title, a.translations, "title"), list(a.owners), a.due_date, a.due_kind, state))
        out.append(steps)
    return out


# ---------------------------------------------------------------------------
# digests


def recipients(session: Session, party: str | None) -> list[PartyRef]:
    """``--party P``: that party; ``--all``: every party with an address, and the secretariat."""
    parties = _parties(session)
    if party is not None:
        found = parties.get(party)
        if found is None:
            raise UnknownItem(_("there is no party {party!r}").format(party=party))
        if found.kind == "role":
            raise UsageError(_("{party} is a role: its items go in the digest of the party that holds it on the "
                               "as-of day").format(party=party))
        if not found.emails and found.kind != "secretariat":
            raise UsageError(_("party {party} has no email address in the actions file, so it gets no digest").format(
                party=party))
        return _chosen_language(session, [found])
    return _chosen_language(session, [p for p in parties.values() if p.emails or p.kind == "secretariat"])


def party_ref(session: Session, party: str) -> PartyRef:
    """*party* as a digest addresses it: its addresses, and the language it chose (else the
    actions file's); :class:`UnknownItem` for a party withdrawn or unknown."""
    found = _parties(session, only=party).get(party)
    if found is None:
        raise UnknownItem(_("there is no party {party!r}").format(party=party))
    return _chosen_language(session, [found])[0]


def _chosen_language(session: Session, who: list[PartyRef]) -> list[PartyRef]:
    """The language a party chose on its report page (or the secretariat set for it) wins over
    the actions file's."""
    from .reporting import preferences

    chosen = {pid: p.lang for pid, p in preferences(session, [p.id for p in who]).items() if p.lang}
    return [replace(p, lang=chosen[p.id]) if p.id in chosen else p for p in who]


def digests_by_language(session: Session, ctx: ReadContext, who: Sequence[PartyRef],
                        explicit: str | None = None) -> list[tuple[str, Digest]]:
    """The digests of *who*, each built in its party's language (:func:`planning.party_language`;
    titles and dates are chosen while building), in the order of *who*: one pass of :func:`digests`
    per language."""
    group = queries.group_info(session)
    by_lang: dict[str, list[PartyRef]] = defaultdict(list)
    for party in who:
        by_lang[planning.party_language(explicit, party.lang, group.languages)].append(party)
    built: dict[str, tuple[str, Digest]] = {}
    for lang, parties in by_lang.items():
        with language(lang):
            for d in digests(session, ctx, parties):
                built[d.party.id] = (lang, d)
    return [built[p.id] for p in who]


def digests(session: Session, ctx: ReadContext, who: Sequence[PartyRef]) -> list[Digest]:
    """One digest per party in *who*; a party of kind ``secretariat`` gets the group-wide one."""
    c = _Context(session, ctx)
    today = ctx.as_of_day
    soon = planning.lookahead_end(today, ctx.lookahead_days)
    group_wide = any(p.kind == "secretariat" for p in who)
    # a party's digest carries the items of the roles it holds on the as-of day (roles that rotate)
    held = {p.id: c.held_roles(p.id) for p in who}
    ids = [p.id for p in who] + [rid for p in who for rid in held[p.id]]
    participations: dict[str, set[str]] = defaultdict(set)
    part_query = select(Participant.party_id, Participant.action_id)
    if not group_wide:
        part_query = part_query.where(Participant.party_id.in_(ids))
    for pid, aid in session.execute(part_query):
        participations[pid].add(aid)
    if group_wide or len(ids) > 1:
        rows = queries.assignment_rows(session, ctx, Filters(status="pending"))
    else:
        own = queries.assignment_rows(session, ctx, Filters(owner=ids[0], status="pending"))
        wanted = sorted(participations[ids[0]])
        others = queries.assignment_rows(session, ctx, Filters(actions=wanted, status="pending")) if wanted else []
        seen = {(r.action, r.party, r.occurrence) for r in own}
        rows = own + [r for r in others if (r.action, r.party, r.occurrence) not in seen]
    since = ctx.as_of - planning.DIGEST_WINDOW
    closings = [x for x in _last_events(session, ctx, since, parties=None if group_wide else ids)
                if x.status in COMPLETED]
    titles: dict[str, str] = {}
    sources: dict[str, tuple[str, str]] = {}
    if closings:
        for aid, title, translations, m, ref in queries.rows_in(
                session, select(Action.id, Action.title, Action.translations, Action.source_meeting, Action.source_ref),
                Action.id, {x.action for x in closings}):
            titles[aid], sources[aid] = pick(title, translations, "title"), (m, ref)
    meetings = _upcoming_meetings(c)
    period = planning.digest_period(today)
    secretariat_email = next((p.emails[0] for p in c.parties.values() if p.kind == "secretariat" and p.emails), "")

    by_party: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_party[row.party].append(row)
    out = []
    for party in who:
        wide = party.kind == "secretariat"
        owners_as = [party.id, *held[party.id]]
        mine = rows if wide else [r for pid in owners_as for r in by_party.get(pid, [])]
        overdue = sorted((r for r in mine if r.overdue), key=lambda r: (-(r.days_overdue or 0), r.action, r.party))
        due_soon = sorted((r for r in mine if not r.overdue and planning.due_soon(r.due, today, soon, r.due_kind)),
                          key=lambda r: (r.due or date.max, r.action, r.party))
        blocked = [r for r in mine if r.blocked_by or r.at_risk]
        ongoing = [c.aged(r) for r in mine if planning.open_without_deadline(r.status, r.due, r.due_kind)]
        ongoing.sort(key=lambda i: (i.age_days is None, -(i.age_days or 0)))  # the oldest first; stable
        part = set() if wide else {a for pid in owners_as for a in participations.get(pid, set())}
        taking_part = sorted(
            (r for r in rows if r.action in part and r.party not in owners_as
             and (r.overdue or r.blocked_by or r.at_risk or planning.due_soon(r.due, today, soon, r.due_kind))),
            key=lambda r: (r.due or date.max, r.action, r.party))
        completed = []
        for x in sorted(closings, key=lambda x: (x.on, x.action, x.party)):
            if not wide and x.party not in owners_as:
                continue
            meeting, ref = sources.get(x.action, ("", ""))
            completed.append(Item(x.action, titles.get(x.action, x.action), c.party(x.party), x.occurrence, None,
                                  "", None, x.status, x.status, False, None, [], False, c.source(meeting, ref),
                                  on=x.on.date(), note=x.note,
                                  conclusion=c.conclusion_of.get(x.action, ("", ""))[0],
                                  conclusion_kind=c.conclusion_of.get(x.action, ("", ""))[1]))
        out.append(Digest(
            c.group.name, c.group.domain, party, wide, ctx.as_of, period, ctx.lookahead_days, since,
            [c.item(r) for r in overdue], [c.item(r) for r in due_soon], [c.item(r) for r in blocked], completed,
            [c.item(r) for r in taking_part], meetings, secretariat_email, no_deadline=ongoing,
        ))
    return out


def _upcoming_meetings(c: _Context) -> list[MeetingInfo]:
    """Scheduled meetings from the as-of day on, and where the cadence expects the next ones."""
    today = c.ctx.as_of_day
    out = [_meeting_info(m) for m in c.meetings if m.status != "cancelled" and m.start_day >= today]
    for rule in c.rules:
        if not rule.report:
            continue
        nxt = next_of_kind(rule.kind, today, c.meetings, c.rules, c.group.name)
        if nxt is not None and nxt.expected:
            out.append(nxt)
    out.sort(key=lambda m: (m.day, m.expected, m.id or ""))
    return out


# ---------------------------------------------------------------------------
# the register of conclusions


def conclusions(session: Session, ctx: ReadContext, meeting_id: str | None = None) -> ConclusionsReport:
    """The follow-up of the conclusions of *meeting_id* (or of every meeting) as of *ctx*: each
    conclusion in document order with its public actions and each owner's state."""
    c = _Context(session, ctx)
    meeting = None
    if meeting_id is not None:
        row = next((m for m in c.meetings if m.id == meeting_id), None)
        if row is None:
            known = ", ".join(m.id for m in c.meetings)
            raise UnknownItem(_("there is no meeting {meeting!r} (known: {known})").format(meeting=meeting_id,
                                                                                           known=known))
        meeting = _meeting_info(row)
    return _conclusions_report(c, meeting_id, meeting)


def _conclusions_report(c: _Context, meeting_id: str | None, meeting: MeetingInfo | None) -> ConclusionsReport:
    found = queries.conclusions(c.session, c.ctx, meeting_id)
    linked = {a.id: a for a in queries.linked_actions(c.session, c.ctx)}
    wanted = [aid for row in found for aid in row.actions]
    # every action counts in its conclusion's state; only the public ones are shown
    rows = queries.assignment_rows(c.session, c.ctx, Filters(actions=wanted)) if wanted else []
    by_action: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_action[r.action].append(r)
    order = {m.id: n for n, m in enumerate(c.meetings)}
    entries = []
    for row in sorted(found, key=lambda r: order.get(r.meeting, len(order))):  # stable: file order within
        public = [aid for aid in row.actions if linked[aid].visibility == "public"]
        actions = [_conclusion_action(c, linked[aid], by_action.get(aid, [])) for aid in public]
        state = planning.conclusion_state([by_action.get(aid, []) for aid in row.actions])
        entries.append(ConclusionEntry(
            row.id, row.kind, c.source(row.meeting, row.ref), row.text, [c.party(p) for p in row.requested_by],
            [c.party(p) for p in row.addressed_to], actions, state, len(row.actions) - len(public)))
    listed = {e.source.meeting for e in entries}
    meetings = [_meeting_info(m) for m in c.meetings if m.id in listed]
    return ConclusionsReport(c.group.name, c.ctx.as_of, meeting, entries, meetings)


def _conclusion_action(c: _Context, action: queries.LinkedAction, rows: list[Row]) -> ConclusionAction:
    by_party: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_party[r.party].append(r)
    owners = []
    for pid in sorted(by_party, key=c.party_order):
        items = by_party[pid]
        # a recurring action's occurrences are one owner: the most pressing of them
        state = planning.assignment_state(items[0]) if len(items) == 1 else planning.action_state(items)
        owners.append(OwnerState(c.party(pid), state, items[-1].status))
    pending = [r for r in rows if r.status not in CLOSED and r.due is not None]
    first = min(pending, key=lambda r: r.due or date.max) if pending else (rows[0] if rows else None)
    return ConclusionAction(action.id, action.title, planning.action_state(rows), first.due if first else None,
                            first.due_kind if first else "none", owners,
                            [c.party(p) for p in action.requested_by])


# ---------------------------------------------------------------------------
# the dependency graph


def graph(session: Session, ctx: ReadContext, everything: bool = False) -> Graph:
    """Actions linked by dependencies (or every action), each with one state for its colour."""
    group = queries.group_info(session)
    deps = queries.dependency_map(session)
    linked = {a for a, ds in deps.items() for a in [a, *ds]}
    rows = queries.assignment_rows(session, ctx, Filters(include_restricted=False))
    by_action: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if everything or row.action in linked:
            by_action[row.action].append(row)
    owners_q = select(Action.id, Action.title, Action.owners, Action.due_date, Action.due_kind,
                      Action.translations).where(
        live(Action.withdrawn_at, ctx), Action.visibility == "public").order_by(Action.position)
    nodes = []
    for aid, title, owners, due, due_kind, translations in session.execute(owners_q):
        if not everything and aid not in linked:
            continue
        arows = by_action.get(aid, [])
        nodes.append(GraphNode(aid, pick(title, translations, "title"), _action_state(arows), list(owners), due, due_kind,
                               sum(1 for r in arows if r.status == "done"), len(arows)))
    present = {n.action for n in nodes}
    edges = sorted((d, a) for a, ds in deps.items() for d in ds if a in present and d in present)
    return Graph(group.name, ctx.as_of, nodes, edges)


def _action_state(rows: Sequence[Row]) -> str:
    """:func:`planning.action_state`, but a closed action takes the colour of what closed it: done
    when any assignment was done, else waived when any was (a set's pop() chose between waived and
    cancelled by the string hash before), else cancelled."""
    state = planning.action_state(rows)
    if state == "closed":
        statuses = {r.status for r in rows}
        return next(s for s in STATUSES if s in statuses)  # done, waived, cancelled
    return state




# ---------------------------------------------------------------------------
# a party's report page (workplan.reportpage): its own assignments, open and recently closed


@dataclass(frozen=True)
class LastEvent:
    """An assignment's latest event, as the report page shows it: who, when, how."""

    at: datetime  # aware, in the group's zone
    from_status: str
    to_status: str
    by: str
    origin: str
    note: str
    evidence: str


@dataclass
class ReportEntry:
    item: Item  # .number: its number in the digest the key came with, if it had one
    restricted: bool
    last: LastEvent | None
    closed: bool


@dataclass
class PartyReport:
    group_name: str
    party: PartyRef
    as_of: datetime
    since: datetime  # closed assignments are listed when their latest event is after this moment
    entries: list[ReportEntry]  # open ones in the order of the actions file, then the closed, latest first


REPORT_PAGE_SIZE = 50  # assignments per report page: a party that owns a thousand gets them in pages


def report_page_slice(entries: list[ReportEntry], page_no: int) -> tuple[list[ReportEntry], int, int]:
    """Page *page_no* (from 1; kept within range) of a report page's *entries*, those its digest
    numbered first by number, then the others as listed; and how many pages there are."""
    ordered = sorted((e for e in entries if e.item.number), key=lambda e: e.item.number or 0) \
        + [e for e in entries if not e.item.number]
    pages = max(1, -(-len(ordered) // REPORT_PAGE_SIZE))
    page_no = min(max(page_no, 1), pages)
    start = (page_no - 1) * REPORT_PAGE_SIZE
    return ordered[start:start + REPORT_PAGE_SIZE], pages, page_no


def party_report(session: Session, ctx: ReadContext, party: str,
                 numbers: dict[tuple[str, str], int]) -> PartyReport:
    """*party*'s own assignments as its report page lists them: the open ones and those closed
    within :data:`planning.REPORT_PAGE_WINDOW`, each with its digest number (*numbers*, by
    action and occurrence), its latest event, and what it waits on, a restricted action the
    party neither owns nor takes part in named only as restricted. Nothing of another party."""
    from .timeutil import from_utc_naive

    c = _Context(session, ctx)
    rows = queries.assignment_rows(session, ctx, Filters(owner=party))
    rows = [r for r in rows if r.party == party]
    since = ctx.as_of - planning.REPORT_PAGE_WINDOW
    latest: dict[tuple[str, str], Any] = {}
    events = select(Event.action_id, Event.occurrence, Event.occurred_at, Event.from_status, Event.to_status,
                    Event.by, Event.origin, Event.note, Event.evidence).where(
        Event.party_id == party, Event.occurred_at <= ctx.as_of_utc).order_by(Event.occurred_at, Event.id)
    for event in session.execute(events):
        latest[event.action_id, event.occurrence] = event
    restricted = set(session.scalars(select(Action.id).where(Action.visibility != "public")))
    visible = {r.action for r in rows} | set(session.scalars(
        select(Participant.action_id).where(Participant.party_id == party)))
    open_entries: list[ReportEntry] = []
    closed_entries: list[ReportEntry] = []
    for row in rows:
        ev = latest.get((row.action, row.occurrence))
        last = None if ev is None else LastEvent(from_utc_naive(ev.occurred_at, ctx.tz), ev.from_status,
                                                 ev.to_status, ev.by, ev.origin, ev.note, ev.evidence)
        closed = row.status in CLOSED
        if closed and (last is None or last.at < since):
            continue
        item = c.item(row)
        item.blocked_by = list(dict.fromkeys(planning.shown_dependency(d, restricted, visible) for d in item.blocked_by))
        item.number = numbers.get((row.action, row.occurrence))
        (closed_entries if closed else open_entries).append(ReportEntry(item, row.visibility != "public", last, closed))
    closed_entries.sort(key=lambda e: e.last.at if e.last else since, reverse=True)
    return PartyReport(c.group.name, c.party(party), ctx.as_of, since, open_entries + closed_entries)
