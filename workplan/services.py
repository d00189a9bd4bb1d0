"""Use cases over a Session that write: sync the actions file, change statuses.

What they read back for people (listings, one action, the log, meetings) is in
:mod:`workplan.queries`, which does not need the ORM.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import planning, tables, timeutil
from .db import set_meta
from .errors import (
    ConcurrentChange,
    HistoryError,
    Problem,
    TransitionError,
    UnknownItem,
    UsageError,
    ValidationFailed,
)
from .gcpause import paused_gc
from .i18n import _, word
from .models import (
    Action,
    Assignment,
    CadenceRule,
    Conclusion,
    Dependency,
    Event,
    Meeting,
    Participant,
    Party,
    Role,
    SetMember,
)
from .queries import REVISION_KEY, few, group_info, parties_named, rows_in, synced_digest
from .queries import roles as stored_roles
from .statuses import CLOSED
from .timeutil import start_of_day, to_utc_naive

if TYPE_CHECKING:
    from . import spec

EPOCH = datetime(2000, 1, 1)


# ---------------------------------------------------------------------------
# the project


def mark_changed(session: Session) -> None:
    """Give the data a new revision, in the caller's transaction.

    Whatever renders from the data and keeps the result (the feed server) compares this one
    value instead of the data. A random value rather than a counter: two writers committing
    one after the other always leave a value that the first one's readers have not seen,
    without any read-modify-write race.
    """
    set_meta(session, REVISION_KEY, uuid.uuid4().hex)


# ---------------------------------------------------------------------------
# sync


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    # meetings whose dates the file changed: what that moves (``workplan meetings move``'s summary)
    moves: planning.MoveEffects | None = None

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.withdrawn or self.events)


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _data_time(day: date | None, tz: ZoneInfo, now: datetime) -> datetime:
    """A creation time derived from the data (the day of the source meeting), so that a fresh
    clone builds the same feeds as the machine that built them first; never later than the sync
    (*now*, naive UTC): a meeting dated next year was not created next year, and a DTSTAMP taken
    from the future would go backwards at its first change."""
    if day is None:
        return EPOCH
    return min(to_utc_naive(start_of_day(day, tz)), now)


def _unchanged(stored: str, digest: str, legacy: str) -> bool:
    """Whether a row's stored hash says its content is *digest*'s. Hashes written before the
    row's position (its place in the file) was left out of them are *legacy*: the same content,
    so reordering the file, or upgrading, restamps nothing."""
    return stored in (digest, legacy)


def horizon_for(doc: spec.Document, now: datetime) -> date:
    """How far recurring actions are materialised (:func:`planning.horizon`)."""
    return planning.horizon(now.date(), max((m.start.day for m in doc.meetings.values()), default=None))


def sync(session: Session, doc: spec.Document, raw_digest: str, now: datetime) -> SyncReport:
    """Load *doc* into the database, in the caller's transaction. Idempotent."""
    with paused_gc():
        return _sync(session, doc, raw_digest, now)


def _sync(session: Session, doc: spec.Document, raw_digest: str, now: datetime) -> SyncReport:
    report = SyncReport()
    previous_digest = synced_digest(session)
    tz = ZoneInfo(doc.group.timezone)
    now_n = to_utc_naive(now)
    set_meta(session, "group", json.dumps(
        {"id": doc.group.id, "name": doc.group.name, "timezone": doc.group.timezone, "domain": doc.group.domain,
         **({"languages": list(doc.group.languages)} if doc.group.languages else {}),
         **({"names": doc.group.names} if doc.group.names else {})},
        sort_keys=True,
    ))
    _sync_parties(session, doc, now_n, report)
    _sync_sets(session, doc, report)
    report.moves = _meeting_moves(session, doc, tz, now)
    _sync_roles(session, doc, report)
    _sync_meetings(session, doc, tz, now_n, report)
    _sync_cadence(session, doc, report)
    _sync_conclusions(session, doc, now_n, report)
    horizon = horizon_for(doc, now)
    deadlines, planned = planning.plan(doc, horizon)
    titles_changed = _sync_actions(session, doc, deadlines, tz, now_n, report)
    _sync_links(session, doc)
    _sync_assignments(session, doc, planned, titles_changed, tz, now_n, report)
    _import_progress(session, doc, now, report)
    _no_stamp_from_the_future(session, now_n)
    set_meta(session, "actions_sha256", raw_digest)
    set_meta(session, "sync_horizon", horizon.isoformat())
    if previous_digest != raw_digest or not report.empty:
        mark_changed(session)
    return report


