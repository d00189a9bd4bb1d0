"""What changed for a recipient since its last digest: pure logic over two snapshots.

A snapshot is what one digest said about the assignments it covers, kept in the send log:
``{"action|party|occurrence": {"t": title, "s": status, "d": due (ISO date or None),
"k": due kind, "m": due meeting, "o": overdue}}``. Comparing the one of the last digest that
was sent with the current state gives the section a busy focal point reads first: new actions,
moved deadlines, closed, reopened, newly overdue, withdrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from .i18n import _
from .statuses import CLOSED

Snapshot = dict[str, dict[str, Any]]


class _RowLike(Protocol):
    action: str
    title: str
    party: str
    occurrence: str
    due: date | None
    due_kind: str
    due_meeting: str | None
    status: str
    overdue: bool


def key(action: str, party: str, occurrence: str) -> str:
    return f"{action}|{party}|{occurrence}"


def snapshot(rows: Iterable[_RowLike]) -> Snapshot:
    return {
        key(r.action, r.party, r.occurrence): {
            "t": r.title, "s": r.status, "d": r.due.isoformat() if r.due else None, "k": r.due_kind,
            "m": r.due_meeting, "o": bool(r.overdue and r.status not in CLOSED),
        }
        for r in rows
    }


@dataclass(frozen=True)
class Change:
    """One change of one action; the owners it happened to are listed together (a fanned-out
    action moved by a meeting is one line, not eleven)."""

    action: str
    title: str
    parties: tuple[str, ...]
    occurrence: str
    before: str  # the earlier due date (as words, in the language of the comparison) or status (its code)
    after: str
    meeting: str | None = None  # for a moved deadline: the meeting it follows

    @property
    def party_ids(self) -> str:
        return ", ".join(self.parties)


@dataclass(frozen=True)
class Reported:
    """A status a focal point reported itself, on its report page (origin ``web``) or by
    replying to its digest (``email``)."""

    action: str
    title: str
    party: str
    occurrence: str
    status: str
    by: str
    origin: str
    note: str


@dataclass
class Changes:
    since: datetime  # the as-of moment of the previous digest
    since_period: str
    new: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    closed: list[Change] = field(default_factory=list)
    reopened: list[Change] = field(default_factory=list)
    newly_overdue: list[Change] = field(default_factory=list)
    withdrawn: list[Change] = field(default_factory=list)
    reported: list[Reported] = field(default_factory=list)  # by focal points, on their page or by reply
    held_replies: int = 0  # replies that applied nothing and wait for the secretariat (its digest only)

    @property
    def count(self) -> int:
        return sum(len(x) for x in (self.new, self.moved, self.closed, self.reopened, self.newly_overdue,
                                    self.withdrawn, self.reported)) + self.held_replies


def _due_words(entry: Mapping[str, Any]) -> str:
    if not entry.get("d"):
        return _("no deadline")
    return str(entry["d"]) + (_(" (expected)") if entry.get("k") == "expected" else "")


def _split(k: str) -> tuple[str, str, str]:
    action, party, occurrence = (k.split("|") + ["", "", ""])[:3]
    return action, party, occurrence


def compare(previous: Snapshot, current: Snapshot, since: datetime, since_period: str) -> Changes:
    """What happened between the digest that said *previous* and the state *current*.

    Due dates are put in words in the language of the moment (call it in the reader's)."""
    out = Changes(since, since_period)
    for k, now in current.items():
        action, party, occurrence = _split(k)
        was = previous.get(k)

        def change(before: str, after: str, meeting: str | None = None,
                   action: str = action, party: str = party, occurrence: str = occurrence,
                   now: Mapping[str, Any] = now) -> Change:
            return Change(action, str(now.get("t", action)), (party,), occurrence, before, after, meeting)

        closed_now = now.get("s") in CLOSED
        if was is None:
            if not closed_now:
                out.new.append(change("", _due_words(now)))
            continue
        closed_then = was.get("s") in CLOSED
        if closed_now and not closed_then:
            out.closed.append(change(str(was.get("s")), str(now.get("s"))))
        elif closed_then and not closed_now:
            out.reopened.append(change(str(was.get("s")), str(now.get("s"))))
        if closed_now:
            continue
        if (was.get("d"), was.get("k")) != (now.get("d"), now.get("k")):
            out.moved.append(change(_due_words(was), _due_words(now), now.get("m") or was.get("m")))
        if now.get("o") and not was.get("o"):
            out.newly_overdue.append(change("", _due_words(now)))
    for k, was in previous.items():
        if k not in current and was.get("s") not in CLOSED:
            action, party, occurrence = _split(k)
            out.withdrawn.append(Change(action, str(was.get("t", action)), (party,), occurrence, _due_words(was), ""))
    for name in ("new", "moved", "closed", "reopened", "newly_overdue", "withdrawn"):
        setattr(out, name, _grouped(getattr(out, name)))
    return out


def _grouped(changes: list[Change]) -> list[Change]:
    merged: dict[tuple[str, str, str, str, str | None], list[Change]] = {}
    for c in changes:
        merged.setdefault((c.action, c.occurrence, c.before, c.after, c.meeting), []).append(c)
    out = [Change(group[0].action, group[0].title, tuple(sorted(p for c in group for p in c.parties)),
                  group[0].occurrence, group[0].before, group[0].after, group[0].meeting)
           for group in merged.values()]
    out.sort(key=lambda c: (c.action, c.occurrence, c.parties))
    return out
