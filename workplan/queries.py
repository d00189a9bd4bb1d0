"""Queries for what the database holds, on SQLAlchemy Core: listings, one action, the log, meetings.

Every function takes a Connection or a Session (:data:`Reader`) and reads the tables of
:mod:`workplan.tables`, so that read commands run without importing the ORM (a fifth of an
overdue listing of 10,000 actions). Queries are set-based: a listing runs a handful of SELECTs
whatever the number of actions (IN lists longer than 500 ids go in batches of 500: one query
more per 500 actions, never one per action), and derives overdue / blocked / at risk in Python
with :mod:`planning`. Statuses *as of* a moment come from the event log; when the moment is after
every recorded event the cached status column answers instead.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    type_coerce,
)

from . import planning
from . import tables as t
from .db import get_meta
from .errors import UnknownItem, UsageError
from .i18n import _, pick
from .statuses import CLOSED, STATUSES
from .timeutil import from_utc_naive, to_utc_naive
from .views import GroupInfo as GroupInfo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


Reader: TypeAlias = "Connection | Session"


# ---------------------------------------------------------------------------
# the project


def group_info(db: Reader) -> GroupInfo:
    raw = get_meta(db, "group")
    if raw is None:
        raise UsageError(_("the database holds no workplan yet; run `workplan sync` first"))
    data = json.loads(raw)
    name = pick(data["name"], {"name": data.get("names") or {}}, "name")  # in the language of the moment
    return GroupInfo(data["id"], name, data["timezone"], data["domain"], tuple(data.get("languages", ())))


def roles(db: Reader) -> dict[str, planning.Role]:
    """The roles that rotate, as synced from ``roles:``: ``planning.role_holders`` resolves them."""
    out: dict[str, planning.Role] = {}
    for rid, holders, derived in db.execute(select(t.role.c.id, t.role.c.holders, t.role.c.derived_from)):
        out[rid] = planning.Role(rid, tuple(
            planning.Holding(h["party"], date.fromisoformat(h["from"]), date.fromisoformat(h["to"]) if h.get("to") else None)
            for h in holders), derived)
    return out


def file_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def synced_digest(db: Reader) -> str | None:
    return get_meta(db, "actions_sha256")


def up_to_date(db: Reader, raw_digest: str, now: datetime) -> bool:
    """Whether syncing the file with this digest now would change nothing: it is the file synced
    last, and recurring actions were materialised as far as a sync now would (the horizon moves
    with the year). Lets `workplan sync` skip reading a large unchanged file."""
    if synced_digest(db) != raw_digest:
        return False
    stored = get_meta(db, "sync_horizon")
    last = db.scalar(select(func.max(t.meeting.c.start_day)).where(t.meeting.c.withdrawn_at.is_(None)))
    return stored == planning.horizon(now.date(), last).isoformat()


def beyond_planning(db: Reader, day: date) -> date | None:
    """The last day recurring actions are planned to, when *day* is past it and some action
    recurs: their occurrences after it are in no listing. A sync plans them to the end of next
    year (see :func:`workplan.planning.horizon`)."""
    stored = get_meta(db, "sync_horizon")
    if stored is None or day <= date.fromisoformat(stored):
        return None
    recurs = db.scalar(select(t.assignment.c.id).where(t.assignment.c.occurrence != "").limit(1))
    return date.fromisoformat(stored) if recurs is not None else None


REVISION_KEY = "data_revision"  # the meta row every write changes (services.mark_changed)
# built once: the feed server runs it on every request, and building it cost more than running it
_DATA_REVISION = select(t.meta.c.value).where(t.meta.c.key == REVISION_KEY)


def data_revision(db: Reader) -> str | None:
    """The revision of the data: what the feed server compares, once per request, with the one
    it rendered."""
    return db.scalar(_DATA_REVISION)


def parties_named(db: Reader, name: str) -> list[str]:
    """A party id, or the members of a set."""
    members = db.scalars(
        select(t.set_member.c.party_id).where(t.set_member.c.set_name == name).order_by(t.set_member.c.position)
    ).all()
    return list(members) if members else [name]


# ---------------------------------------------------------------------------
# listings


@dataclass(frozen=True)
class ReadContext:
    tz: ZoneInfo
    as_of: datetime  # aware
    lookahead_days: int = 14

    @property
    def as_of_day(self) -> date:
        return self.as_of.astimezone(self.tz).date()

    @property
    def as_of_utc(self) -> datetime:
        return to_utc_naive(self.as_of)


@dataclass(slots=True)  # tens of thousands in a large listing
class Row:
    """One assignment as a listing shows it (the JSON contract of SPEC §3)."""

    action: str
    title: str
    party: str
    occurrence: str
    due: date | None
    due_at: datetime | None
    due_kind: str
    due_meeting: str | None
    status: str
    overdue: bool
    days_overdue: int | None
    blocked_by: list[str]
    at_risk: bool
    source_meeting: str
    source_ref: str
    visibility: str
    tags: list[str]
    theme: str


@dataclass
class Filters:
    owner: str | None = None
    status: str | None = None  # a status, or overdue|blocked|at_risk|closed|pending
    tag: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    actions: Sequence[str] | None = None
    include_restricted: bool = True
    no_deadline: bool = False  # only assignments without a deadline (see planning.open_without_deadline)
    to_be_scheduled: bool = False  # with due_before/due_after: also those *to be scheduled* (no date yet)


RESTRICTED_DEPENDENCY = planning.RESTRICTED_DEPENDENCY  # what shared documents say for a dependency that is not public


def status_expr(db: Reader, ctx: ReadContext) -> ColumnElement[str]:
    """The status of each assignment as of ``ctx.as_of``: the cached column when the moment is
    after every event, else the latest event not after the moment (one correlated subquery)."""
    latest = db.scalar(select(func.max(t.event.c.occurred_at)))
    if latest is None:
        return literal("open")
    if latest <= ctx.as_of_utc:
        return t.assignment.c.status
    sub = (
        select(t.event.c.to_status)
        .where(t.event.c.assignment_id == t.assignment.c.id, t.event.c.occurred_at <= ctx.as_of_utc)
        .order_by(t.event.c.occurred_at.desc(), t.event.c.id.desc())
        .limit(1)
        .correlate(t.assignment)
        .scalar_subquery()
    )
    return func.coalesce(sub, "open")


def _connection(db: Reader) -> Connection:
    """The Connection under *db*: a Session's own ORM execution costs a third more on a large
    listing, and these queries name tables, not mapped classes. Pending ORM changes are flushed
    first, as the Session would have done."""
    if isinstance(db, Connection):
        return db
    db.flush()
    return db.connection()


def live(column: Any, ctx: ReadContext) -> ColumnElement[bool]:
    """Not withdrawn as of ``ctx.as_of``: *column* is a ``withdrawn_at`` column."""
    return or_(column.is_(None), column > ctx.as_of_utc)


_FEW = 500  # ids in one IN list


def _batches(ids: set[str]) -> list[list[str]]:
    """*ids* as IN lists of :data:`_FEW` ids: at least one, empty when *ids* is, so that how many
    queries a command runs does not depend on whether there was anything to look up."""
    ordered = sorted(ids)
    return [ordered[first:first + _FEW] for first in range(0, max(len(ordered), 1), _FEW)]


def few(ids: Collection[str]) -> bool:
    """Whether *ids* fit in one IN list of :data:`_FEW`: beyond, a reader that needs the rows of
    most of them goes through :func:`rows_in`'s batches or, cheaper, one pass over the table."""
    return len(ids) <= _FEW