def _sync_roles(session: Session, doc: spec.Document, report: SyncReport) -> None:
    """The roles' holders over time; a role's entry among the parties is synced with them."""
    existing = {r.id: r for r in session.scalars(select(Role))}
    for rid, role in doc.roles.items():
        holders = [{"party": h.party, "from": h.start.isoformat(), "to": h.end.isoformat() if h.end else None}
                   for h in role.holdings]
        row = existing.pop(rid, None)
        if row is None:
            session.add(Role(id=rid, holders=holders, derived_from=role.derived_from))
            report.added.append(f"role {rid}")
        elif row.holders != holders or row.derived_from != role.derived_from:
            row.holders, row.derived_from = holders, role.derived_from
            report.changed.append(f"role {rid}")
    for rid, row in existing.items():  # its party entry is withdrawn with the parties; the assignments stay
        session.delete(row)
        report.withdrawn.append(f"role {rid}")
    session.info.pop(_ROLES_KEY, None)


_ROLES_KEY = "workplan.roles"


def _held_by(session: Session, party_id: str, occurred: datetime) -> str | None:
    """Who held the role that owns an assignment on the local day of a change: "PA", "CR PA GT",
    "" when nobody did; None when the owner is not a role. Read once per session."""
    roles = session.info.get(_ROLES_KEY)
    if roles is None:
        session.flush()
        roles = session.info[_ROLES_KEY] = stored_roles(session)
    if party_id not in roles:
        return None
    tz = ZoneInfo(group_info(session).timezone)
    day = occurred.replace(tzinfo=UTC).astimezone(tz).date()
    return " ".join(planning.role_holders(party_id, day, roles))


def _no_stamp_from_the_future(session: Session, now: datetime) -> None:
    """Bring back to the sync the rows that earlier versions stamped with a future day (the
    date of a meeting not held yet): feeds would carry a DTSTAMP that later goes backwards."""
    for model in (Meeting, Action, Assignment):
        session.execute(update(model).where(model.updated_at > now).values(updated_at=now))


def _sync_parties(session: Session, doc: spec.Document, now: datetime, report: SyncReport) -> None:
    existing = {p.id: p for p in session.scalars(select(Party))}
    for position, party in enumerate(doc.parties.values()):
        digest = _hash(party.name, party.kind, party.emails, position,
                       *([party.lang, party.names] if party.lang or party.names else []))
        row = existing.get(party.id)
        if row is None:
            session.add(Party(id=party.id, name=party.name, kind=party.kind, emails=list(party.emails),
                              lang=party.lang, names=party.names or None, position=position, content_hash=digest))
            report.added.append(f"party {party.id}")
        elif row.content_hash != digest or row.withdrawn_at is not None:
            row.name, row.kind, row.emails, row.position = party.name, party.kind, list(party.emails), position
            row.lang, row.names = party.lang, party.names or None
            row.content_hash, row.withdrawn_at = digest, None
            report.changed.append(f"party {party.id}")
    for pid, row in existing.items():
        if pid not in doc.parties and row.withdrawn_at is None:
            row.withdrawn_at = now
            report.withdrawn.append(f"party {pid}")


def _sync_sets(session: Session, doc: spec.Document, report: SyncReport) -> None:
    rows = session.scalars(select(SetMember).order_by(SetMember.set_name, SetMember.position)).all()
    existing: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        existing[row.set_name].append(row.party_id)
    wanted = {name: list(members) for name, members in doc.sets.items()}
    if existing == wanted:
        return
    for name in sorted(set(existing) | set(wanted)):
        if existing.get(name) != wanted.get(name):
            verb = report.added if name not in existing else report.withdrawn if name not in wanted else report.changed
            verb.append(f"set {name}")
    for row in rows:
        session.delete(row)
    session.flush()
    for name, members in wanted.items():
        session.add_all(SetMember(set_name=name, party_id=p, position=i) for i, p in enumerate(members))


