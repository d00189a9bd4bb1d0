"""Replies to digests by email: each message recorded once, what it applied, and the sender told.

:func:`record` handles one raw message in the caller's write transaction: it parses it
(:func:`workplan.replies.parse`), inserts its ``inbox_message`` row keyed by its Message-ID and
applies its commands, each in its own SAVEPOINT, so that a command the rules refuse undoes
nothing else and its sentence goes to the confirmation. A Message-ID already recorded (also by
a concurrent run: the unique constraint decides) applies nothing. So a message is applied
exactly once, whether it came through a pipe (``workplan inbox receive``), through IMAP
(``workplan inbox fetch``), or both, and however often a fetch was interrupted.

What becomes of a message (``inbox_message.status``):

- ``applied``, ``partly``, ``nothing``: it came from one of the addresses of the party whose
  report key tags the address it was sent to; its commands were applied (all, some, none);
- ``held``: it applies nothing and waits for the secretariat (``workplan inbox list``, counted in
  its digest): no key, an unknown, expired or revoked key, or a sender that is not one of the
  key's party's addresses. Its text is kept; its sender is told nothing;
- ``ignored``: a bounce or an automatic reply; recorded so it is not read again, never answered.

The confirmation (``inbox_message.confirmation``): ``pending`` is committed with the row for
``applied``, ``partly`` and ``nothing``; after the commit :func:`send_confirmations` claims it
(``sending``, committed), hands it to the SMTP server, and records ``sent``. A failure the
server reports puts it back to ``pending`` (the next ``inbox receive`` or ``inbox fetch``
sends it), or ``failed`` when trying again cannot help (the address is refused). A crash
after the commit leaves it ``pending``: sent by the next run. Only a connection lost while the
server was taking it leaves it ``sending``: it may have arrived, so it is never sent again by
itself, and ``workplan inbox list`` says so. A confirmation is therefore never sent twice and
never silently lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import planning, replies, reporting
from .db import session_scope
from .errors import WorkplanError
from .i18n import _, language, pick
from .models import Action, InboxMessage, Party
from .timeutil import to_utc_naive

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Settings
    from .views import Confirmation

log = logging.getLogger("workplan.inbox")

STATUSES = ("applied", "partly", "nothing", "held", "ignored")
ANSWERED = ("applied", "partly", "nothing")  # the statuses whose sender gets a confirmation
STDIN_MAX = 32 * 1024 * 1024  # what `inbox receive` reads at most; mail servers refuse larger ones anyway
RAW_MAX = replies.MAX_BYTES  # characters of a held message kept for the secretariat
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_ID_MAX = 250  # a longer Message-ID is stored as its hash (an index entry has a size limit)


@dataclass(frozen=True)
class Handled:
    """What :func:`record` did with one message. ``duplicate``: it was recorded before (at
    ``received_at``), and nothing was applied now."""

    message_id: str
    status: str
    sender: str
    party: str | None
    applied: int
    unapplied: int
    reason: str
    received_at: datetime
    duplicate: bool = False
    row_id: int | None = None


def message_key(message_id: str) -> str:
    """The Message-ID as stored: as written, or its hash when it is too long to index."""
    clean = _clean(message_id)
    return clean if len(clean) <= _ID_MAX else "sha256:" + hashlib.sha256(clean.encode("utf-8")).hexdigest()


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text holds no NUL


def record(session: Session, raw: bytes, now: datetime) -> Handled:
    """Record and apply the message *raw* in *session*'s transaction (the caller commits)."""
    reply = replies.parse(raw)
    key = message_key(reply.message_id)
    earlier = session.scalars(select(InboxMessage).where(InboxMessage.message_id == key)).first()
    if earlier is not None:
        return _duplicate(earlier)
    grant = reporting.resolve(session, reply.token, now) if reply.token else None
    party = session.get(Party, grant.party) if grant is not None else None
    row = InboxMessage(message_id=key, received_at=to_utc_naive(now), sender=_clean(reply.sender)[:998],
                       subject=_clean(reply.subject)[:998], party_id=grant.party if grant else None, status="held",
                       reason="", applied=[], not_understood=[], raw=None, confirmation="", confirmed_at=None,
                       confirm_error="")
    try:
        with session.begin_nested():  # the Message-ID claimed first: a concurrent run's insert fails here
            session.add(row)
            session.flush()
    except IntegrityError:
        earlier = session.scalars(select(InboxMessage).where(InboxMessage.message_id == key)).first()
        if earlier is None:  # pragma: no cover - another constraint: not ours to hide
            raise
        return _duplicate(earlier)
    if reply.automatic:
        row.status, row.reason = "ignored", reply.refusal or ""
    elif grant is None or party is None:
        row.status = "held"
        row.reason = (_("it was not sent to a reply address with a report key, so it names no party")
                      if not reply.token else _("the report key of the address it was sent to is unknown, "
                                                "expired or revoked"))
    elif reply.sender.lower() not in {e.strip().lower() for e in party.emails or ()}:
        row.status = "held"
        row.reason = _("the sender {sender} is not an address of {party}").format(
            sender=reply.sender or _("(none)"), party=party.id)
    else:
        with language(party_language(session, party.id)):
            _apply(session, row, replies.parse(raw), grant, now)  # parsed again: its sentences in the party's language
    if row.status == "held":
        row.raw = _clean(raw.decode("utf-8", "replace"))[:RAW_MAX]
    if row.status in ANSWERED:
        row.confirmation = "pending"
    session.flush()
    return Handled(reply.message_id, row.status, row.sender, row.party_id, len(row.applied), len(row.not_understood),
                   row.reason, now, row_id=row.id)