def rows_in(db: Reader, query: Select[*tuple[Any, ...]], column: Any, ids: Iterable[str]) -> list[Any]:
    """The rows of *query* whose *column* is one of *ids*, one query per :data:`_FEW` ids: databases
    cap what one statement may carry (PostgreSQL's protocol at 65,535 parameters), and a list of
    actions at 100,000 can pass it. Rows come in the query's order within each batch."""
    found: list[Any] = []
    for batch in _batches(set(ids)):
        found.extend(db.execute(query.where(column.in_(batch))).all())
    return found


def action_states(db: Reader, ctx: ReadContext, status: ColumnElement[str],
                  only: set[str] | None = None) -> dict[str, planning.ActionState]:
    """Closed-ness of every live action (or of the actions in *only*) and the latest deadline
    among its open assignments.

    *only* must name actions that something depends on (the only ones a reader judges others
    by). They are read through IN lists of :data:`_FEW` ids or, when they are most of the
    depended-on actions, through one join on the dependency table (at 10,000 actions: one
    party's listing needs 761 of the 3,417, IN lists 0.025 s against the join's 0.070 s; the
    full listing needs all of them, the join 0.070 s against IN lists 0.10 s).
    """
    is_open = status.not_in(CLOSED)
    query = (
        select(
            t.assignment.c.action_id,
            func.sum(case((is_open, 1), else_=0)),
            func.max(case((is_open, t.assignment.c.due_date), else_=None)),
        )
        .join(t.action, t.action.c.id == t.assignment.c.action_id)
        .where(live(t.assignment.c.withdrawn_at, ctx), live(t.action.c.withdrawn_at, ctx))
        .group_by(t.assignment.c.action_id)
    )
    actions = select(t.action.c.id).where(live(t.action.c.withdrawn_at, ctx))
    if only is None:
        batches = [(query, actions)]
    elif len(only) > _FEW and 2 * len(only) > (db.scalar(
            select(func.count(distinct(t.dependency.c.depends_on_id)))) or 0):
        depended_on = select(t.dependency.c.depends_on_id)
        batches = [(query.where(t.assignment.c.action_id.in_(depended_on)),
                    actions.where(t.action.c.id.in_(depended_on)))]
    else:
        batches = [(query.where(t.assignment.c.action_id.in_(ids)), actions.where(t.action.c.id.in_(ids)))
                   for ids in _batches(only)]
    states: dict[str, planning.ActionState] = {}
    for grouped, named in batches:
        for aid, open_count, latest in db.execute(grouped).all():  # all(): one fetch, not one per row
            states[aid] = planning.ActionState(closed=planning.action_closed(open_count or 0), latest_open_due=latest)
        # an action nobody owns can never be closed
        for (aid,) in db.execute(named).all():
            states.setdefault(aid, planning.ActionState(closed=planning.action_closed(None)))
    return states