def _meeting_moves(session: Session, doc: spec.Document, tz: ZoneInfo, now: datetime) -> planning.MoveEffects | None:
    """The stored dates of the file's meetings against the file's, before anything is written:
    when some moved, what that moves (planning.move_effects on the file with the stored dates)."""
    from dataclasses import replace

    from .timeutil import parse_when

    stored = {m.id: m for m in session.scalars(select(Meeting).where(Meeting.withdrawn_at.is_(None)))}
    meetings = dict(doc.meetings)
    for mid, m in doc.meetings.items():
        row = stored.get(mid)
        if row is None or (row.start, row.end) == (m.start.iso(), m.end.iso() if m.end else None):
            continue
        zone = ZoneInfo(row.timezone)
        meetings[mid] = replace(m, start=parse_when(row.start, zone),
                                end=parse_when(row.end, zone) if row.end else None)
    if meetings == doc.meetings:
        return None
    return planning.move_effects(replace(doc, meetings=meetings), doc, now.astimezone(tz).date())


def _sync_meetings(session: Session, doc: spec.Document, tz: ZoneInfo, now: datetime, report: SyncReport) -> None:
    existing = {m.id: m for m in session.scalars(select(Meeting))}
    for position, m in enumerate(doc.meetings.values()):
        end_day = planning.meeting_last_day(m)
        fields = dict(
            title=m.title, kind=m.kind, start=m.start.iso(), start_day=m.start.day,
            end=m.end.iso() if m.end else None, end_day=end_day, precision=m.start.precision,
            timezone=m.timezone, location=m.location, url=m.url, status=m.status,
            description=m.description,
        )
        if m.translations:  # only then: an unchanged one-language file keeps its hashes
            fields["translations"] = m.translations
        if m.body:  # likewise: a file without meetings of other bodies keeps its hashes
            fields["body"] = m.body
        digest = _hash(fields)  # the content only: moving a meeting within the file changes nothing
        row = existing.get(m.id)
        if row is not None and row.withdrawn_at is None and _unchanged(
                row.content_hash, digest, _hash({**fields, "position": row.position})):
            row.content_hash, row.position = digest, position
            continue
        if row is None:
            session.add(Meeting(id=m.id, content_hash=digest, sequence=0,
                                updated_at=_data_time(m.start.day, tz, now), position=position, **fields))
            report.added.append(f"meeting {m.id}")
        else:
            moved = (row.start, row.end, row.title, row.status, row.timezone, _titles(row.translations)) != (
                fields["start"], fields["end"], fields["title"], fields["status"], fields["timezone"],
                _titles(fields.get("translations")))
            fields.setdefault("translations", None)
            fields.setdefault("body", "")
            for key, value in fields.items():
                setattr(row, key, value)
            # a restored meeting was last published cancelled: only a higher SEQUENCE undoes that
            if moved or row.withdrawn_at is not None:
                row.sequence += 1
            row.content_hash, row.withdrawn_at, row.updated_at, row.position = digest, None, now, position
            report.changed.append(f"meeting {m.id}")
    for mid, row in existing.items():
        if mid not in doc.meetings and row.withdrawn_at is None:
            row.withdrawn_at, row.updated_at = now, now
            row.sequence += 1
            report.withdrawn.append(f"meeting {mid}")


def _titles(translations: object) -> Any:
    """The title in each language: a change to it moves the calendar SEQUENCE, as the title does."""
    return translations.get("title") if isinstance(translations, dict) else None


def _sync_cadence(session: Session, doc: spec.Document, report: SyncReport) -> None:
    existing = {r.kind: r for r in session.scalars(select(CadenceRule))}
    for rule in doc.cadence:
        row = existing.pop(rule.kind, None)
        if row is None:
            session.add(CadenceRule(kind=rule.kind, per=rule.per, at_least=rule.at_least, start=rule.start,
                                    report=rule.report))
            report.added.append(f"cadence {rule.kind}")
        elif (row.per, row.at_least, row.start, row.report) != (rule.per, rule.at_least, rule.start, rule.report):
            row.per, row.at_least, row.start, row.report = rule.per, rule.at_least, rule.start, rule.report
            report.changed.append(f"cadence {rule.kind}")
    for kind, row in existing.items():
        session.delete(row)
        report.withdrawn.append(f"cadence {kind}")