def _duplicate(row: InboxMessage) -> Handled:
    return Handled(row.message_id, row.status, row.sender, row.party_id, 0, 0, row.reason,
                   row.received_at, duplicate=True, row_id=row.id)


def _apply(session: Session, row: InboxMessage, reply: replies.Reply, grant: reporting.Grant, now: datetime) -> None:
    """The commands of a reply from its party's own address, each in a SAVEPOINT."""
    if reply.refusal is not None:
        row.status, row.reason = "nothing", reply.refusal
        return
    items = reporting.numbered_items(session, grant)
    applied: list[dict[str, Any]] = []
    unapplied = [{"line": line, "reason": _("not understood; write “done 3”, “started 3” or “cannot 3: the reason”")}
                 for line in reply.not_understood]
    for command in reply.commands:
        item = items.get(command.number)
        if item is None:
            unapplied.append({"line": command.line, "reason": _("the digest this reply answers has no item [{number}]")
                              .format(number=command.number)})
            continue
        status = planning.TRANSITIONS[command.verb][0]
        try:
            with session.begin_nested():
                reporting.report(session, grant, item, status, note=command.note, evidence="", on=None,
                                 day_only=False, now=now, origin="email", by=reply.sender)
        except WorkplanError as exc:  # refused by the rules: this command only is undone
            unapplied.append({"line": command.line, "reason": str(exc)})
            continue
        action = session.get(Action, item.action)
        title = pick(action.title, action.translations, "title") if action is not None else item.action
        applied.append({"number": command.number, "action": item.action, "occurrence": item.occurrence,
                        "title": title, "status": status, "line": command.line})
    row.applied, row.not_understood = applied, unapplied
    if applied:
        row.status = "partly" if unapplied else "applied"
    else:
        row.status = "nothing"
        if not unapplied:
            row.reason = _("it has no line such as “done 3”, “started 3” or “cannot 3: the reason”")


def party_language(session: Session, party: str) -> str:
    """The language *party* reads its digest in (its choice, else the actions file's, else the group's)."""
    from .errors import UsageError
    from .queries import group_info
    from .reports import recipients

    try:
        lang = recipients(session, party)[0].lang
    except UsageError:  # withdrawn, or without an address since: the group's language
        lang = ""
    return planning.party_language(None, lang, group_info(session).languages)


# ---------------------------------------------------------------------------
# confirmations


@dataclass(frozen=True)
class Sent:
    """What became of one confirmation: ``sent``, ``pending`` (the next run tries again),
    ``failed`` (never tried again) or ``unconfirmed`` (it may have arrived)."""

    row_id: int
    to: str
    status: str
    detail: str = ""


def confirmation_of(session: Session, row: InboxMessage, domain: str) -> Confirmation:
    """The confirmation of *row*, built in the current language."""
    from .views import Confirmation, ConfirmedItem, UnappliedLine

    party = session.get(Party, row.party_id) if row.party_id else None
    name = pick(party.name, {"name": party.names or {}}, "name") if party is not None else ""
    digest = hashlib.sha256(row.message_id.encode("utf-8")).hexdigest()[:32]
    return Confirmation(
        to=row.sender, subject=row.subject,
        in_reply_to=row.message_id if _MESSAGE_ID.fullmatch(row.message_id) else "",  # not a hash, nor garbage
        message_id=f"<confirm.{digest}@{domain or 'workplan.invalid'}>", group_name="", party_id=row.party_id or "",
        party_name=name or (row.party_id or ""), status=row.status, reason=row.reason,
        applied=tuple(ConfirmedItem(int(a["number"]), str(a["action"]), str(a.get("occurrence", "")),
                                    str(a.get("title", "")), str(a["status"]), str(a.get("line", "")))
                      for a in row.applied),
        unapplied=tuple(UnappliedLine(str(u["line"]), str(u["reason"])) for u in row.not_understood))