def dependency_map(db: Reader) -> dict[str, list[str]]:
    deps: dict[str, list[str]] = defaultdict(list)
    for aid, dep in db.execute(select(t.dependency.c.action_id, t.dependency.c.depends_on_id).order_by(
            t.dependency.c.action_id, t.dependency.c.depends_on_id)):
        deps[aid].append(dep)
    return deps


def _raw(column: Any) -> ColumnElement[Any]:
    """A column read without its type's result processing: on SQLite a date arrives as its
    ISO text and a JSON value as its text (see :func:`_json_value`); drivers that decode these
    types themselves (psycopg) still hand over Python objects. For the listings' hot loop,
    where the processors were a fifth of an overdue listing of 10,000 actions."""
    return type_coerce(column, Text).label(column.key)


_NO_TAGS: list[str] = []
_EMPTY_JSON = frozenset({"null", "[]", "{}"})


def _json_value(value: Any, empty: Any, seen: dict[str, Any]) -> Any:
    """A JSON column's value from :func:`_raw`: decoded when it is text (once per distinct text,
    remembered in *seen*: an action's assignments share it), *empty* when empty. The caller
    must not change what it gets."""
    if value is None:
        return empty
    if value.__class__ is str:
        if value in _EMPTY_JSON:
            return empty
        decoded = seen.get(value)
        if decoded is None:
            decoded = seen[value] = json.loads(value)
        return decoded
    return value or empty