def _action_fields(action: spec.Action, deadline: planning.Deadline) -> dict[str, Any]:
    """What an action says, which its hash covers: not its place in the file (reordering the
    file, or removing one action, changes no other)."""
    rec = action.recurrence
    return dict(
        title=action.title,
        **({"translations": action.translations} if action.translations else {}),
        description=action.description,
        theme=action.theme,
        tags=list(action.tags),
        owners=list(action.owners),
        with_=list(action.with_),
        source_meeting=action.source.meeting if action.source else "",
        source_ref=action.source.ref if action.source else "",
        source_text=action.source.text if action.source else "",
        due_spec=action.due.to_json(),
        recurrence=None if rec is None else {
            "repeat": rec.repeat, "rrule": rec.rrule,
            "from": rec.start.isoformat() if rec.start else None,
            "until": rec.until.isoformat() if rec.until else None,
        },
        due_date=deadline.day,
        due_at=to_utc_naive(deadline.at) if deadline.at else None,
        due_kind=deadline.kind,
        due_meeting=deadline.meeting,
        visibility=action.visibility,
        # only when written: an action without them keeps the hash it had before they existed
        **({"conclusion_id": action.conclusion} if action.conclusion else {}),
        **({"requested_by": list(action.requested_by)} if action.requested_by else {}),
    )


def _sync_conclusions(session: Session, doc: spec.Document, now: datetime, report: SyncReport) -> None:
    """Upsert the register of conclusions; one gone from the file is withdrawn (kept, as actions are)."""
    existing = {c.id: c for c in session.scalars(select(Conclusion))}
    for position, c in enumerate(doc.conclusions.values()):
        fields = dict(kind=c.kind, meeting=c.source.meeting, ref=c.source.ref, text=c.source.text,
                      requested_by=list(c.requested_by), addressed_to=list(c.addressed_to))
        digest = _hash(fields)
        row = existing.get(c.id)
        if row is None:
            session.add(Conclusion(id=c.id, position=position, content_hash=digest, **fields))
            report.added.append(f"conclusion {c.id}")
            continue
        row.position = position  # its place in the file is document order, not content
        if row.content_hash == digest and row.withdrawn_at is None:
            continue
        for key, value in fields.items():
            setattr(row, key, value)
        if row.withdrawn_at is not None:
            report.added.append(f"conclusion {c.id} (restored)")
        else:
            report.changed.append(f"conclusion {c.id}")
        row.content_hash, row.withdrawn_at = digest, None
    for cid, row in existing.items():
        if cid not in doc.conclusions and row.withdrawn_at is None:
            row.withdrawn_at = now
            report.withdrawn.append(f"conclusion {cid}")


