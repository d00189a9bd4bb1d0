"""Sending digests by SMTP, exactly once per recipient and period, through the send log.

For each digest: the log entry is written as ``sending`` and committed, then the message is
handed to the SMTP server, then the entry becomes ``sent`` (committed). So:

- a digest whose entry is ``sent`` is never sent again for that period (a second run, a retry,
  two schedulers): it is skipped and reported;
- a digest the server refused or could not take (unreachable, timed out, connection dropped
  before the message was handed over) is retried with backoff, then left ``failed`` and
  reported (exit 1); the next run sends it;
- a digest whose entry stayed ``sending`` (the process died, or the connection was lost after
  the whole message was handed over and before the server said it took it) may or may not have
  arrived: it is never resent by itself. ``workplan digest --status`` reports it as needing a
  decision, which a person makes with ``--resend-stale`` (it did not arrive) or ``--mark-sent``
  (it did).

The period is the ISO week of the as-of day in the group's time zone (``Digest.period``): a
weekly digest, whatever day of the week it is scheduled on, goes out once per week.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import changes as changes_mod
from . import queries, reporting, reports
from .db import session_scope
from .errors import ConfigError, UsageError, WorkplanError
from .i18n import _, language, ngettext
from .models import DigestSend
from .planning import digest_period
from .timeutil import from_utc_naive, to_utc_naive

if TYPE_CHECKING:
    from .config import Settings
    from .queries import ReadContext
    from .reports import Digest, PartyRef

log = logging.getLogger("workplan.mail")

PASSWORD_ENV = "WORKPLAN_SMTP_PASSWORD"
# a `sending` entry younger than this may belong to a run still at work (another scheduler);
# an older one was interrupted and needs a person's decision
STALE_AFTER = timedelta(minutes=15)

_ADDRESS_RE = re.compile(r"^[^@\s<>\",;:()\[\]\\]+@[^@\s<>\",;:()\[\]\\]+\.[^@\s<>\",;:()\[\]\\]+$")


class SendFailed(WorkplanError):
    """At least one digest could not be sent, or needs a decision; the others were."""

    exit_code = 1


# ---------------------------------------------------------------------------
# what goes into headers and the envelope


def check_address(address: str, whose: str) -> str:
    """An address that can go into a header and the SMTP envelope, or a UsageError."""
    if any(ord(ch) < 32 or ch == "\x7f" for ch in address) or not _ADDRESS_RE.match(address):
        raise UsageError(_("{whose}: {address!r} is not an email address that can be sent to").format(
            whose=whose, address=address))
    return address


def check_sender(configured: str) -> str:
    """``smtp.from`` is either ``x@y.org`` or ``Name <x@y.org>``, on one line."""
    if any(ord(ch) < 32 or ch == "\x7f" for ch in configured):
        raise ConfigError(_("smtp.from contains a line break or control character, which could inject a header"))
    _name, addr = parseaddr(configured)
    check_address(addr if "<" in configured else configured, "smtp.from")
    return configured


def envelope_sender(sender: str) -> str:
    return parseaddr(sender)[1] or sender


def check_message(msg: EmailMessage) -> None:
    """Last line of defence: no header of the finished message holds a bare line break."""
    for name, value in msg.items():
        if "\r" in str(value) or "\n" in str(value):
            raise UsageError(_("the {name} header of the digest would contain a line break; refusing to send it")
                             .format(name=name))


# ---------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # none | starttls | ssl
    user: str
    password: str
    timeout: float
    attempts: int
    retry_delay: float

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> SmtpSettings:
        user = settings.get("smtp.user")
        password = environ.get(PASSWORD_ENV, "")
        if user and not password:
            raise ConfigError(_("smtp.user is set to {user!r} but {variable} is empty; "
                                "the SMTP password is read only from that environment variable")
                              .format(user=user, variable=PASSWORD_ENV))
        try:
            timeout = float(settings.get("smtp.timeout"))
            delay = float(settings.get("smtp.retry_delay"))
        except ValueError:
            raise ConfigError(_("smtp.timeout and smtp.retry_delay must be numbers of seconds")) from None
        attempts = settings.int("smtp.attempts")
        if timeout <= 0 or delay < 0 or attempts < 1:
            raise ConfigError(_("smtp.timeout must be above 0, smtp.retry_delay 0 or more, smtp.attempts 1 or more"))
        return cls(settings.get("smtp.host"), settings.int("smtp.port"), settings.get("smtp.security"), user,
                   password, timeout, attempts, delay)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class _Failure(Exception):
    """One failed attempt. ``uncertain``: the whole message was handed over and no answer came,
    so it may have been delivered. ``final``: trying again will not help (a 5xx answer)."""

    def __init__(self, reason: str, *, uncertain: bool = False, final: bool = False, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.uncertain, self.final, self.fatal = reason, uncertain, final, fatal
        self.attempts = 1


SendFailure = _Failure  # what Mailer.send raises, for the other senders (workplan.inbox)


def _mark_payload(conn: Any, data: Any) -> None:
    if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
        conn.payload_sent = True


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP that notes when the end of a message (CRLF.CRLF) was handed over."""

    payload_sent = False

    def send(self, s: Any) -> None:
        super().send(s)
        _mark_payload(self, s)