def assignment_rows(db: Reader, ctx: ReadContext, filters: Filters | None = None) -> list[Row]:
    """Assignments with their derived state, filtered: a handful of queries whatever the number of
    actions, plus one per :data:`_FEW` actions listed when a listing names few of many."""
    f = filters or Filters()
    status = status_expr(db, ctx)
    a = t.assignment
    query = (
        select(a.c.action_id, a.c.party_id, a.c.occurrence, _raw(a.c.due_date), a.c.due_at, a.c.due_kind,
               a.c.due_meeting, status.label("status"))
        .join(t.action, t.action.c.id == a.c.action_id)
        .where(live(a.c.withdrawn_at, ctx), live(t.action.c.withdrawn_at, ctx))
    )
    if f.owner:
        query = query.where(a.c.party_id.in_(parties_named(db, f.owner)))
    window = []
    if f.due_before:
        window.append(a.c.due_date < f.due_before)
    if f.due_after:
        window.append(a.c.due_date > f.due_after)
    if window and f.to_be_scheduled:
        query = query.where(or_(and_(*window), a.c.due_kind == "unscheduled"))
    elif window:
        query = query.where(*window)
    if f.no_deadline:
        query = query.where(a.c.due_date.is_(None))
    # a long list of actions is kept out of the SQL: databases cap the parameters of one
    # statement (PostgreSQL's protocol at 65,535), and a participant's actions can pass that
    named = set(f.actions) if f.actions is not None else None
    if named is not None and len(named) <= _FEW:
        query = query.where(a.c.action_id.in_(sorted(named)))
    if not f.include_restricted:
        query = query.where(t.action.c.visibility == "public")
    if f.status == "overdue":  # cheap pre-filter; the exact rule is applied below
        query = query.where(a.c.due_date <= ctx.as_of_day)
    if f.status in STATUSES:
        query = query.where(status == f.status)
    elif f.status == "closed":
        query = query.where(status.in_(CLOSED))
    elif f.status in ("pending", "overdue", "blocked", "at_risk"):
        query = query.where(status.not_in(CLOSED))
    query = query.order_by(t.action.c.position, a.c.occurrence, a.c.party_id)
    records = _connection(db).execute(query).all()
    if named is not None and len(named) > _FEW:
        records = [r for r in records if r[0] in named]
    if not records:
        return []
    listed = {r[0] for r in records}
    actions = _listed_actions(db, ctx, listed)
    deps = dependency_map(db)
    # only the dependencies of the listed rows need judging
    states = action_states(db, ctx, status, {d for aid in listed for d in deps.get(aid, ())})
    judged = planning.Judge(states, ctx.as_of, ctx.tz, ctx.lookahead_days)
    # rows for shared documents (agenda, board, graph) must not name a restricted action where
    # a public one waits on it
    hidden = set() if f.include_restricted else set(
        db.scalars(select(t.action.c.id).where(t.action.c.visibility != "public")))
    tag, wanted = f.tag, f.status if f.status in ("overdue", "blocked", "at_risk") else None
    seen: dict[str, Any] = {}
    shown: dict[str, tuple[Any, ...] | None] = {}  # per action: what its rows share; None when the tag leaves it out
    for action_id, (title, translations, source_meeting, source_ref, visibility, tags, theme) in actions.items():
        tags = _json_value(tags, _NO_TAGS, seen)
        if tag and tag not in tags and tag != theme:
            shown[action_id] = None
            continue
        if translations is not None:
            title = pick(title, _json_value(translations, None, seen), "title")
        blocked = planning.blockers(deps.get(action_id, ()), states)
        shown[action_id] = (title, source_meeting, source_ref, visibility, tags, theme, blocked,
                            list(dict.fromkeys(RESTRICTED_DEPENDENCY if d in hidden else d for d in blocked))
                            if hidden else blocked)
    rows: list[Row] = []
    append, tz = rows.append, ctx.tz
    for action_id, party, occurrence, due_day, due_utc, due_kind, due_meeting, row_status in records:
        action = shown[action_id]
        if action is None:
            continue
        title, source_meeting, source_ref, visibility, tags, theme, blocked, named = action
        if due_day.__class__ is str:
            due_day = date.fromisoformat(due_day)
        due_at = from_utc_naive(due_utc, tz) if due_utc else None
        j = judged(row_status, due_day, due_at, blocked)
        if wanted is not None and not (j.overdue if wanted == "overdue" else
                                       j.blocked_by if wanted == "blocked" else j.at_risk):
            continue
        # each row its own lists: the action's rows share the judged ones
        append(Row(
            action_id, title, party, occurrence, due_day, due_at, due_kind, due_meeting, row_status, j.overdue,
            j.days_overdue, list(named) if j.blocked_by else [], j.at_risk, source_meeting, source_ref, visibility,
            list(tags), theme,
        ))
    return rows


