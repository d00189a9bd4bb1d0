"""Typed SQLAlchemy models: the ORM's view of the tables in :mod:`workplan.tables`.

The tables are declared once, in Core, and each class here is mapped onto its table with its
attributes' types annotated (SQLAlchemy's "declarative with imperative table"). Commands that
write use these classes and a Session; read commands query the tables themselves and never
import the ORM (see :mod:`workplan.tables` for why).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from . import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class Meta(Base):
    """Project-wide facts: the group, the hash of the last synced file, the schema version."""

    __table__ = tables.meta
    key: Mapped[str]
    value: Mapped[str]


class Party(Base):
    __table__ = tables.party
    id: Mapped[str]
    name: Mapped[str]
    kind: Mapped[str]
    emails: Mapped[list[str]]
    lang: Mapped[str]
    names: Mapped[dict[str, Any] | None]
    position: Mapped[int]
    content_hash: Mapped[str]
    withdrawn_at: Mapped[datetime | None]


class SetMember(Base):
    __table__ = tables.set_member
    set_name: Mapped[str]
    party_id: Mapped[str]
    position: Mapped[int]


class Meeting(Base):
    __table__ = tables.meeting
    id: Mapped[str]
    title: Mapped[str]
    kind: Mapped[str]
    start: Mapped[str]
    start_day: Mapped[date]
    end: Mapped[str | None]
    end_day: Mapped[date]
    precision: Mapped[str]
    timezone: Mapped[str]
    location: Mapped[str]
    url: Mapped[str]
    body: Mapped[str]
    status: Mapped[str]
    description: Mapped[str]
    translations: Mapped[dict[str, Any] | None]
    position: Mapped[int]
    sequence: Mapped[int]
    content_hash: Mapped[str]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class CadenceRule(Base):
    __table__ = tables.cadence_rule
    kind: Mapped[str]
    per: Mapped[str]
    at_least: Mapped[int]
    start: Mapped[date]
    report: Mapped[bool]


class Action(Base):
    __table__ = tables.action
    id: Mapped[str]
    title: Mapped[str]
    description: Mapped[str]
    translations: Mapped[dict[str, Any] | None]
    theme: Mapped[str]
    tags: Mapped[list[str]]
    owners: Mapped[list[str]]
    with_: Mapped[list[str]]
    source_meeting: Mapped[str]
    source_ref: Mapped[str]
    source_text: Mapped[str]
    due_spec: Mapped[dict[str, Any]]
    recurrence: Mapped[dict[str, Any] | None]
    due_date: Mapped[date | None]
    due_at: Mapped[datetime | None]
    due_kind: Mapped[str]
    due_meeting: Mapped[str | None]
    visibility: Mapped[str]
    position: Mapped[int]
    sequence: Mapped[int]
    content_hash: Mapped[str]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    conclusion_id: Mapped[str | None]
    requested_by: Mapped[list[str] | None]


class Conclusion(Base):
    """A paragraph a meeting concluded (``conclusions:``); actions name it by id."""

    __table__ = tables.conclusion
    id: Mapped[str]
    kind: Mapped[str]
    meeting: Mapped[str]
    ref: Mapped[str]
    text: Mapped[str]
    requested_by: Mapped[list[str]]
    addressed_to: Mapped[list[str]]
    position: Mapped[int]
    content_hash: Mapped[str]
    withdrawn_at: Mapped[datetime | None]


class Role(Base):
    """A role that rotates (``roles:``): its holders over time, or the role it derives from."""

    __table__ = tables.role
    id: Mapped[str]
    holders: Mapped[list[dict[str, str | None]]]
    derived_from: Mapped[str | None]


class Dependency(Base):
    __table__ = tables.dependency
    action_id: Mapped[str]
    depends_on_id: Mapped[str]


class Participant(Base):
    """A party that takes part in an action without owning it (``with:``)."""

    __table__ = tables.participant
    action_id: Mapped[str]
    party_id: Mapped[str]


class Assignment(Base):
    """One (action, party) pair, or one occurrence of a recurring action for a party."""

    __table__ = tables.assignment
    id: Mapped[int]
    action_id: Mapped[str]
    party_id: Mapped[str]
    occurrence: Mapped[str]
    due_date: Mapped[date | None]
    due_at: Mapped[datetime | None]
    due_kind: Mapped[str]
    due_meeting: Mapped[str | None]
    status: Mapped[str]
    status_at: Mapped[datetime | None]
    version: Mapped[int]
    sequence: Mapped[int]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class Event(Base):
    """A status change. Never updated, never deleted."""

    __table__ = tables.event
    id: Mapped[int]
    assignment_id: Mapped[int]
    action_id: Mapped[str]
    party_id: Mapped[str]
    occurrence: Mapped[str]
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    by: Mapped[str]
    from_status: Mapped[str]
    to_status: Mapped[str]
    note: Mapped[str]
    origin: Mapped[str]
    fact_key: Mapped[str | None]
    evidence: Mapped[str]
    held_by: Mapped[str | None]


class FeedToken(Base):
    """A private feed's secret, kept only as its SHA-256: the token itself is shown once, when
    issued, and a stolen database does not let anyone read the feeds. Revoked tokens stay, dated."""

    __table__ = tables.feed_token
    token_hash: Mapped[str]
    party_id: Mapped[str]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DigestSend(Base):
    """The send log: one row per digest, recipient and period, which makes sending exactly once.

    ``status`` is ``sending`` (written and committed before the SMTP conversation), ``sent``
    (committed after the server accepted the message) or ``failed`` (the server refused or could
    not be reached; the next run tries again). A ``sending`` row that no run is working on means
    the outcome is unknown (a crash, or the connection lost after the message was handed over):
    it is never resent without a person deciding. ``snapshot`` is what the digest said, so that
    the next one can open with what changed since.
    """

    __table__ = tables.digest_send
    id: Mapped[int]
    party_id: Mapped[str]
    period: Mapped[str]
    status: Mapped[str]
    recipients: Mapped[list[str]]
    message_id: Mapped[str]
    subject: Mapped[str]
    as_of: Mapped[datetime]
    attempts: Mapped[int]
    error: Mapped[str]
    snapshot: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ReportKey(Base):
    """The key of a party's report page and reply address, issued with one digest, kept only as
    its SHA-256 (like :class:`FeedToken`): it expires, and the secretariat can revoke it."""

    __table__ = tables.report_key
    key_hash: Mapped[str]
    party_id: Mapped[str]
    period: Mapped[str]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ReportItem(Base):
    """Item *number* of the digest that carried a key: one assignment of that key's party."""

    __table__ = tables.report_item
    key_hash: Mapped[str]
    number: Mapped[int]
    action_id: Mapped[str]
    party_id: Mapped[str]
    occurrence: Mapped[str]


class PartyPreference(Base):
    """A party's own choices: its digest paused or not, the language it reads."""

    __table__ = tables.party_preference
    party_id: Mapped[str]
    digest_paused: Mapped[bool]
    lang: Mapped[str]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str]


class InboxMessage(Base):
    """A reply to a digest, recorded once by its Message-ID, with what became of it."""

    __table__ = tables.inbox_message
    id: Mapped[int]
    message_id: Mapped[str]
    received_at: Mapped[datetime]
    sender: Mapped[str]
    subject: Mapped[str]
    party_id: Mapped[str | None]
    status: Mapped[str]
    reason: Mapped[str]
    applied: Mapped[list[dict[str, Any]]]
    not_understood: Mapped[list[dict[str, Any]]]
    raw: Mapped[str | None]
    confirmation: Mapped[str]
    confirmed_at: Mapped[datetime | None]
    confirm_error: Mapped[str]