def _sync_actions(
    session: Session,
    doc: spec.Document,
    deadlines: dict[str, planning.Deadline],
    tz: ZoneInfo,
    now: datetime,
    report: SyncReport,
) -> set[str]:
    """Upsert actions; return the ids whose title changed (their assignments' SEQUENCE moves)."""
    existing = {a.id: a for a in session.scalars(select(Action))}
    titles_changed: set[str] = set()
    new: list[dict[str, Any]] = []  # inserted in bulk: a first sync adds thousands
    for position, action in enumerate(doc.actions.values()):
        fields = _action_fields(action, deadlines[action.id])
        digest = _hash(fields, list(action.depends_on))
        row = existing.get(action.id)
        if row is None:
            created = doc.meetings[action.source.meeting].start.day if (
                action.source and action.source.meeting in doc.meetings) else None
            new.append(dict(id=action.id, content_hash=digest, sequence=0, updated_at=_data_time(created, tz, now),
                            position=position, **{"conclusion_id": None, "requested_by": None, **fields}))
            report.added.append(f"action {action.id}")
            continue
        if row.withdrawn_at is None and _unchanged(
                row.content_hash, digest, _hash({**fields, "position": row.position}, list(action.depends_on))):
            if (row.content_hash, row.position) != (digest, position):
                row.content_hash, row.position = digest, position
            continue
        if (row.title, _titles(row.translations)) != (action.title, _titles(fields.get("translations"))):
            titles_changed.add(action.id)
        # a restored action was last published cancelled: only a higher SEQUENCE undoes that
        if (row.title, _titles(row.translations), row.due_date, row.due_at) != (
                fields["title"], _titles(fields.get("translations")), fields["due_date"], fields["due_at"]) \
                or row.withdrawn_at is not None:
            row.sequence += 1
        row.position = position
        fields.setdefault("translations", None)
        fields.setdefault("conclusion_id", None)
        fields.setdefault("requested_by", None)
        for key, value in fields.items():
            setattr(row, key, value)
        if row.withdrawn_at is not None:
            report.added.append(f"action {action.id} (restored)")
        else:
            report.changed.append(f"action {action.id}")
        row.content_hash, row.withdrawn_at, row.updated_at = digest, None, now
    for aid, row in existing.items():
        if aid not in doc.actions and row.withdrawn_at is None:
            row.withdrawn_at, row.updated_at = now, now
            row.sequence += 1
            report.withdrawn.append(f"action {aid}")
    if new:
        session.execute(insert(Action), new)
    session.flush()
    return titles_changed


def _sync_links(session: Session, doc: spec.Document) -> None:
    """Dependencies and participants: replace the pairs that differ."""
    deps = {(d.action_id, d.depends_on_id): d for d in session.scalars(select(Dependency))}
    wanted_deps = {(a.id, d) for a in doc.actions.values() for d in a.depends_on}
    for key, row in deps.items():
        if key not in wanted_deps:
            session.delete(row)
    new_deps = [{"action_id": a, "depends_on_id": d} for a, d in sorted(wanted_deps - set(deps))]
    if new_deps:
        session.execute(insert(Dependency), new_deps)
    parts = {(p.action_id, p.party_id): p for p in session.scalars(select(Participant))}
    wanted_parts = {(a.id, p) for a in doc.actions.values() for p in doc.expand(a.with_)}
    for key, part in parts.items():
        if key not in wanted_parts:
            session.delete(part)
    new_parts = [{"action_id": a, "party_id": p} for a, p in sorted(wanted_parts - set(parts))]
    if new_parts:
        session.execute(insert(Participant), new_parts)


def _sync_assignments(
    session: Session,
    doc: spec.Document,
    planned: list[planning.PlannedAssignment],
    titles_changed: set[str],
    tz: ZoneInfo,
    now: datetime,
    report: SyncReport,
) -> None:
    existing = {(a.action_id, a.party_id, a.occurrence): a for a in session.scalars(select(Assignment))}
    seen: set[tuple[str, str, str]] = set()
    new: list[dict[str, Any]] = []  # inserted in bulk
    for item in planned:
        key = (item.action_id, item.party_id, item.occurrence)
        seen.add(key)
        d = item.deadline
        due_at = to_utc_naive(d.at) if d.at else None
        row = existing.get(key)
        label = f"assignment {item.action_id}/{item.party_id}" + (f"@{item.occurrence}" if item.occurrence else "")
        if row is None:
            action = doc.actions[item.action_id]
            created = doc.meetings[action.source.meeting].start.day if (
                action.source and action.source.meeting in doc.meetings) else None
            new.append(dict(
                action_id=item.action_id, party_id=item.party_id, occurrence=item.occurrence,
                due_date=d.day, due_at=due_at, due_kind=d.kind, due_meeting=d.meeting,
                status="open", version=0, sequence=0, updated_at=_data_time(created, tz, now),
            ))
            report.added.append(label)
            continue
        moved = (row.due_date, row.due_at) != (d.day, due_at)
        if moved or row.due_kind != d.kind or row.due_meeting != d.meeting or row.withdrawn_at is not None \
                or item.action_id in titles_changed:
            if moved or item.action_id in titles_changed or row.withdrawn_at is not None:
                row.sequence += 1
            if row.withdrawn_at is not None:
                report.added.append(label + " (restored)")
            elif moved:
                report.changed.append(f"{label} due {row.due_date} → {d.day}")
            row.due_date, row.due_at, row.due_kind, row.due_meeting = d.day, due_at, d.kind, d.meeting
            row.withdrawn_at, row.updated_at = None, now
    for key, row in existing.items():
        if key not in seen and row.withdrawn_at is None:
            row.withdrawn_at, row.updated_at = now, now
            row.sequence += 1
            if key[0] in doc.actions:  # a withdrawn action already says so
                report.withdrawn.append(f"assignment {key[0]}/{key[1]}")
    if new:
        session.execute(insert(Assignment), new)
    session.flush()