def _listed_actions(db: Reader, ctx: ReadContext, ids: set[str]) -> dict[str, tuple[Any, ...]]:
    """What a listing shows of each action in *ids*, read once per action rather than with each
    of its assignments (a fifth of the main query of a listing of 10,000 actions): through IN
    lists of :data:`_FEW` ids, or, when the listing names most of the actions, in one scan of
    them all (34,519 rows name all 10,000 actions: one scan 0.056 s, twenty IN lists 0.10 s;
    one party's 1,981: four IN lists 0.022 s, one scan 0.047 s)."""
    c = t.action.c
    conn = _connection(db)
    query = select(c.id, c.title, _raw(c.translations), c.source_meeting, c.source_ref, c.visibility, _raw(c.tags),
                   c.theme)
    if len(ids) > _FEW and 2 * len(ids) > (conn.scalar(select(func.count()).select_from(t.action)) or 0):
        return {r[0]: r[1:] for r in conn.execute(query.where(live(c.withdrawn_at, ctx))).all() if r[0] in ids}
    return {r[0]: r[1:] for r in rows_in(conn, query, c.id, ids)}


def overdue(db: Reader, ctx: ReadContext, owner: str | None = None) -> list[Row]:
    rows = assignment_rows(db, ctx, Filters(owner=owner, status="overdue"))
    rows.sort(key=lambda r: (-(r.days_overdue or 0), r.action, r.party))
    return rows


def upcoming(db: Reader, ctx: ReadContext, days: int, owner: str | None = None) -> list[Row]:
    first = ctx.as_of_day
    last = first + timedelta(days=days)
    rows = assignment_rows(db, ctx, Filters(
        owner=owner, status="pending", due_after=first - timedelta(days=1), due_before=last + timedelta(days=1),
        to_be_scheduled=True))
    rows.sort(key=lambda r: (r.due or date.max, r.action, r.party))
    return rows


# ---------------------------------------------------------------------------
# one action, the log, meetings


@dataclass
class ActionDetail:
    id: str
    title: str
    description: str
    theme: str
    tags: list[str]
    owners: list[str]
    with_: list[str]
    source_meeting: str
    source_ref: str
    source_text: str
    due: date | None
    due_kind: str
    due_meeting: str | None
    visibility: str
    depends_on: list[str]
    dependants: list[str]
    blocked_by: list[str]
    recurrence: dict[str, Any] | None
    withdrawn: bool
    assignments: list[Row]
    due_next_kind: str = ""
    conclusion: str = ""  # the conclusion it carries out (``conclusion:``)
    requested_by: list[str] = field(default_factory=list)  # who asked (``requested_by:``), as written
    # a role it names, with whoever holds it on the deadline (the as-of day without one): "PPT (Panama)"
    role_labels: dict[str, str] = field(default_factory=dict)


def action_detail(db: Reader, ctx: ReadContext, action_id: str) -> ActionDetail:
    action = db.execute(select(t.action).where(t.action.c.id == action_id)).first()
    if action is None:
        raise UnknownItem(_("there is no action {action!r}").format(action=action_id))
    rows = assignment_rows(db, ctx, Filters(actions=[action_id]))
    deps = dependency_map(db)
    states = action_states(db, ctx, status_expr(db, ctx), set(deps.get(action_id, ())))
    dependants = sorted(a for a, ds in deps.items() if action_id in ds)
    participants = sorted(db.scalars(select(t.participant.c.party_id).where(t.participant.c.action_id == action_id)))
    blocked_by = planning.blockers(deps.get(action_id, []), states)
    return ActionDetail(
        action.id, pick(action.title, action.translations, "title"),
        pick(action.description, action.translations, "description"), action.theme, list(action.tags), list(action.owners),
        participants, action.source_meeting, action.source_ref, action.source_text, action.due_date,
        action.due_kind, action.due_meeting, action.visibility, deps.get(action_id, []), dependants,
        blocked_by, action.recurrence, action.withdrawn_at is not None, rows,
        str((action.due_spec or {}).get("next", "")), action.conclusion_id or "", list(action.requested_by or []),
        role_labels(db, action.due_date or ctx.as_of_day),
    )


def role_labels(db: Reader, day: date) -> dict[str, str]:
    """Each role with whoever holds it on *day*, by name: ``{"PPT": "PPT (Panama)"}``."""
    found = roles(db)
    if not found:
        return {}
    names = {pid: pick(name, {"name": names or {}}, "name") for pid, name, names in db.execute(
        select(t.party.c.id, t.party.c.name, t.party.c.names))}
    return {rid: planning.role_label(rid, [names.get(p, p) for p in planning.role_holders(rid, day, found)])
            for rid in found}