def send_confirmations(engine: Engine, url: str, settings: Settings, now: Callable[[], datetime], *,
                       environ: Mapping[str, str] | None = None,
                       sleep: Callable[[float], None] = time.sleep) -> list[Sent]:
    """Send every confirmation that is owed (``pending``), oldest first, each at most once."""
    import os

    from . import mail
    from .queries import group_info
    from .render.confirmation import build_confirmation
    from .render.digest import default_sender
    from .templating import Templates

    with session_scope(engine, url) as session:
        ids = list(session.scalars(select(InboxMessage.id).where(InboxMessage.confirmation == "pending")
                                  .order_by(InboxMessage.received_at, InboxMessage.id)))
        if not ids:
            return []
        group = group_info(session)
        secretariat = next((p.emails[0] for p in session.scalars(select(Party).order_by(Party.position))
                            if p.kind == "secretariat" and p.emails), "")
    sender = mail.check_sender(default_sender(settings.get("smtp.from"), secretariat, group.domain))
    smtp = mail.SmtpSettings.from_settings(settings, os.environ if environ is None else environ)
    # one attempt each: what fails waits for the next run instead of holding up the mail server's pipe
    mailer = mail.Mailer(dataclasses.replace(smtp, attempts=1), sleep)
    templates = Templates(settings.templates_dir)
    out: list[Sent] = []
    try:
        for row_id in ids:
            with session_scope(engine, url, write=True) as session:
                claimed = session.execute(update(InboxMessage).where(
                    InboxMessage.id == row_id, InboxMessage.confirmation == "pending").values(
                    confirmation="sending", confirm_error="").execution_options(synchronize_session=False))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another run took it
                    session.rollback()
                    continue
                row = session.get(InboxMessage, row_id)
                assert row is not None and row.party_id is not None
                with language(party_language(session, row.party_id)):
                    group_name = group_info(session).name  # in the party's language
                    confirmation = dataclasses.replace(confirmation_of(session, row, group.domain),
                                                       group_name=group_name)
                    try:
                        to = mail.check_address(row.sender, _("the sender of the reply"))
                        msg = build_confirmation(confirmation, templates, sender, group_name, now())
                        mail.check_message(msg)
                    except Exception as exc:  # noqa: BLE001  # what the reply's headers held cannot be written back
                        row.confirmation, row.confirm_error = "failed", str(exc) or type(exc).__name__
                        session.commit()
                        out.append(Sent(row_id, row.sender, "failed", str(exc)))
                        continue
                session.commit()
            status, detail, stop = _send(mailer, msg.as_bytes(), mail.envelope_sender(sender), to)
            with session_scope(engine, url, write=True) as session:
                row = session.get(InboxMessage, row_id)
                assert row is not None
                row.confirmation, row.confirm_error = ("sending" if status == "unconfirmed" else status), detail
                if status == "sent":
                    row.confirmed_at = to_utc_naive(now())
                session.commit()
            out.append(Sent(row_id, to, status, detail))
            if stop:  # the server is unreachable or lost the connection: the rest wait for the next run
                break
    finally:
        mailer.close()
    return out


def _send(mailer: Any, msg: bytes, sender: str, to: str) -> tuple[str, str, bool]:
    """(status, why, stop the batch) of one confirmation handed to the SMTP server."""
    from .mail import SendFailure

    try:
        _attempts, refused = mailer.send(msg, sender, [to])
    except (UnicodeError, ValueError) as exc:  # an address the server cannot take (no SMTPUTF8): never will
        return "failed", str(exc), False
    except SendFailure as failure:
        if failure.uncertain:
            return "unconfirmed", failure.reason, True
        if failure.final and not failure.fatal:
            return "failed", failure.reason, False
        return "pending", failure.reason, True
    if refused:
        return "failed", ", ".join(sorted(refused)), False
    return "sent", "", False


# ---------------------------------------------------------------------------
# the list


@dataclass(frozen=True)
class InboxLine:
    received_at: datetime  # naive UTC
    sender: str
    party: str | None
    status: str
    reason: str
    subject: str
    message_id: str
    applied: tuple[dict[str, Any], ...]
    not_understood: tuple[dict[str, Any], ...]
    confirmation: str
    confirm_error: str
    raw: str | None


def listing(session: Session, everything: bool) -> list[InboxLine]:
    """The held messages (with *everything*, every message recorded), newest first."""
    query = select(InboxMessage).order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
    if not everything:
        query = query.where(InboxMessage.status == "held")
    return [InboxLine(r.received_at, r.sender, r.party_id, r.status, r.reason, r.subject, r.message_id,
                      tuple(r.applied or ()), tuple(r.not_understood or ()), r.confirmation, r.confirm_error, r.raw)
            for r in session.scalars(query)]


def unsent(session: Session) -> Sequence[tuple[str, int]]:
    """How many confirmations are owed (``pending``) and how many may not have arrived (``sending``)."""
    from sqlalchemy import func

    rows = session.execute(select(InboxMessage.confirmation, func.count()).where(
        InboxMessage.confirmation.in_(("pending", "sending"))).group_by(InboxMessage.confirmation)).all()
    return [(str(c), int(n)) for c, n in rows]