def _import_progress(session: Session, doc: spec.Document, now: datetime, report: SyncReport) -> None:
    """Facts recorded in the minutes become events once (origin ``actions.yaml``)."""
    imported = {
        (a, k) for a, k in session.execute(
            select(Event.action_id, Event.fact_key).where(Event.fact_key.is_not(None))
        )
    }
    wanted = [
        (action, fact) for action in doc.actions.values() for fact in action.progress
        if (action.id, fact.key) not in imported
    ]
    if not wanted:
        return
    action_ids = {a.id for a, _ in wanted}
    query = select(Assignment)
    if few(action_ids):  # beyond, the IN list would run into the databases' limits on parameters
        query = query.where(Assignment.action_id.in_(action_ids))
    rows = {(a.action_id, a.party_id, a.occurrence): a for a in session.scalars(query)}
    events: list[dict[str, Any]] = []
    latest: dict[int, tuple[str, datetime | None]] = {}  # assignment id → (status, status_at) after the facts
    last_event = _latest_events(session, action_ids)  # and the event itself, which a refusal names
    refused: list[Problem] = []
    recorded = to_utc_naive(now)
    tz = ZoneInfo(doc.group.timezone)
    for action, fact in sorted(wanted, key=lambda af: (af[1].on, af[0].id, af[1].party)):
        occurrence = fact.occurrence.isoformat() if fact.occurrence else ""
        if action.recurrence is not None and not occurrence:
            open_rows = sorted(
                (r for (a, p, _), r in rows.items()
                 if a == action.id and p == fact.party and latest.get(r.id, (r.status,))[0] not in CLOSED),
                key=lambda r: r.occurrence,
            )
            row = open_rows[0] if open_rows else None
        else:
            row = rows.get((action.id, fact.party, occurrence))
        if row is None:
            raise UsageError(f"{doc.path}:{fact.pos.line}:{fact.pos.column}: action {action.id} has no "
                             f"assignment for {fact.party}" + (f" on {occurrence}" if occurrence else ""))
        try:  # the same rule as the command line's; in the future or before the meeting, check said so already
            moment = planning.status_moment(
                fact.on, day_only=fact.day_only, now=now, tz=tz, subject=partial(planning.progress_subject, action.id, fact.party),
                meeting=planning.source_day(action.source, doc.meetings), latest=last_event.get(row.id))
        except HistoryError as exc:
            refused.append(Problem(doc.path, fact.on_pos.line, fact.on_pos.column, str(exc)))
            continue
        # what _append_event does, batched: thousands of facts in a first sync would otherwise
        # cost one flush and one UPDATE each
        occurred = to_utc_naive(moment)
        status, status_at = latest.get(row.id, (row.status, row.status_at))
        last_event[row.id] = planning.LatestEvent(moment, status, fact.status, fact.by or "minutes", "actions.yaml")
        events.append(dict(
            assignment_id=row.id, action_id=row.action_id, party_id=row.party_id, occurrence=row.occurrence,
            occurred_at=occurred, recorded_at=recorded, by=fact.by or "minutes", from_status=status,
            to_status=fact.status, note=fact.note, origin="actions.yaml", fact_key=fact.key,
        ))
        if status_at is None or occurred >= status_at:
            latest[row.id] = (fact.status, occurred)
        report.events.append(f"{action.id}/{fact.party}: {fact.status} on {fact.on.date()}")
    if refused:  # before any event is written; what sync wrote before this is rolled back with it
        raise ValidationFailed(sorted(refused, key=lambda p: (p.line, p.column)))
    session.execute(insert(Event), events)
    by_id = {r.id: r for r in rows.values()}
    moves: list[dict[str, Any]] = [
        {"b_id": aid, "b_version": by_id[aid].version, "b_status": st, "b_status_at": at}
        for aid, (st, at) in latest.items()
    ]
    if moves:
        table = tables.assignment  # Core: one executemany with the version check
        result = session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values(status=bindparam("b_status"), status_at=bindparam("b_status_at"), version=table.c.version + 1),
            moves,
        )
        if result.rowcount != len(moves):
            raise ConcurrentChange("the statuses changed while the actions file was being synced; "
                                   "nothing was written, run `workplan sync` again")
        for aid, (st, at) in latest.items():
            row = by_id[aid]
            set_committed_value(row, "status", st)
            set_committed_value(row, "status_at", at)
            set_committed_value(row, "version", row.version + 1)