@dataclass
class LogEntry:
    id: int
    action: str
    party: str
    occurrence: str
    occurred_at: datetime
    recorded_at: datetime
    by: str
    from_status: str
    to_status: str
    note: str
    origin: str
    evidence: str = ""  # a link given with the report (the report page)
    held_by: str | None = None  # who held the owning role that day ("PA"); None when the owner is not a role


def event_log(db: Reader, ctx: ReadContext, action_id: str | None = None,
              party: str | None = None) -> list[LogEntry]:
    e = t.event
    query = select(e.c.id, e.c.action_id, e.c.party_id, e.c.occurrence, _raw(e.c.occurred_at), _raw(e.c.recorded_at),
                   e.c.by, e.c.from_status, e.c.to_status, e.c.note, e.c.origin, e.c.evidence, e.c.held_by).where(
                       e.c.occurred_at <= ctx.as_of_utc)
    if action_id is not None:
        if db.scalar(select(t.action.c.id).where(t.action.c.id == action_id)) is None:
            raise UnknownItem(_("there is no action {action!r}").format(action=action_id))
        query = query.where(e.c.action_id == action_id)
    if party is not None:
        query = query.where(e.c.party_id.in_(parties_named(db, party)))
    query = query.order_by(e.c.occurred_at, e.c.id)
    tz = ctx.tz
    seen: dict[Any, datetime] = {}
    return [
        LogEntry(eid, aid, pid, occurrence, _local_moment(on, tz, seen), _local_moment(recorded, tz, seen), by,
                 from_status, to_status, note, origin, evidence, held_by)
        for eid, aid, pid, occurrence, on, recorded, by, from_status, to_status, note, origin, evidence, held_by
        in _connection(db).execute(query).all()
    ]


def _local_moment(value: Any, tz: ZoneInfo, seen: dict[Any, datetime]) -> datetime:
    """A stored moment from :func:`_raw` (naive UTC, as text on SQLite) in the zone *tz*; each
    distinct value converted once (a sync records its facts at one moment, on a few days)."""
    local = seen.get(value)
    if local is None:
        naive = datetime.fromisoformat(value) if value.__class__ is str else value
        local = seen[value] = from_utc_naive(naive, tz)
    return local


@dataclass
class MeetingRow:
    id: str
    title: str
    kind: str
    start: str
    end: str | None
    start_day: date
    end_day: date
    precision: str
    timezone: str
    location: str
    url: str
    status: str
    sequence: int
    body: str = ""  # another body's meeting: the title says so (planning.marked_title)


def meetings(db: Reader, as_of_day: date | None = None, include_withdrawn: bool = False) -> list[MeetingRow]:
    """The meetings in date order; with *as_of_day*, each with its status on that day."""
    query = select(t.meeting).order_by(t.meeting.c.start_day, t.meeting.c.id)
    if not include_withdrawn:
        query = query.where(t.meeting.c.withdrawn_at.is_(None))
    return [
        MeetingRow(m.id, planning.marked_title(pick(m.title, m.translations, "title"), m.kind, m.body),
                   m.kind, m.start, m.end, m.start_day, m.end_day,
                   m.precision, m.timezone, pick(m.location, m.translations, "location"), m.url,
                   m.status if as_of_day is None else planning.meeting_status(m.status, m.start_day, as_of_day),
                   m.sequence, m.body)
        for m in db.execute(query)
    ]


@dataclass(frozen=True)
class ConclusionRow:
    """A conclusion as stored (``conclusions:``), with the actions that name it, in file order."""

    id: str
    kind: str
    meeting: str
    ref: str
    text: str
    requested_by: list[str]
    addressed_to: list[str]
    actions: list[str]


@dataclass(frozen=True)
class LinkedAction:
    """An action that names a conclusion: what the register shows of it besides its assignments."""

    id: str
    title: str
    conclusion: str
    requested_by: list[str]
    visibility: str


