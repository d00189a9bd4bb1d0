"""The status board (``GET /`` of `workplan serve`): what is late, by owner; what falls due soon;
what is open with no deadline, and since when; the meetings; whether the cadence of meetings is kept.

Public by nature: restricted actions are left out, and where a public action waits on one, the
board says so without naming it. Plain objects out; ``board.html`` renders them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import planning, queries
from .i18n import _, pick
from .models import Party
from .queries import Filters, ReadContext, Row


def verdicts() -> dict[str, str]:
    """The verdict of a period of the cadence, in the language of the moment."""
    return {
        "met": _("met"),
        "scheduled": _("scheduled, not held yet"),
        "missed": _("missed"),
        "pending": _("in progress"),
        "partial": _("not required (rule began mid-period)"),
    }


PERIODS_SHOWN = 6  # per cadence rule, the latest ones
PAST_MEETINGS_SHOWN = 3
ROWS_PER_OWNER = 25  # a board to read at a glance; `workplan overdue --owner P` lists every one
DUE_SOON_SHOWN = 100
NO_DEADLINE_SHOWN = 100


@dataclass(frozen=True)
class BoardItem:
    action: str
    title: str
    due: date | None
    due_kind: str
    status: str
    days_overdue: int | None
    blocked_by: tuple[str, ...]
    source_meeting: str
    source_ref: str


@dataclass(frozen=True)
class OwnerLate:
    party: str
    name: str
    items: tuple[BoardItem, ...]  # the most overdue first, at most ROWS_PER_OWNER
    count: int  # all of them

    @property
    def more(self) -> int:
        return self.count - len(self.items)


@dataclass(frozen=True)
class DueSoon:
    """One action falling due in the window, with the owners that have not closed it."""

    item: BoardItem
    owners: tuple[str, ...]


@dataclass(frozen=True)
class Ongoing:
    """One action without a deadline, with the owners that have not closed it, and its age:
    days since the meeting that agreed it (planning.commitment_age; None when not known)."""

    item: BoardItem
    owners: tuple[str, ...]
    age_days: int | None


@dataclass(frozen=True)
class BoardMeeting:
    id: str
    title: str
    kind: str
    start: date
    end: date
    precision: str
    location: str
    status: str
    upcoming: bool


@dataclass(frozen=True)
class CadencePeriod:
    label: str
    verdict: str  # met | scheduled | missed | pending | partial
    verdict_text: str
    meetings: tuple[str, ...]


@dataclass(frozen=True)
class CadenceRuleView:
    kind: str
    per: str
    required: int
    periods: tuple[CadencePeriod, ...]
    missed: int


@dataclass(frozen=True)
class Board:
    group_name: str
    as_of: date
    lookahead_days: int
    overdue: tuple[OwnerLate, ...]
    overdue_count: int
    due_soon: tuple[DueSoon, ...]  # the first DUE_SOON_SHOWN
    due_soon_count: int
    meetings: tuple[BoardMeeting, ...]
    cadence: tuple[CadenceRuleView, ...]
    parties: tuple[tuple[str, str], ...] = field(default=())  # (id, name): the public feeds
    no_deadline: tuple[Ongoing, ...] = ()  # the oldest NO_DEADLINE_SHOWN
    no_deadline_count: int = 0


def status_board(session: Session, ctx: ReadContext) -> Board:
    group = queries.group_info(session)
    parties = [(p.id, pick(p.name, {"name": p.names or {}}, "name")) for p in session.scalars(
        select(Party).where(Party.withdrawn_at.is_(None)).order_by(Party.position, Party.id))]
    names = dict(parties)
    roles = queries.roles(session)
    for rid in roles:  # a role under whoever holds it on the as-of day: PPT Panama; its own name while nobody does
        holders = planning.role_holders(rid, ctx.as_of_day, roles)
        names[rid] = ", ".join(names.get(h, h) for h in holders) or names.get(rid, rid)

    def item(r: Row) -> BoardItem:
        # rows without restricted actions name none as a dependency either (queries.assignment_rows)
        return BoardItem(r.action, r.title, r.due, r.due_kind, r.status, r.days_overdue, tuple(r.blocked_by),
                         r.source_meeting, r.source_ref)

    late: dict[str, list[BoardItem]] = defaultdict(list)
    count = 0
    for r in queries.assignment_rows(session, ctx, Filters(status="overdue", include_restricted=False)):
        late[r.party].append(item(r))
        count += 1
    order = {pid: n for n, (pid, _name) in enumerate(parties)}
    overdue = tuple(
        OwnerLate(pid, names.get(pid, pid),
                  tuple(sorted(items, key=lambda i: (-(i.days_overdue or 0), i.action))[:ROWS_PER_OWNER]), len(items))
        for pid, items in sorted(late.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    )

    first = ctx.as_of_day
    last = planning.lookahead_end(first, ctx.lookahead_days)
    soon: dict[tuple[str, str], tuple[BoardItem, list[str]]] = {}
    rows = queries.assignment_rows(session, ctx, Filters(
        status="pending", due_after=first - timedelta(days=1), due_before=last + timedelta(days=1),
        include_restricted=False, to_be_scheduled=True))
    for r in sorted(rows, key=lambda r: (r.due or date.max, r.action, r.occurrence)):
        if r.overdue:  # due today but already past its hour: listed as late
            continue
        key = (r.action, r.occurrence)
        if key not in soon:
            soon[key] = (item(r), [])
        soon[key][1].append(r.party)
    due_soon = tuple(DueSoon(i, tuple(owners)) for i, owners in soon.values())

    all_meetings = queries.meetings(session, ctx.as_of_day)
    ends = {m.id: m.end_day for m in all_meetings}
    ongoing: dict[tuple[str, str], Ongoing] = {}
    for r in queries.assignment_rows(session, ctx, Filters(status="pending", no_deadline=True,
                                                           include_restricted=False)):
        if not planning.open_without_deadline(r.status, r.due, r.due_kind):
            continue
        key = (r.action, r.occurrence)
        found = ongoing.get(key)
        ongoing[key] = (Ongoing(found.item, (*found.owners, r.party), found.age_days) if found else
                        Ongoing(item(r), (r.party,), planning.commitment_age(ends.get(r.source_meeting), first)))
    # the oldest first; in the order of the actions file among equals (the rows' order)
    no_deadline = sorted(ongoing.values(), key=lambda o: (o.age_days is None, -(o.age_days or 0)))

    past = [m for m in all_meetings if m.end_day < first]
    coming = [m for m in all_meetings if m.end_day >= first]
    meetings = tuple(
        BoardMeeting(m.id, m.title, m.kind, m.start_day, m.end_day, m.precision, m.location, m.status,
                     m.end_day >= first)
        for m in [*past[-PAST_MEETINGS_SHOWN:], *coming]
    )
    return Board(group.name, first, ctx.lookahead_days, overdue, count, due_soon[:DUE_SOON_SHOWN], len(due_soon),
                 meetings, _cadence(queries.cadence_compliance(session, ctx)), tuple(parties),
                 tuple(no_deadline[:NO_DEADLINE_SHOWN]), len(no_deadline))


def _cadence(periods: list[planning.PeriodCompliance]) -> tuple[CadenceRuleView, ...]:
    words = verdicts()
    by_kind: dict[str, list[planning.PeriodCompliance]] = {}
    for p in periods:
        by_kind.setdefault(p.kind, []).append(p)
    return tuple(
        CadenceRuleView(
            kind, plist[0].per, plist[0].required,
            tuple(CadencePeriod(p.label, p.verdict, words.get(p.verdict, p.verdict),
                                tuple(p.held + [_("{meeting} (planned)").format(meeting=s) for s in p.scheduled]))
                  for p in plist[-PERIODS_SHOWN:]),
            sum(p.verdict == "missed" for p in plist),
        )
        for kind, plist in by_kind.items()
    )
