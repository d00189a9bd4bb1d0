"""The database's tables, as SQLAlchemy Core declares them.

Times are naive UTC (``DateTime`` without zone) so that SQLite and PostgreSQL
store and compare them the same way; dates are local dates in the group's zone.
Statuses change only through ``event`` rows (append-only); the ``status``
column of ``assignment`` is a cache of the latest event, kept with a
``version`` for optimistic locking.

The typed ORM classes of :mod:`workplan.models` are mapped onto these same tables. Read
commands query the tables directly and never import the ORM: on a 10,000-action workplan,
importing ``sqlalchemy.orm`` and configuring the mapped classes took a fifth of an overdue
listing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData()


meta = Table(
    "meta", metadata,  # project-wide facts: the group, the hash of the last synced file, the data revision
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

party = Table(
    "party", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("emails", JSON, nullable=False),
    Column("lang", String(8), nullable=False, default="", server_default=""),
    Column("names", JSON),  # the name by language, when given so
    Column("position", Integer, nullable=False, default=0),
    Column("content_hash", String(64), nullable=False),
    Column("withdrawn_at", DateTime),
)

set_member = Table(
    "set_member", metadata,
    Column("set_name", String(64), primary_key=True),
    Column("party_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
)

meeting = Table(
    "meeting", metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("start", String(40), nullable=False),  # as written: 2016-09, 2016-07-13, or ISO datetime
    Column("start_day", Date, nullable=False),
    Column("end", String(40)),
    Column("end_day", Date, nullable=False),  # last local day the meeting may cover
    Column("precision", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("location", Text, nullable=False, default=""),
    Column("url", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # field → language → text when the actions file gives several; ``title`` keeps the first language
    Column("translations", JSON),
    Column("position", Integer, nullable=False, default=0),
    Column("sequence", Integer, nullable=False, default=0),
    # another body's meeting (``body:``; "" for the group's own): never counted in its cadence
    Column("body", String(120), nullable=False, default="", server_default=""),
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("withdrawn_at", DateTime),
)

cadence_rule = Table(
    "cadence_rule", metadata,
    Column("kind", String(32), primary_key=True),
    Column("per", String(16), nullable=False),
    Column("at_least", Integer, nullable=False),
    Column("start", Date, nullable=False),
    Column("report", Boolean, nullable=False, default=True, server_default=true()),
)

action = Table(
    "action", metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("translations", JSON),
    Column("theme", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False),
    Column("owners", JSON, nullable=False),  # as written: party ids and set names
    Column("with_parties", JSON, nullable=False, key="with_"),
    Column("source_meeting", String(64), nullable=False, default=""),
    Column("source_ref", Text, nullable=False, default=""),
    Column("source_text", Text, nullable=False, default=""),
    Column("due_spec", JSON, nullable=False),
    Column("recurrence", JSON),
    # the resolved deadline of a non-recurring action (the same for each of its assignments)
    Column("due_date", Date),
    Column("due_at", DateTime),
    Column("due_kind", String(16), nullable=False),
    Column("due_meeting", String(64)),
    Column("visibility", String(16), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("sequence", Integer, nullable=False, default=0),
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("withdrawn_at", DateTime),
    Column("conclusion_id", String(64)),  # the conclusion it carries out (``conclusion:``)
    Column("requested_by", JSON),  # who asked (``requested_by:``), as written; None when nobody is named
)

conclusion = Table(
    "conclusion", metadata,  # a paragraph a meeting concluded, task or not (``conclusions:``)
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # agreed, decided, took-note, requested, recommended…
    Column("meeting", String(64), nullable=False),
    Column("ref", Text, nullable=False, default=""),
    Column("text", Text, nullable=False),  # verbatim
    Column("requested_by", JSON, nullable=False),  # as written: party ids and set names
    Column("addressed_to", JSON, nullable=False),
    Column("position", Integer, nullable=False, default=0),  # its place in the file: document order
    Column("content_hash", String(64), nullable=False),
    Column("withdrawn_at", DateTime),
)

role = Table(
    "role", metadata,  # a role that rotates (``roles:``); its entry in ``party`` has kind "role"
    Column("id", String(64), primary_key=True),
    Column("holders", JSON, nullable=False),  # [{party, from, to}] as written, ISO days; [] when derived
    Column("derived_from", String(64)),  # the role whose previous, current and next holders hold it
)

dependency = Table(
    "dependency", metadata,
    Column("action_id", String(64), ForeignKey("action.id"), primary_key=True),
    Column("depends_on_id", String(64), ForeignKey("action.id"), primary_key=True),
)

participant = Table(
    "participant", metadata,  # a party that takes part in an action without owning it (``with:``)
    Column("action_id", String(64), ForeignKey("action.id"), primary_key=True),
    Column("party_id", String(64), primary_key=True),
)

assignment = Table(
    "assignment", metadata,  # one (action, party) pair, or one occurrence of a recurring action for a party
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", String(64), ForeignKey("action.id"), nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("occurrence", String(10), nullable=False, default=""),  # '' or the occurrence's ISO date
    Column("due_date", Date),
    Column("due_at", DateTime),
    Column("due_kind", String(16), nullable=False),
    Column("due_meeting", String(64)),
    Column("status", String(16), nullable=False, default="open"),
    Column("status_at", DateTime),
    Column("version", Integer, nullable=False, default=0),
    Column("sequence", Integer, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False),
    Column("withdrawn_at", DateTime),
    UniqueConstraint("action_id", "party_id", "occurrence", name="uq_assignment"),
    Index("ix_assignment_party", "party_id"),
    Index("ix_assignment_due", "due_date"),
)

event = Table(
    "event", metadata,  # a status change: never updated, never deleted
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment_id", Integer, ForeignKey("assignment.id"), nullable=False),
    Column("action_id", String(64), nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("occurrence", String(10), nullable=False, default=""),
    Column("occurred_at", DateTime, nullable=False),  # when it happened (--on)
    Column("recorded_at", DateTime, nullable=False),  # when it was written down
    Column("by", Text, nullable=False, default=""),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("origin", String(32), nullable=False),
    Column("fact_key", String(200)),
    Column("evidence", Text, nullable=False, default=""),  # a link a focal point gave with the report
    # who held the role that owns the assignment on the day of the change ("PA", "CR PA GT"), "" when
    # nobody did; None when the owner is not a role
    Column("held_by", String(200)),
    Index("ix_event_assignment_time", "assignment_id", "occurred_at", "id"),
    Index("ix_event_action", "action_id"),
    Index("ix_event_fact", "fact_key"),
)

feed_token = Table(
    "feed_token", metadata,
    Column("token_hash", String(64), primary_key=True),  # hex sha256 of the token
    Column("party_id", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Index("ix_feed_token_party", "party_id"),
)

digest_send = Table(
    "digest_send", metadata,  # the send log (see models.DigestSend)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("party_id", String(64), nullable=False),
    Column("period", String(16), nullable=False),  # the ISO week of the as-of day, 2019-W03
    Column("status", String(16), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("message_id", Text, nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("as_of", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=False, default=""),
    Column("snapshot", JSON, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("party_id", "period", name="uq_digest_send"),
)

# the loop back from the focal points (issue 20)

report_key = Table(
    "report_key", metadata,  # one per party and digest: the report page's link and the reply address's tag
    Column("key_hash", String(64), primary_key=True),  # hex sha256 of the key; the key itself is only in the email
    Column("party_id", String(64), nullable=False),
    Column("period", String(16), nullable=False, default=""),  # the digest's period
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Index("ix_report_key_party", "party_id"),
)

report_item = Table(
    "report_item", metadata,  # the numbers [1], [2]… a digest gave the items its party owns
    Column("key_hash", String(64), ForeignKey("report_key.key_hash"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("action_id", String(64), nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("occurrence", String(10), nullable=False, default=""),
)

party_preference = Table(
    "party_preference", metadata,  # what a party chose (report page, unsubscribe) or the secretariat set
    Column("party_id", String(64), primary_key=True),
    Column("digest_paused", Boolean, nullable=False, default=False),
    Column("lang", String(8), nullable=False, default=""),  # '' = as the actions file says
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", String(32), nullable=False),  # web, unsubscribe, email, secretariat
)

inbox_message = Table(
    "inbox_message", metadata,  # every reply received, once (its Message-ID)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(998), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("sender", Text, nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("party_id", String(64)),  # the party its tag named, when it named one
    Column("status", String(16), nullable=False),  # applied, partly, nothing, held, ignored
    Column("reason", Text, nullable=False, default=""),  # why held, ignored or nothing applied
    Column("applied", JSON, nullable=False),  # [{number, action, occurrence, title, status, line}]
    Column("not_understood", JSON, nullable=False),  # [{line, reason}]: not understood or refused
    Column("raw", Text),  # kept for the secretariat when held
    # the confirmation to the sender: '' none owed (held, ignored), pending, sending, sent
    Column("confirmation", String(16), nullable=False, default=""),
    Column("confirmed_at", DateTime),  # when the SMTP server took it
    Column("confirm_error", Text, nullable=False, default=""),  # why the last attempt failed
    UniqueConstraint("message_id", name="uq_inbox_message_id"),
    Index("ix_inbox_message_received", "received_at"),
)