def conclusions(db: Reader, ctx: ReadContext, meeting: str | None = None) -> list[ConclusionRow]:
    """The conclusions live as of *ctx* (of *meeting*, or of every meeting), in file order, each
    with the live actions that name it (two queries)."""
    c = t.conclusion.c
    query = select(c.id, c.kind, c.meeting, c.ref, c.text, _raw(c.requested_by), _raw(c.addressed_to)).where(
        live(c.withdrawn_at, ctx)).order_by(c.position, c.id)
    if meeting is not None:
        query = query.where(c.meeting == meeting)
    seen: dict[str, Any] = {}
    found = [(r[0], r[1], r[2], r[3], r[4], _json_value(r[5], [], seen), _json_value(r[6], [], seen))
             for r in _connection(db).execute(query)]
    linked: dict[str, list[str]] = defaultdict(list)
    for action in linked_actions(db, ctx):
        linked[action.conclusion].append(action.id)
    return [ConclusionRow(*row, actions=linked.get(row[0], [])) for row in found]


def conclusion_of_actions(db: Reader, ctx: ReadContext) -> dict[str, tuple[str, str]]:
    """Each live action that names a live conclusion: the conclusion's id and kind (one query)."""
    a, c = t.action.c, t.conclusion.c
    query = select(a.id, c.id, c.kind).join(t.conclusion, c.id == a.conclusion_id).where(
        live(a.withdrawn_at, ctx), live(c.withdrawn_at, ctx))
    return {aid: (cid, kind) for aid, cid, kind in _connection(db).execute(query)}


def linked_actions(db: Reader, ctx: ReadContext) -> list[LinkedAction]:
    """The live actions that name a conclusion, in file order, titles in the current language."""
    a = t.action.c
    query = select(a.id, a.title, _raw(a.translations), a.conclusion_id, _raw(a.requested_by), a.visibility).where(
        live(a.withdrawn_at, ctx), a.conclusion_id.is_not(None)).order_by(a.position, a.id)
    seen: dict[str, Any] = {}
    out = []
    for aid, title, translations, conclusion, requested_by, visibility in _connection(db).execute(query):
        if translations is not None:
            title = pick(title, _json_value(translations, None, seen), "title")
        out.append(LinkedAction(aid, title, conclusion, _json_value(requested_by, [], seen), visibility))
    return out


def cadence_rules(db: Reader) -> list[planning.CadenceRule]:
    return [
        planning.CadenceRule(r.kind, r.per, r.at_least, r.start, r.report)
        for r in db.execute(select(t.cadence_rule).order_by(t.cadence_rule.c.kind))
    ]


def cadence_compliance(db: Reader, ctx: ReadContext) -> list[planning.PeriodCompliance]:
    facts = [planning.MeetingFact(m.id, m.kind, m.status, m.start_day, m.body) for m in meetings(db, ctx.as_of_day)]
    return planning.compliance(cadence_rules(db), facts, ctx.as_of_day)


def known_party(db: Reader, name: str) -> bool:
    if db.scalar(select(t.party.c.id).where(t.party.c.id == name)) is not None:
        return True
    return db.scalar(select(t.set_member.c.party_id).where(t.set_member.c.set_name == name).limit(1)) is not None


def require_party(db: Reader, name: str) -> None:
    if not known_party(db, name):
        raise UnknownItem(_("there is no party or set {party!r}").format(party=name))


def reported_since(db: Reader, ctx: ReadContext, since: datetime,
                   parties: Sequence[str] | None) -> list[tuple[str, str, str, str, str, str, str]]:
    """What focal points reported themselves (origin ``web`` or ``email``) since *since* (naive
    UTC; recorded or dated after it, so a report dated back still shows) up to the as-of moment,
    oldest first: (action, party, occurrence, status, by, origin, note); of *parties* only, or
    of everyone."""
    e = t.event
    query = (select(e.c.action_id, e.c.party_id, e.c.occurrence, e.c.to_status, e.c.by, e.c.origin, e.c.note)
             .where(e.c.origin.in_(("web", "email")), or_(e.c.recorded_at > since, e.c.occurred_at > since),
                    e.c.occurred_at <= ctx.as_of_utc)
             .order_by(e.c.occurred_at, e.c.id))
    if parties is not None:
        query = query.where(e.c.party_id.in_(list(parties)))
    return [tuple(row) for row in _connection(db).execute(query).all()]


def held_replies_since(db: Reader, since: datetime) -> int:
    """Replies received after *since* (naive UTC) that applied nothing and wait for the secretariat."""
    m = t.inbox_message
    return int(_connection(db).execute(
        select(func.count()).select_from(m).where(m.c.status == "held", m.c.received_at > since)).scalar_one())
