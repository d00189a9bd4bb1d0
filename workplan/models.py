"""Typed SQLAlchemy models: what the database keeps.

Times are naive UTC (``DateTime`` without zone) so that SQLite and PostgreSQL
store and compare them the same way; dates are local dates in the group's zone.
Statuses change only through :class:`Event` rows (append-only); the ``status``
column of :class:`Assignment` is a cache of the latest event, kept with a
``version`` for optimistic locking.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Meta(Base):
    """Project-wide facts: the group, the hash of the last synced file, the schema version."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Party(Base):
    __tablename__ = "party"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    emails: Mapped[list[str]]
    lang: Mapped[str] = mapped_column(String(8), default="", server_default="")
    names: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the name by language, when given so
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)


class SetMember(Base):
    __tablename__ = "set_member"
    set_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Meeting(Base):
    __tablename__ = "meeting"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    start: Mapped[str] = mapped_column(String(40))  # as written: 2016-09, 2016-07-13, or ISO datetime
    start_day: Mapped[date] = mapped_column(Date)
    end: Mapped[str | None] = mapped_column(String(40))
    end_day: Mapped[date] = mapped_column(Date)  # last local day the meeting may cover
    precision: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    # field → language → text when the actions file gives several; ``title`` keeps the first language
    translations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)


class CadenceRule(Base):
    __tablename__ = "cadence_rule"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    per: Mapped[str] = mapped_column(String(16))
    at_least: Mapped[int] = mapped_column(Integer)
    start: Mapped[date] = mapped_column(Date)
    report: Mapped[bool] = mapped_column(default=True, server_default=true())


class Action(Base):
    __tablename__ = "action"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    translations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    theme: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]]
    owners: Mapped[list[str]]  # as written: party ids and set names
    with_: Mapped[list[str]] = mapped_column("with_parties", JSON)
    source_meeting: Mapped[str] = mapped_column(String(64), default="")
    source_ref: Mapped[str] = mapped_column(Text, default="")
    source_text: Mapped[str] = mapped_column(Text, default="")
    due_spec: Mapped[dict[str, Any]]
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the resolved deadline of a non-recurring action (the same for each of its assignments)
    due_date: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    due_kind: Mapped[str] = mapped_column(String(16))
    due_meeting: Mapped[str | None] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)


class Dependency(Base):
    __tablename__ = "dependency"
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"), primary_key=True)
    depends_on_id: Mapped[str] = mapped_column(ForeignKey("action.id"), primary_key=True)


class Participant(Base):
    """A party that takes part in an action without owning it (``with:``)."""

    __tablename__ = "participant"
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Assignment(Base):
    """One (action, party) pair, or one occurrence of a recurring action for a party."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("action_id", "party_id", "occurrence", name="uq_assignment"),
        Index("ix_assignment_party", "party_id"),
        Index("ix_assignment_due", "due_date"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"))
    party_id: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[str] = mapped_column(String(10), default="")  # '' or the occurrence's ISO date
    due_date: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    due_kind: Mapped[str] = mapped_column(String(16))
    due_meeting: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)


class Event(Base):
    """A status change. Never updated, never deleted."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_assignment_time", "assignment_id", "occurred_at", "id"),
        Index("ix_event_action", "action_id"),
        Index("ix_event_fact", "fact_key"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    action_id: Mapped[str] = mapped_column(String(64))
    party_id: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[str] = mapped_column(String(10), default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime)  # when it happened (--on)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)  # when it was written down
    by: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(32))
    fact_key: Mapped[str | None] = mapped_column(String(200))


class FeedToken(Base):
    """A private feed's secret, kept only as its SHA-256: the token itself is shown once, when
    issued, and a stolen database does not let anyone read the feeds. Revoked tokens stay, dated."""

    __tablename__ = "feed_token"
    __table_args__ = (Index("ix_feed_token_party", "party_id"),)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex sha256 of the token
    party_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