def _append_event(
    session: Session,
    row: Assignment,
    to_status: str,
    occurred_at: datetime,
    now: datetime,
    note: str,
    by: str,
    origin: str,
    fact_key: str | None = None,
    evidence: str = "",
) -> Event:
    """Write the event and move the cached status when the event is the latest."""
    occurred = to_utc_naive(occurred_at)
    ev = Event(
        assignment_id=row.id, action_id=row.action_id, party_id=row.party_id, occurrence=row.occurrence,
        occurred_at=occurred, recorded_at=to_utc_naive(now), by=by, from_status=row.status,
        to_status=to_status, note=note, origin=origin, fact_key=fact_key, evidence=evidence,
        held_by=_held_by(session, row.party_id, occurred),
    )
    session.add(ev)
    if row.status_at is None or occurred >= row.status_at:
        result = session.execute(
            update(Assignment)
            .where(Assignment.id == row.id, Assignment.version == row.version)
            .values(status=to_status, status_at=occurred, version=Assignment.version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(
                f"{row.action_id} for {row.party_id} was changed by someone else at the same moment; "
                "nothing was written, look at `workplan show` and try again"
            )
        row.status, row.status_at, row.version = to_status, occurred, row.version + 1
    return ev


# ---------------------------------------------------------------------------
# status changes


@dataclass(frozen=True)
class Change:
    action: str
    party: str
    occurrence: str
    from_status: str
    to_status: str
    skipped: bool = False


def change_status(
    session: Session,
    verb: str,
    action_id: str,
    party: str | None,
    occurrence: str | None,
    on: datetime | None,
    now: datetime,
    note: str = "",
    by: str = "",
    origin: str = "cli",
    day_only: bool = False,
    evidence: str = "",
) -> list[Change]:
    """Apply a status change to one assignment, or to every assignment of the named set.

    *on* is when it happened (``--on``; *day_only* when it was given as a date); None means
    now, taken once the rows are locked. :func:`planning.status_moment` refuses a date in the
    future, before the source meeting or before an assignment's latest event.
    """
    target, allowed = planning.TRANSITIONS[verb]
    if planning.unexplained_waiver(target, note):
        raise UsageError(_("waiving {action} needs --note saying why it cannot be delivered").format(action=action_id))
    action = session.get(Action, action_id)
    if action is None or action.withdrawn_at is not None:
        raise UnknownItem(_("there is no action {action!r}").format(action=action_id)
                          + (_(" (it was withdrawn)") if action else ""))
    query = select(Assignment).where(Assignment.action_id == action_id, Assignment.withdrawn_at.is_(None))
    # row locks (PostgreSQL) so that two people changing one assignment queue instead of racing;
    # the version check in _append_event catches anything that slips past
    rows = list(session.scalars(query.order_by(Assignment.party_id, Assignment.occurrence).with_for_update()))
    if not rows:
        raise UnknownItem(_("action {action} has no owner to change the status of").format(action=action_id))
    if party is not None:
        wanted = set(parties_named(session, party))
        rows = [r for r in rows if r.party_id in wanted]
        if not rows:
            owners = sorted({r.party_id for r in session.scalars(query)})
            raise UnknownItem(_("{party} is not an owner of {action} (owners: {owners})").format(
                party=party, action=action_id, owners=", ".join(owners)))
    else:
        owners = sorted({r.party_id for r in rows})
        if len(owners) > 1:
            raise UsageError(_("{action} has {count} owners ({owners}); say which with --party").format(
                action=action_id, count=len(owners), owners=", ".join(owners)))
    if occurrence is not None:
        rows = [r for r in rows if r.occurrence == occurrence]
        if not rows:
            raise UnknownItem(_("{action} has no occurrence on {day}").format(action=action_id, day=occurrence))
    elif any(r.occurrence for r in rows):
        # a recurring action: the earliest occurrence the change applies to, per party
        by_party: dict[str, Assignment] = {}
        for r in rows:
            if r.status in allowed and r.party_id not in by_party:
                by_party[r.party_id] = r
        if not by_party:
            raise TransitionError(_("no occurrence of {action} can be marked {status}").format(
                action=action_id, status=word(target)))
        rows = list(by_party.values())
    changes: list[Change] = []
    refused: list[str] = []
    for row in rows:
        if row.status == target:
            changes.append(Change(action_id, row.party_id, row.occurrence, row.status, target, skipped=True))
        elif row.status not in allowed:
            refused.append(_("{party} is {status}").format(party=row.party_id, status=word(row.status)))
        else:
            changes.append(Change(action_id, row.party_id, row.occurrence, row.status, target))
    if refused:
        raise TransitionError(_("cannot mark {action} {status}: {reasons}").format(
            action=action_id, status=word(target), reasons="; ".join(refused)))
    if all(c.skipped for c in changes):
        who = ", ".join(c.party for c in changes)
        raise TransitionError(_("{action} is already {status} for {parties}").format(
            action=action_id, status=word(target), parties=who))
    by_key = {(r.party_id, r.occurrence): r for r in rows}
    tz = group_info(session).tz
    meeting = _source_meeting(session, action.source_meeting)
    latest = _latest_events(session, {action_id})
    # the clock read once the rows are locked (a change that waited is dated after the one it
    # waited for), through the module so that a test that sets timeutil.now_utc sets it here too
    clock = timeutil.now_utc()
    moments: list[tuple[Assignment, datetime]] = []
    for change in changes:  # every date is judged before anything is written: a set changes whole or not at all
        if not change.skipped:
            row = by_key[(change.party, change.occurrence)]
            subject = partial(planning.assignment_subject, action_id, row.party_id, row.occurrence)
            moments.append((row, planning.status_moment(
                on, day_only=day_only, now=clock, tz=tz, subject=subject, meeting=meeting, latest=latest.get(row.id))))
    for row, when in moments:
        _append_event(session, row, target, when, now, note, by, origin, evidence=evidence)
    mark_changed(session)
    return changes


def _source_meeting(session: Session, meeting_id: str | None) -> tuple[str, date] | None:
    """The source meeting's id and first day, which no status change of its actions may precede."""
    if not meeting_id:
        return None
    day = session.scalar(select(Meeting.start_day).where(Meeting.id == meeting_id))
    return None if day is None else (meeting_id, day)


def _latest_events(session: Session, action_ids: set[str]) -> dict[int, planning.LatestEvent]:
    """The latest event of each assignment of these actions (its moment is the assignment's
    cached ``status_at``; of several at that moment, the last recorded)."""
    query = (
        select(Event.assignment_id, Event.occurred_at, Event.from_status, Event.to_status, Event.by, Event.origin)
        .join(Assignment, and_(Assignment.id == Event.assignment_id, Assignment.status_at == Event.occurred_at))
        .order_by(Event.id)
    )
    # beyond a few IN lists (a first sync of a large file), one pass over the join costs less
    rows = rows_in(session, query, Assignment.action_id, action_ids) if few(action_ids) \
        else session.execute(query).all()
    return {
        aid: planning.LatestEvent(at.replace(tzinfo=UTC), from_status, to_status, by, origin)
        for aid, at, from_status, to_status, by, origin in rows
    }


