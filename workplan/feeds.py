"""What the calendar feeds show, read from the database in one go.

:func:`feed_set` runs a fixed handful of SELECTs (whatever the number of actions)
and returns plain, frozen objects; :mod:`workplan.render.ical` turns them into
bytes without a session. Everything a feed shows comes from the data — statuses
as of ``ctx.as_of``, ``updated_at`` and the event log — never from the wall clock,
so an unchanged workplan gives the same feeds on any machine. For the same reason
the feeds carry no derived state that moves with time alone (overdue, at risk).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .errors import UsageError
from .i18n import pick
from .models import Action, Assignment, Dependency, Event, Meeting, Participant, Party
from .planning import (
    action_closed,
    horizon,
    marked_title,
    meeting_status,
    party_id_clashes,
    party_language,
    role_holders,
)
from .queries import ReadContext, group_info, status_expr
from .queries import roles as stored_roles
from .statuses import CLOSED
from .views import FeedAction as FeedAction
from .views import FeedAssignment as FeedAssignment
from .views import FeedDependency as FeedDependency
from .views import FeedMeeting as FeedMeeting
from .views import FeedParty as FeedParty
from .views import FeedSet as FeedSet
from .views import feed_party as feed_party
from .views import visible_to as visible_to

IMPORTED = "actions.yaml"  # the origin of facts imported from the minutes


def _check_file_names(parties: tuple[FeedParty, ...]) -> None:
    """Each party's feed is PARTY.ics: the actions file is refused for an id that cannot name
    one (planning.party_id_clashes); a database synced before that rule may still hold one."""
    for _pid, message in party_id_clashes(p.id for p in parties):
        raise UsageError(message)


def feed_set(session: Session, ctx: ReadContext) -> FeedSet:
    """Everything the feeds show, as of ``ctx.as_of``: ten queries whatever the size of the workplan."""
    group = group_info(session)
    cutoff = ctx.as_of_utc

    def gone(withdrawn_at: datetime | None) -> bool:
        return withdrawn_at is not None and withdrawn_at <= cutoff

    # DTSTAMP and LAST-MODIFIED: never later than the moment the feeds show (a feed built as of
    # a past day carries nothing from after it, and stays the same whenever it is rebuilt)
    ceiling = cutoff.replace(microsecond=0)

    def stamp(moment: datetime) -> datetime:
        return min(moment, ceiling)

    rows_ = session.execute(select(Party.id, Party.name, Party.names, Party.kind).order_by(Party.position, Party.id)).all()
    parties = tuple(FeedParty(pid, pick(name, {"name": names or {}}, "name")) for pid, name, names, _kind in rows_)
    roles = stored_roles(session)
    holders = {rid: role_holders(rid, ctx.as_of_day, roles) for rid in roles}
    # while nobody holds a role, its deadlines are in the secretariat's feed
    secretariat = tuple(pid for pid, _name, _names, kind in rows_ if kind == "secretariat")[:1]
    routed = {rid: found or secretariat for rid, found in holders.items()}
    if roles:  # a role is named by who holds it on the as-of day, "PPT (Panama)"; by its own name while nobody does
        plain = {p.id: p.name for p in parties}
        parties = tuple(FeedParty(p.id, ", ".join(plain.get(h, h) for h in holders[p.id]) or p.name)
                        if p.id in roles else p for p in parties)
    _check_file_names(parties)
    meetings = tuple(
        FeedMeeting(
            m.id, marked_title(pick(m.title, m.translations, "title"), m.kind, m.body), m.kind, m.start, m.end, m.start_day, m.end_day,
            m.precision, m.timezone, pick(m.location or "", m.translations, "location"), m.url or "",
            pick(m.description or "", m.translations, "description"),
            meeting_status(m.status, m.start_day, ctx.as_of_day), gone(m.withdrawn_at), m.sequence,
            stamp(max(m.updated_at, m.withdrawn_at) if gone(m.withdrawn_at) and m.withdrawn_at else m.updated_at),
        )
        for m in session.scalars(select(Meeting).order_by(Meeting.start_day, Meeting.id))
    )
    titles = {m.id: m.title for m in meetings}

    # status changes per assignment up to the read moment: how many, and the latest moments.
    # A fact imported from the minutes counts by when it happened (recorded_at is the sync's
    # wall clock, different on every clone); a change made with the tool also by when it was made.
    recorded = case((Event.origin == IMPORTED, Event.occurred_at), else_=Event.recorded_at)
    changes: dict[int, tuple[int, datetime, datetime]] = {
        aid: (count, occurred, max(occurred, made))
        for aid, count, occurred, made in session.execute(
            select(Event.assignment_id, func.count(), func.max(Event.occurred_at), func.max(recorded))
            .where(Event.occurred_at <= cutoff)
            .group_by(Event.assignment_id)
        )
    }

    status = status_expr(session, ctx)
    by_action: dict[str, list[FeedAssignment]] = defaultdict(list)
    latest_change: dict[str, datetime] = {}
    query = (
        select(
            Assignment.id, Assignment.action_id, Assignment.party_id, Assignment.occurrence,
            Assignment.due_date, Assignment.due_at, Assignment.due_kind, Assignment.due_meeting,
            status.label("status"), Assignment.sequence, Assignment.updated_at, Assignment.withdrawn_at,
        )
        .order_by(Assignment.action_id, Assignment.occurrence, Assignment.party_id)
    )
    # every assignment counts for whether its action is closed (a dependency may have no due
    # date, or occurrences past the horizon); only those with a date within it are shown
    last = horizon(ctx.as_of_day)
    open_left: dict[str, int] = defaultdict(int)
    for r in session.execute(query):
        if not gone(r.withdrawn_at):
            open_left[r.action_id] += r.status not in CLOSED
        if r.due_date is None or (r.occurrence and r.due_date > last):
            if made_at := changes.get(r.id, (0, None, None))[2]:
                latest_change[r.action_id] = max(latest_change.get(r.action_id, made_at), made_at)
            continue
        count, occurred, made = changes.get(r.id, (0, None, None))
        modified = max(filter(None, (r.updated_at, made, r.withdrawn_at if gone(r.withdrawn_at) else None)))
        by_action[r.action_id].append(FeedAssignment(
            r.action_id, r.party_id, r.occurrence, r.due_date,
            r.due_at.replace(tzinfo=UTC).astimezone(ctx.tz) if r.due_at else None,
            r.due_kind, r.due_meeting, r.status,
            occurred.replace(tzinfo=UTC).astimezone(ctx.tz) if occurred else None,
            gone(r.withdrawn_at), r.sequence + count, stamp(modified),
        ))
        if made is not None and (r.action_id not in latest_change or made > latest_change[r.action_id]):
            latest_change[r.action_id] = made

    participants: dict[str, list[str]] = defaultdict(list)
    for aid, pid in session.execute(
            select(Participant.action_id, Participant.party_id).order_by(Participant.action_id, Participant.party_id)):
        participants[aid].append(pid)
    depends: dict[str, list[str]] = defaultdict(list)
    for aid, dep in session.execute(
            select(Dependency.action_id, Dependency.depends_on_id).order_by(Dependency.action_id,
                                                                           Dependency.depends_on_id)):
        depends[aid].append(dep)

    rows = session.execute(
        select(
            Action.id, Action.title, Action.description, Action.source_meeting, Action.source_ref,
            Action.source_text, Action.due_spec, Action.visibility, Action.sequence, Action.updated_at,
            Action.withdrawn_at, Action.translations,
        ).order_by(Action.position, Action.id)
    ).all()
    action_titles = {r.id: pick(r.title, r.translations, "title") for r in rows}

    withdrawn_actions = {r.id for r in rows if gone(r.withdrawn_at)}
    restricted = {r.id for r in rows if r.visibility != "public"}

    actions: list[FeedAction] = []
    for r in rows:
        assignments = by_action.get(r.id)
        if not assignments:
            continue  # no due date: an ongoing commitment has no place in a calendar
        modified = r.updated_at
        if gone(r.withdrawn_at) and r.withdrawn_at > modified:
            modified = r.withdrawn_at
        deps = tuple(FeedDependency(d, action_titles.get(d, d), action_closed(open_left.get(d)), d in withdrawn_actions, d in restricted)
                     for d in depends.get(r.id, ()))
        # a dependency closing changes what this action's description says
        for d in depends.get(r.id, ()):
            if d in latest_change and latest_change[d] > modified:
                modified = latest_change[d]
        actions.append(FeedAction(
            r.id, action_titles[r.id], pick(r.description or "", r.translations, "description"), r.source_meeting or "", titles.get(r.source_meeting or "", ""),
            r.source_ref or "", r.source_text or "", dict(r.due_spec or {}), r.visibility, gone(r.withdrawn_at),
            r.sequence, stamp(modified), tuple(participants.get(r.id, ())), deps, tuple(assignments),
        ))
    return FeedSet(group, parties, meetings, tuple(actions), titles, routed)


def restricted_actions(sets: dict[str, FeedSet]) -> set[str]:
    """The ids of the actions that are not public, in any of the feed sets."""
    return {a.id for fs in sets.values() for a in fs.actions if a.visibility != "public"}


def feed_sets_by_language(session: Session, ctx: ReadContext, shared: str,
                          party_langs: dict[str, str]) -> dict[str, FeedSet]:
    """The feed set in every language a feed is written in: *shared* (all.ics, meetings.ics)
    first, then each party's (see :func:`party_languages`)."""
    from .i18n import language

    sets = {}
    for lang in sorted({shared, *party_langs.values()}, key=lambda x: (x != shared, x)):
        with language(lang):
            sets[lang] = feed_set(session, ctx)
    return sets


def party_languages(session: Session, explicit: str | None = None) -> dict[str, str]:
    """The language of each party's feed: --lang, else its ``lang``, else the group's first
    language, else the reader's (:func:`planning.party_language`)."""
    languages = group_info(session).languages
    return {pid: party_language(explicit, lang, languages) for pid, lang in session.execute(select(Party.id, Party.lang))}