class _SMTPSSL(smtplib.SMTP_SSL):
    payload_sent = False

    def send(self, s: Any) -> None:
        super().send(s)
        _mark_payload(self, s)


def _code_failure(code: int, text: Any, what: str) -> _Failure:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    words = " ".join(words.split())
    return _Failure(_("the server refused {what} ({code} {words})").format(what=what, code=code, words=words),
                    final=code >= 500)


class Mailer:
    """One SMTP connection reused across a batch, reopened after a failure."""

    def __init__(self, smtp: SmtpSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.smtp, self.sleep = smtp, sleep
        self._conn: _SMTP | _SMTPSSL | None = None

    def _connect(self) -> _SMTP | _SMTPSSL:
        s = self.smtp
        context = ssl.create_default_context()
        conn: _SMTP | _SMTPSSL
        if s.security == "ssl":
            conn = _SMTPSSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            conn = _SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.user:
                conn.login(s.user, s.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _attempt(self, msg: bytes, sender: str, to: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.payload_sent = False
            return self._conn.sendmail(sender, list(to), msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Failure(_("the server at {server} refused the login of {user!r} ({code})").format(
                server=self.smtp.where, user=self.smtp.user, code=exc.smtp_code), final=True, fatal=True) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _Failure(_("the server at {server} does not support what smtp.security or "
                             "smtp.user ask for ({error})").format(server=self.smtp.where, error=exc),
                           final=True, fatal=True) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _text in exc.recipients.values()]
            first = next(iter(exc.recipients.values()))
            failure = _code_failure(first[0], first[1], _("every recipient"))
            failure.final = all(c >= 500 for c in codes)
            raise failure from None
        except smtplib.SMTPSenderRefused as exc:
            raise _code_failure(exc.smtp_code, exc.smtp_error, _("the sender {sender}").format(sender=exc.sender)) from None
        except smtplib.SMTPResponseException as exc:
            # an answer after the message was handed over is still an answer: it was not taken
            raise _code_failure(exc.smtp_code, exc.smtp_error, _("the message")) from None
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise _Failure(_network_reason(exc, self.smtp), final=True, fatal=True) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            uncertain = self._conn is not None and self._conn.payload_sent
            self._drop()
            reason = _network_reason(exc, self.smtp)
            if uncertain:
                reason += " after the whole message was handed over, so it may have been delivered"
            raise _Failure(reason, uncertain=uncertain) from None
        except smtplib.SMTPException as exc:
            self._drop()
            raise _Failure(_("SMTP error with {server}: {error}").format(server=self.smtp.where, error=exc)) from None

    def send(self, msg: bytes, sender: str, to: Sequence[str]) -> tuple[int, dict[str, tuple[int, bytes]]]:
        """Send with retries; returns (attempts made, recipients the server refused while
        taking the message for the others). Raises _Failure when every attempt failed."""
        for attempt in range(1, self.smtp.attempts + 1):
            try:
                return attempt, self._attempt(msg, sender, to)
            except _Failure as failure:
                self._drop()
                failure.attempts = attempt
                if failure.uncertain or failure.final or attempt == self.smtp.attempts:
                    raise
                delay = self.smtp.retry_delay * 2 ** (attempt - 1)
                log.info("attempt %d failed (%s); next in %.1f s", attempt, failure.reason, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")


def _network_reason(exc: BaseException, smtp: SmtpSettings) -> str:
    # smtplib turns a timeout while reading an answer into SMTPServerDisconnected
    if isinstance(exc, TimeoutError | socket.timeout) or isinstance(exc.__context__, TimeoutError | socket.timeout):
        return _("the SMTP server at {server} did not answer within {seconds} s").format(
            server=smtp.where, seconds=f"{smtp.timeout:g}")
    if isinstance(exc, ConnectionRefusedError):
        return _("the SMTP server at {server} refused the connection").format(server=smtp.where)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _("the SMTP server at {server} closed the connection").format(server=smtp.where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("the SMTP server at {server} did not present a certificate this machine trusts ({error})").format(
            server=smtp.where, error=exc.verify_message or exc.reason)
    if isinstance(exc, ssl.SSLError):
        return _("TLS with the SMTP server at {server} failed ({error})").format(
            server=smtp.where, error=exc.reason or exc)
    if isinstance(exc, socket.gaierror):
        return _("the SMTP host {host!r} is unknown").format(host=smtp.host)
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _("cannot talk to the SMTP server at {server} ({error})").format(server=smtp.where, error=detail)


# ---------------------------------------------------------------------------
# digests with what changed since the last one


@dataclass
class Prepared:
    digest: Digest
    snapshot: changes_mod.Snapshot
    lang: str = "en"  # the language the digest was built in, and is rendered in


def prepare(session: Session, ctx: ReadContext, who: Sequence[PartyRef],
            explicit: str | None = None) -> list[Prepared]:
    """The digests of *who*, each in its party's language (or *explicit*) with the snapshot of
    what it says and, when a digest of an earlier period was sent to that party, what changed since."""
    built = reports.digests_by_language(session, ctx, who, explicit)
    langs = {d.party.id: lang for lang, d in built}
    digests = [d for _lang, d in built]
    wide = any(p.kind == "secretariat" for p in who)
    if wide or len(who) > 1:
        rows = queries.assignment_rows(session, ctx)
    else:
        rows = queries.assignment_rows(session, ctx, queries.Filters(owner=who[0].id))
    by_party: dict[str, list[queries.Row]] = {}
    for row in rows:
        by_party.setdefault(row.party, []).append(row)
    # the last digest sent to each party before this period (one query for the batch; the
    # snapshots of older ones are not loaded)
    period = digests[0].period if digests else ""
    latest = (select(DigestSend.party_id, func.max(DigestSend.period).label("period"))
              .where(DigestSend.party_id.in_([d.party.id for d in digests]), DigestSend.status == "sent",
                     DigestSend.period < period)
              .group_by(DigestSend.party_id).subquery())
    previous_of = {row.party_id: row for row in session.scalars(
        select(DigestSend).join(latest, (DigestSend.party_id == latest.c.party_id)
                                & (DigestSend.period == latest.c.period)))}
    out = []
    for digest in digests:
        mine = rows if digest.group_wide else by_party.get(digest.party.id, [])
        snap = changes_mod.snapshot(mine)
        previous = previous_of.get(digest.party.id)
        if previous is not None:
            since = from_utc_naive(previous.as_of, ctx.tz)
            with language(langs[digest.party.id]):
                digest.changes = changes_mod.compare(previous.snapshot or {}, snap, since, previous.period)
            _reported(session, ctx, digest.changes, previous.as_of, snap,
                      None if digest.group_wide else [digest.party.id])
        out.append(Prepared(digest, snap, langs[digest.party.id]))
    return out


def _reported(session: Session, ctx: ReadContext, changes: changes_mod.Changes, since: datetime,
              snap: changes_mod.Snapshot, parties: list[str] | None) -> None:
    """What the focal points reported themselves since the last digest (all of them for the
    secretariat, its own for a party), and for the secretariat the replies it has to look at."""
    for action, party, occurrence, status, by, origin, note in queries.reported_since(session, ctx, since, parties):
        title = str(snap.get(changes_mod.key(action, party, occurrence), {}).get("t", action))
        changes.reported.append(changes_mod.Reported(action, title, party, occurrence, status, by, origin, note))
    if parties is None:
        changes.held_replies = queries.held_replies_since(session, since)


def period_of(ctx: ReadContext) -> str:
    """The period a digest counts in (:func:`planning.digest_period`) as of ``ctx``."""
    return digest_period(ctx.as_of_day)


def plan(session: Session, ctx: ReadContext, who: Sequence[PartyRef],
         explicit: str | None = None) -> tuple[list[Prepared], list[Outcome]]:
    """The digests still to send this period, prepared; and the outcomes of those already sent,
    which are neither built nor rendered again (a second run costs one query)."""
    period = period_of(ctx)
    sent = {row.party_id: row for row in session.scalars(
        select(DigestSend).where(DigestSend.period == period, DigestSend.status == "sent",
                                 DigestSend.party_id.in_([p.id for p in who])))}
    skipped = [Outcome(p.id, period, "skipped",
                       _("already sent for {period} on {moment}").format(
                           period=period, moment=f"{sent[p.id].sent_at or sent[p.id].updated_at:%Y-%m-%d %H:%M} UTC"),
                       tuple(sent[p.id].recipients or ()))
               for p in who if p.id in sent]
    paused = {pid: pref for pid, pref in reporting.preferences(session, [p.id for p in who]).items()
              if pref.digest_paused}
    skipped += [Outcome(p.id, period, "paused",
                        _("paused on {day} ({by}); `workplan report resume {party}` sends it again").format(
                            day=f"{paused[p.id].updated_at:%Y-%m-%d}", by=paused[p.id].updated_by, party=p.id),
                        p.emails)
                for p in who if p.id in paused and p.id not in sent]
    todo = [p for p in who if p.id not in sent and p.id not in paused]
    return (prepare(session, ctx, todo, explicit) if todo else []), skipped


# ---------------------------------------------------------------------------
# the send log


@dataclass
class Outcome:
    party: str
    period: str
    status: str  # sent | skipped | failed | unconfirmed | in progress | not attempted
    detail: str
    to: tuple[str, ...] = ()

    @property
    def trouble(self) -> bool:
        return self.status in ("failed", "unconfirmed", "not attempted")


def _claim(session: Session, prepared: Prepared, msg: EmailMessage, to: Sequence[str], now: datetime,
           resend_stale: bool) -> tuple[str, DigestSend | None]:
    """Take the log entry for this digest: ('go', row) to send it, or why not."""
    d = prepared.digest
    query = select(DigestSend).where(DigestSend.party_id == d.party.id, DigestSend.period == d.period)
    row = session.scalars(query.with_for_update()).first()
    fields = dict(status="sending", recipients=list(to), message_id=str(msg["Message-ID"]),
                  subject=str(msg["Subject"]), as_of=to_utc_naive(d.as_of), snapshot=prepared.snapshot,
                  started_at=now, updated_at=now, sent_at=None, error="")
    if row is None:
        row = DigestSend(party_id=d.party.id, period=d.period, attempts=0, **fields)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another run claimed it between our read and our write
            session.rollback()
            return "in progress", None
        return "go", row
    if row.status == "sent":
        return "sent", row
    if row.status == "sending" and not resend_stale:
        return ("unconfirmed" if _stale(row, now) else "in progress"), row
    # failed, or a stale `sending` a person decided to send again: only if nobody changed it meanwhile
    done = session.execute(update(DigestSend).where(DigestSend.id == row.id, DigestSend.status == row.status,
                                                   DigestSend.started_at == row.started_at).values(**fields))
    session.commit()
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return "in progress", None
    return "go", row


def _stale(row: DigestSend, now: datetime) -> bool:
    """A `sending` entry no run is working on: one whose run recorded why it could not confirm
    it, or one older than any run takes (the run died)."""
    return row.status == "sending" and (bool(row.error) or now - row.started_at >= STALE_AFTER)


def _record(engine: Engine, url: str, row_id: int, status: str, attempts: int, error: str, now: datetime) -> None:
    with session_scope(engine, url, write=True) as session:
        row = session.get(DigestSend, row_id)
        assert row is not None
        row.status, row.error, row.updated_at = status, error, now
        row.attempts = (row.attempts or 0) + attempts
        if status == "sent":
            row.sent_at = now
        session.commit()


def send_digests(engine: Engine, url: str, prepared: Sequence[Prepared],
                 build: Callable[[Digest], EmailMessage], sender: str, smtp: SmtpSettings,
                 now: Callable[[], datetime], *, resend_stale: bool = False,
                 sleep: Callable[[float], None] = time.sleep,
                 report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Send each prepared digest at most once for its period; one outcome per digest."""
    check_sender(sender)
    mailer = Mailer(smtp, sleep)
    outcomes: list[Outcome] = []
    stop: str | None = None  # why the rest of the batch is not attempted

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if report is not None:
            report(outcome)

    try:
        for item in prepared:
            d = item.digest
            try:
                to = tuple(check_address(a, _("party {party}").format(party=d.party.id))
                           for a in (d.party.emails or (envelope_sender(sender),)))
            except UsageError as exc:  # the database holds what the actions file would refuse
                done(Outcome(d.party.id, d.period, "failed", _("{error}; nothing was sent to it").format(error=exc)))
                continue
            if stop is not None:
                done(Outcome(d.party.id, d.period, "not attempted", stop, to))
                continue
            msg = build(d)
            check_message(msg)
            moment = to_utc_naive(now())
            with session_scope(engine, url, write=True) as session:
                verdict, row = _claim(session, item, msg, to, moment, resend_stale)
                row_id = row.id if row is not None else None
                when = row.sent_at if row is not None and verdict == "sent" else (row.started_at if row else None)
            if verdict != "go":
                done(_not_sent(d, verdict, when, to))
                continue
            assert row_id is not None
            try:
                attempts, refused = mailer.send(msg.as_bytes(), envelope_sender(sender), to)
            except _Failure as failure:
                attempts = failure.attempts
                if failure.uncertain:
                    # leave it `sending`: it may have arrived, so only a person may send it again
                    _record(engine, url, row_id, "sending", attempts, failure.reason, to_utc_naive(now()))
                    done(Outcome(d.party.id, d.period, "unconfirmed",
                                 _("{reason}; not sent again by itself: check whether it arrived, then "
                                   "run `workplan digest --party {party} --send --resend-stale` or `--mark-sent`")
                                 .format(reason=failure.reason, party=d.party.id),
                                 to))
                    stop = _("left for the next run after the connection was lost mid-message")
                    continue
                _record(engine, url, row_id, "failed", attempts, failure.reason, to_utc_naive(now()))
                tries = ngettext("after {count} attempt", "after {count} attempts", attempts).format(count=attempts)
                done(Outcome(d.party.id, d.period, "failed", _("{reason} ({tries}); the next run sends it").format(
                    reason=failure.reason, tries=tries), to))
                if failure.fatal or not failure.final:
                    # the server is unreachable or refuses us altogether: keep the others for the next run
                    stop = _("left for the next run: {reason}").format(reason=failure.reason)
                continue
            note = ""
            if refused:
                note = _("; refused by the server: {addresses}").format(addresses=", ".join(sorted(refused)))
            _record(engine, url, row_id, "sent", attempts, note.lstrip("; "), to_utc_naive(now()))
            done(Outcome(d.party.id, d.period, "sent", _("to {addresses}").format(addresses=", ".join(to)) + note, to))
    finally:
        mailer.close()
    return outcomes


def _not_sent(d: Digest, verdict: str, when: datetime | None, to: Sequence[str]) -> Outcome:
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else _("just now")
    if verdict == "sent":
        return Outcome(d.party.id, d.period, "skipped",
                       _("already sent for {period} on {moment}").format(period=d.period, moment=stamp), tuple(to))
    if verdict == "unconfirmed":
        return Outcome(d.party.id, d.period, "unconfirmed",
                       _("a send begun {moment} was never confirmed, so it may or may not have arrived; "
                         "check, then run `workplan digest --party {party} --send --resend-stale` "
                         "or `workplan digest --party {party} --mark-sent`").format(moment=stamp, party=d.party.id),
                       tuple(to))
    return Outcome(d.party.id, d.period, "in progress",
                   _("another run began sending it {moment}").format(moment=stamp), tuple(to))


# ---------------------------------------------------------------------------
# reading and resolving the log


@dataclass
class LogLine:
    party: str
    period: str
    status: str  # sent | failed | sending | unconfirmed | not sent
    to: list[str]
    attempts: int
    started_at: datetime | None
    sent_at: datetime | None
    error: str
    decision_needed: bool
    preference: reporting.Preference | None = None  # what the party chose (report page, unsubscribe) or was set


def status(session: Session, period: str, who: Sequence[PartyRef], now: datetime) -> list[LogLine]:
    """Every recipient's entry for *period* (a recipient without one: ``not sent``), and entries
    of parties that are no longer recipients."""
    rows = {r.party_id: r for r in session.scalars(select(DigestSend).where(DigestSend.period == period))}
    prefs = reporting.preferences(session)
    out = []
    moment = to_utc_naive(now)
    for pid in [p.id for p in who] + sorted(set(rows) - {p.id for p in who}):
        row = rows.get(pid)
        if row is None:
            out.append(LogLine(pid, period, "paused" if pid in prefs and prefs[pid].digest_paused else "not sent",
                               [], 0, None, None, "", False, prefs.get(pid)))
            continue
        stale = _stale(row, moment)
        word = "unconfirmed" if stale else row.status
        out.append(LogLine(pid, period, word, list(row.recipients or []), row.attempts, row.started_at,
                           row.sent_at, row.error, stale, prefs.get(pid)))
    return out


def mark_sent(session: Session, period: str, parties: Sequence[str], now: datetime) -> list[str]:
    """A person checked that the unconfirmed digests arrived: record them as sent."""
    moment = to_utc_naive(now)
    marked = []
    for row in session.scalars(select(DigestSend).where(DigestSend.period == period,
                                                        DigestSend.party_id.in_(list(parties)),
                                                        DigestSend.status == "sending").with_for_update()):
        row.status, row.sent_at, row.updated_at = "sent", moment, moment
        row.error = (row.error + "; " if row.error else "") + "marked as sent by hand"
        marked.append(row.party_id)
    session.commit()
    return sorted(marked)


def deliver(engine: Engine, settings: Settings, prepared: Sequence[Prepared], now: Callable[[], datetime], *,
            resend_stale: bool = False, report: Callable[[Outcome], None] | None = None,
            environ: Mapping[str, str] | None = None) -> list[Outcome]:
    """Send prepared digests with the project's settings: SMTP, sender, templates."""
    import os

    from .render.digest import build_message, sender_address
    from .templating import Templates

    if not prepared:
        return []
    smtp = SmtpSettings.from_settings(settings, os.environ if environ is None else environ)
    templates = Templates(settings.templates_dir)
    sender = check_sender(sender_address(settings.get("smtp.from"), prepared[0].digest))
    langs = {p.digest.party.id: p.lang for p in prepared}

    def build(d: Digest) -> EmailMessage:
        with language(langs[d.party.id]):
            return build_message(d, templates, sender)

    return send_digests(engine, settings.database_url, prepared, build,
                        sender, smtp, now, resend_stale=resend_stale, report=report)
