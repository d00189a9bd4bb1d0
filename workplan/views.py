"""The plain objects that readers build and renderers read: no session, no ORM, no database.

:mod:`workplan.feeds` fills a :class:`FeedSet` from the database; :mod:`workplan.render.ical`
turns one into bytes. Nothing here imports SQLAlchemy, so rendering never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class GroupInfo:
    id: str
    name: str
    timezone: str
    domain: str
    languages: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class FeedParty:
    id: str
    name: str


@dataclass(frozen=True)
class FeedMeeting:
    id: str
    title: str
    kind: str
    start: str  # as written: 2016-09, 2016-07-13 or an ISO datetime
    end: str | None
    start_day: date
    end_day: date
    precision: str  # month | date | datetime
    timezone: str
    location: str
    url: str
    description: str
    status: str  # planned | held | cancelled
    withdrawn: bool
    sequence: int
    modified: datetime  # naive UTC


@dataclass(frozen=True)
class FeedDependency:
    id: str
    title: str
    closed: bool
    withdrawn: bool = False
    restricted: bool = False


@dataclass(frozen=True)
class FeedAssignment:
    """One deadline of one party (one occurrence of a recurring action)."""

    action_id: str
    party: str
    occurrence: str  # '' or the occurrence's ISO date
    due_date: date
    due_at: datetime | None  # aware, in the group's zone
    due_kind: str  # date | meeting | expected
    due_meeting: str | None
    status: str  # as of the read moment
    status_since: datetime | None  # aware, in the group's zone; when the status was reached
    withdrawn: bool
    sequence: int  # stored SEQUENCE plus the status changes it has seen
    modified: datetime  # naive UTC


@dataclass(frozen=True)
class FeedAction:
    id: str
    title: str
    description: str
    source_meeting: str
    source_meeting_title: str
    source_ref: str
    source_text: str
    due_spec: dict[str, Any]
    visibility: str
    withdrawn: bool
    sequence: int
    modified: datetime  # naive UTC, its own changes only
    with_: tuple[str, ...]
    depends_on: tuple[FeedDependency, ...]
    assignments: tuple[FeedAssignment, ...]  # every owner and occurrence with a due date


@dataclass(frozen=True)
class FeedSet:
    group: GroupInfo
    parties: tuple[FeedParty, ...]
    meetings: tuple[FeedMeeting, ...]
    actions: tuple[FeedAction, ...]
    meeting_titles: dict[str, str] = field(default_factory=dict)
    # each role and who holds it on the as-of day: its deadlines are in their feeds too
    holders: dict[str, tuple[str, ...]] = field(default_factory=dict)


def visible_to(fs: FeedSet, party: str | None = None) -> FeedSet:
    """The feed set as *party* may see it (None: anyone, the public feeds).

    For anyone: no restricted action. For a party's private feed: the actions it owns or takes
    part in, restricted ones included, and nothing else. Either way, where a shown action
    depends on a restricted one that is not shown, the dependency is named only as restricted
    (its id and title would say what it is)."""
    if party is None:
        actions = [a for a in fs.actions if a.visibility == "public"]
    else:
        actions = [a for a in fs.actions if party in a.with_ or any(x.party == party for x in a.assignments)]
    shown = {a.id for a in actions}

    def named(d: FeedDependency) -> FeedDependency:
        if not d.restricted or d.id in shown:
            return d
        return FeedDependency("(restricted)", "an action that is not public", d.closed, d.withdrawn, True)

    return replace(fs, actions=tuple(
        replace(a, depends_on=tuple(named(d) for d in a.depends_on)) if any(d.restricted for d in a.depends_on)
        else a
        for a in actions
    ))


def feed_party(filename: str) -> str:
    """``CR.ics`` and ``todo/CR.ics`` → ``CR``; the shared feeds name no party."""
    name = filename.rsplit("/", 1)[-1].removesuffix(".ics")
    return "" if name in ("all", "meetings") else name


# ---------------------------------------------------------------------------
# the confirmation of a reply by email (workplan.inbox → render/confirmation.py)


@dataclass(frozen=True)
class ConfirmedItem:
    """One line of a reply that was applied: digest item *number*, its action, the new status."""

    number: int
    action: str
    occurrence: str
    title: str
    status: str
    line: str


@dataclass(frozen=True)
class UnappliedLine:
    """A line of a reply that was not understood or that the rules refused, and why."""

    line: str
    reason: str


@dataclass(frozen=True)
class Confirmation:
    """What the sender of a reply is told: what was applied, what was not and why (*reason*:
    the one sentence when nothing in the message could be read). *in_reply_to* is the reply's
    Message-ID ('' when it had none)."""

    to: str
    subject: str
    in_reply_to: str
    message_id: str
    group_name: str
    party_id: str
    party_name: str
    status: str  # applied, partly, nothing
    reason: str
    applied: tuple[ConfirmedItem, ...]
    unapplied: tuple[UnappliedLine, ...]
