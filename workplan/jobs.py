"""One function per thing a user does: what a command, a request or a scheduled job runs.

Each takes the :class:`~workplan.project.Project` its front end built, opens the sessions it
needs, and returns plain values for a formatter or a renderer: the command line, the WSGI
application and the scheduler call these, never the layers below them. Heavy imports happen
inside, so that importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from email.message import EmailMessage

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from . import inbox
    from .board import Board
    from .feed_history import FeedHistory
    from .feeds import FeedSet
    from .files import WriteReport
    from .mail import LogLine, Outcome
    from .planning import MoveEffects, PeriodCompliance
    from .project import Project
    from .queries import ActionDetail, LogEntry, MeetingRow, ReadContext, Row
    from .reporting import Grant, Preference
    from .reports import Agenda, ConclusionsReport, Graph, PartyReport
    from .services import Change, SyncReport
    from .spec import Document


def init(directory: Path) -> list[str]:
    """`workplan init`: a new project in *directory*; a line per file written."""
    from .scaffold import scaffold

    return scaffold(directory)


def check(project: Project) -> Document:
    """`workplan check`: the actions file, validated (warnings go to the project's ``warn``)."""
    return project.load_document()


def sync(project: Project) -> SyncReport | None:
    """`workplan sync`: validate, then load the file in one transaction. None when the file
    is the one synced last and nothing would change (found without the ORM or the file reader)."""
    from .db import reading_scope, session_scope
    from .queries import file_digest, up_to_date

    raw = Path(project.settings.actions_file).read_bytes()
    digest = file_digest(raw)
    with reading_scope(project.engine, project.settings.database_url) as conn:
        if up_to_date(conn, digest, project.now()):
            return None
    doc = project.load_document()
    with session_scope(project.engine, project.settings.database_url, write=True) as session:
        return project.load_into(session, doc, digest)


# ---------------------------------------------------------------------------
# listings: list, show, overdue, upcoming, log, meetings (reads only, without the ORM)


def list_assignments(project: Project, *, owner: str | None = None, status: str | None = None,
                     tag: str | None = None, due_before: str | None = None, due_after: str | None = None,
                     as_of: str | None = None) -> list[Row]:
    """`workplan list`: assignments with their derived state, filtered."""
    from . import queries
    from .timeutil import parse_when

    with project.reading() as db:
        ctx = project.read_context(db, as_of)
        if owner:
            queries.require_party(db, owner)
        filters = queries.Filters(
            owner=owner, status=status, tag=tag,
            due_before=parse_when(due_before, ctx.tz).day if due_before else None,
            due_after=parse_when(due_after, ctx.tz).day if due_after else None,
        )
        return queries.assignment_rows(db, ctx, filters)


def show(project: Project, action_id: str, as_of: str | None = None) -> ActionDetail:
    """`workplan show`: one action, its source, deadline, owners, dependencies and assignments."""
    from . import queries

    with project.reading() as db:
        return queries.action_detail(db, project.read_context(db, as_of), action_id)


def overdue(project: Project, owner: str | None = None, as_of: str | None = None) -> list[Row]:
    """`workplan overdue`: most overdue first."""
    from . import queries

    with project.reading() as db:
        if owner:
            queries.require_party(db, owner)
        return queries.overdue(db, project.read_context(db, as_of), owner)


def upcoming(project: Project, days: int, owner: str | None = None, as_of: str | None = None) -> list[Row]:
    """`workplan upcoming`: open assignments due within *days* of the as-of day."""
    from . import queries

    with project.reading() as db:
        if owner:
            queries.require_party(db, owner)
        return queries.upcoming(db, project.read_context(db, as_of, days_ahead=days), days, owner)


def event_log(project: Project, action_id: str | None = None, party: str | None = None,
              as_of: str | None = None) -> list[LogEntry]:
    """`workplan log`: the status changes, oldest first."""
    from . import queries

    with project.reading() as db:
        return queries.event_log(db, project.read_context(db, as_of), action_id, party)


def meetings(project: Project, as_of: str | None = None) -> tuple[list[MeetingRow], list[PeriodCompliance]]:
    """`workplan meetings`: the meetings, and the cadence's verdict per period."""
    from . import queries

    with project.reading() as db:
        ctx = project.read_context(db, as_of)
        return queries.meetings(db, ctx.as_of_day), queries.cadence_compliance(db, ctx)


def meeting_move(project: Project, meeting_id: str, to: str, end: str | None = None,
                 as_of: str | None = None) -> MoveEffects:
    """`workplan meetings move`: what moving a meeting would change, from the actions file alone
    (planning's rules on a copy of the file's objects); writes nothing."""
    from zoneinfo import ZoneInfo

    from .errors import UsageError
    from .planning import move_effects, moved_document
    from .timeutil import parse_as_of, parse_when

    doc = project.load_document(warn=False)  # the file's own warnings are check's and sync's to tell
    tz = ZoneInfo(doc.group.timezone)
    try:
        start, finish = parse_when(to, tz), parse_when(end, tz) if end else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    day = parse_as_of(as_of, tz).date() if as_of else project.now().astimezone(tz).date()
    return move_effects(doc, moved_document(doc, meeting_id, start, finish), day)


# ---------------------------------------------------------------------------
# status changes, documents


def record_status(project: Project, verb: str, action_id: str, *, party: str | None = None,
                  occurrence: str | None = None, on: str | None = None, note: str = "",
                  by: str = "") -> list[Change]:
    """`workplan start|done|waive|cancel|reopen`: one event per assignment changed, in one
    transaction. *on* and *occurrence* as given, read in the group's zone (a day *on* is that
    day's start, and is kept as a day)."""
    from . import services
    from .timeutil import parse_event_moment, parse_when

    with project.session(write=True) as session:
        ctx = project.read_context(session, None)
        now = project.now()
        when = parse_event_moment(on, ctx.tz) if on else None
        day_only = on is not None and parse_when(on, ctx.tz).at is None  # a date, not a moment
        occ = parse_when(occurrence, ctx.tz).day.isoformat() if occurrence else None
        changes: list[Change] = project.write(session, lambda: services.change_status(
            session, verb, action_id, party, occ, when, now, note=note, by=by, day_only=day_only))
        return changes


def agenda(project: Project, which: str, meeting_id: str | None = None, as_of: str | None = None) -> Agenda:
    """`workplan agenda`: the agenda of the meeting *meeting_id*, or of the next one of kind
    *which* (``virtual``, ``face-to-face``, ``next``) or its expected slot."""
    with project.session() as session:
        return agenda_in(session, project.read_context(session, as_of), which, meeting_id)


def conclusions(project: Project, meeting_id: str | None = None, as_of: str | None = None) -> ConclusionsReport:
    """`workplan conclusions`: the follow-up of *meeting_id*'s conclusions (or of every meeting's)."""
    with project.session() as session:
        return conclusions_in(session, project.read_context(session, as_of), meeting_id)


def conclusions_in(session: Session, ctx: ReadContext, meeting_id: str | None = None) -> ConclusionsReport:
    """:func:`conclusions` in a session the caller holds (a server's, at its snapshot's moment)."""
    from . import reports

    return reports.conclusions(session, ctx, meeting_id)


def agenda_in(session: Session, ctx: ReadContext, which: str, meeting_id: str | None = None) -> Agenda:
    """:func:`agenda` in a session the caller holds (the server's, at its snapshot's moment)."""
    from . import reports

    return reports.agenda(session, ctx, "meeting" if meeting_id else which, meeting_id)


def board(session: Session, ctx: ReadContext) -> Board:
    """The server's status board (``GET /``) as of *ctx*, in the session the server holds."""
    from .board import status_board

    return status_board(session, ctx)


def graph(project: Project, as_of: str | None = None, *, everything: bool = False) -> Graph:
    """`workplan graph`: the actions linked by dependencies, each with its state."""
    from . import reports

    with project.session() as session:
        return reports.graph(session, project.read_context(session, as_of), everything=everything)


# ---------------------------------------------------------------------------
# calendars: `workplan calendars`, the scheduler's rebuild of calendars/, the server's feeds


@dataclass(frozen=True)
class Calendars:
    """What every calendar feed is rendered from: the feed set in each language a feed is written
    in, the language of all.ics and meetings.ics (*shared*) and of each party's feed."""

    ctx: ReadContext
    shared: str
    party_langs: dict[str, str]
    sets: dict[str, FeedSet]  # by language, *shared* first

    def files(self, *, todo: bool = False, private: bool = False,
              history: FeedHistory | None = None) -> dict[str, bytes]:
        """Every published feed (file name → bytes): each party's in its language."""
        from .render.ical import render_in_languages

        return render_in_languages(self.sets, self.shared, self.party_langs, todo=todo, private=private,
                                   history=history)


def read_calendars(session: Session, ctx: ReadContext, asked: str | None) -> Calendars:
    """The feeds' data as of *ctx*: all.ics and meetings.ics in the language *asked* for (else the
    reader's), each party's feed in *asked*, else its own (``lang:``), else the group's first."""
    from . import feeds
    from .i18n import current

    shared = asked or current()
    party_langs = feeds.party_languages(session, asked)
    return Calendars(ctx, shared, party_langs, feeds.feed_sets_by_language(session, ctx, shared, party_langs))


def rebuild_calendars(project: Project, out: Path | None = None, as_of: str | None = None, *,
                      todo: bool | None = None, private: bool = False,
                      built: dict[str, tuple[Any, ...]] | None = None) -> WriteReport | None:
    """Write the feeds into *out* (default: the calendars.dir setting), continuing the feeds
    already there; only the files whose bytes changed are replaced. *todo* None: the tasks too
    when the folder has them already. With *built* (a folder → data fingerprint memo that the
    caller keeps), nothing is done, and None returned, when the data did not change since."""
    from . import feeds
    from .feed_history import continued
    from .files import write_files

    folder = out if out is not None else project.settings.calendars_dir
    with project.session() as session:
        ctx = project.read_context(session, as_of)
        if built is not None:
            fingerprint = _data_fingerprint(session, ctx)
            if built.get(str(folder)) == fingerprint and folder.is_dir():
                return None
        data = read_calendars(session, ctx, project.language)
    with_tasks = (folder / "todo").is_dir() if todo is None else todo
    written = write_files(folder, continued(folder, ctx.as_of, lambda history: data.files(
        todo=with_tasks, private=private, history=history), feeds.restricted_actions(data.sets)))
    if built is not None:
        built[str(folder)] = fingerprint
    return written


def _data_fingerprint(session: Session, ctx: ReadContext) -> tuple[Any, ...]:
    """What the feeds depend on: the file synced, the event log, and the year of the as-of day."""
    from sqlalchemy import func, select

    from .models import Event
    from .queries import synced_digest

    count, last_id, last_recorded = session.execute(
        select(func.count(Event.id), func.max(Event.id), func.max(Event.recorded_at))).one()
    return synced_digest(session), count, last_id, last_recorded, ctx.as_of_day.year


# ---------------------------------------------------------------------------
# digests: written as .eml files, sent once per recipient and week, the send log


def write_digests(project: Project, party: str | None, as_of: str | None, out: Path) -> dict[str, EmailMessage]:
    """`workplan digest --out DIR`: each recipient's digest as DIR/PARTY.eml (file name →
    message), all of them or none: a full disk never leaves this week's beside last week's."""
    from . import reports
    from .files import write_files
    from .i18n import language
    from .mail import prepare
    from .render.digest import build_message, sender_address
    from .templating import Templates

    with project.session() as session:
        ctx = project.read_context(session, as_of)
        who = reports.recipients(session, party)
        items = [(p.lang, p.digest) for p in prepare(session, ctx, who, project.language)]
    templates = Templates(project.settings.templates_dir)
    messages = {}
    for lang, item in items:
        with language(lang):
            messages[f"{item.party.id}.eml"] = build_message(item, templates,
                                                             sender_address(project.settings.get("smtp.from"), item))
    write_files(out, {name: message.as_bytes() for name, message in messages.items()}, what="digests")
    return messages


def send_digests(project: Project, party: str | None = None, as_of: str | None = None, *,
                 resend_stale: bool = False, report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """`workplan digest --send` and the scheduler's weekly run: each recipient's digest of the
    period at most once (the send log decides), each outcome given to *report* as it happens."""
    from . import mail, reporting, reports
    from .errors import UsageError
    from .i18n import _

    with project.session() as session:
        ctx = project.read_context(session, as_of)
        who = reports.recipients(session, party)
        if not who:
            raise UsageError(_("no party has an email address, so there is no digest to send"))
        prepared, skipped = mail.plan(session, ctx, who, project.language)
    if prepared:  # each digest brings a fresh report key (its numbered items, its page, its reply address)
        now = project.now()
        with project.session(write=True) as session:
            project.write(session, lambda: reporting.attach(
                session, [p.digest for p in prepared], base_url=project.settings.get("server.base_url"),
                reply_to=project.settings.get("reply.address"), days=project.settings.int("report.link_days"),
                now=now))
    for outcome in skipped:
        if report is not None:
            report(outcome)
    return skipped + mail.deliver(project.engine, project.settings, prepared, project.now,
                                  resend_stale=resend_stale, report=report)


def digest_status(project: Project, party: str | None, as_of: str | None) -> list[LogLine]:
    """`workplan digest --status`: the send log of the period, one line per recipient."""
    from . import mail, reports

    with project.session() as session:
        ctx = project.read_context(session, as_of)
        return mail.status(session, mail.period_of(ctx), reports.recipients(session, party), project.now())


def mark_digests_sent(project: Project, party: str | None, as_of: str | None) -> tuple[str, list[str]]:
    """`workplan digest --mark-sent`: a person confirmed that unconfirmed digests arrived.
    The period, and the parties marked."""
    from . import mail, reports

    with project.session(write=True) as session:
        ctx = project.read_context(session, as_of)
        period = mail.period_of(ctx)
        who = [p.id for p in reports.recipients(session, party)]
        return period, mail.mark_sent(session, period, who, project.now())


# ---------------------------------------------------------------------------
# the loop back from the focal points


def revoke_report_links(project: Project, party: str) -> int:
    """`workplan report revoke PARTY`: end every live report key of *party*; how many."""
    from . import reporting

    now = project.now()
    with project.session(write=True) as session:
        count: int = project.write(session, lambda: reporting.revoke(session, party, now))
        return count


def set_digest_preference(project: Project, party: str, *, paused: bool | None = None, lang: str | None = None,
                          by: str = "secretariat") -> Preference:
    """`workplan report pause|resume|language`: the secretariat overrides a party's choice."""
    from . import reporting

    now = project.now()
    with project.session(write=True) as session:
        pref: Preference = project.write(session, lambda: reporting.set_preference(
            session, party, now=now, by=by, paused=paused, lang=lang))
        return pref


# ---------------------------------------------------------------------------
# replies by email: `workplan inbox receive|fetch|list`


@dataclass(frozen=True)
class Received:
    """One message handled, and what became of the confirmations owed (this one's and earlier ones')."""

    handled: inbox.Handled
    confirmations: list[inbox.Sent]
    confirm_error: str = ""  # why no confirmation could be sent at all (SMTP settings)


def record_reply(project: Project, raw: bytes) -> inbox.Handled:
    """Record and apply one message in one committed transaction (exactly once by its Message-ID)."""
    from . import inbox

    now = project.now()
    with project.session(write=True) as session:
        handled: inbox.Handled = project.write(session, lambda: inbox.record(session, raw, now))
        return handled


def confirm_replies(project: Project) -> tuple[list[inbox.Sent], str]:
    """Send the confirmations owed; a sentence instead when they cannot be sent at all (the
    SMTP settings are wrong): they stay owed for the next run."""
    from . import inbox
    from .errors import WorkplanError

    try:
        return inbox.send_confirmations(project.engine, project.settings.database_url, project.settings,
                                        project.now), ""
    except WorkplanError as exc:
        return [], str(exc)


def receive_reply(project: Project, raw: bytes) -> Received:
    """`workplan inbox receive`: one message from a mail server's pipe. Empty or oversized: a
    UsageError (exit 2). Not recorded because of the database or the project: TemporaryFailure
    (exit 75), so that the mail server keeps the message and tries again."""
    from . import inbox
    from .errors import TemporaryFailure, UsageError, WorkplanError
    from .i18n import _

    if not raw.strip():
        raise UsageError(_("standard input is empty: `workplan inbox receive` reads one email message from it"))
    if len(raw) > inbox.STDIN_MAX:
        raise UsageError(_("the message on standard input is larger than {limit} MB, so it was not read").format(
            limit=inbox.STDIN_MAX // (1024 * 1024)))
    try:
        handled = record_reply(project, raw)
    except WorkplanError as exc:  # the database, the configuration or the actions file: ours to fix, not the sender's
        raise TemporaryFailure(_("the message was not recorded, so the mail server should try again later: {error}")
                               .format(error=exc)) from None
    sent, error = confirm_replies(project)
    return Received(handled, sent, error)


@dataclass(frozen=True)
class Fetched:
    handled: list[inbox.Handled]
    confirmations: list[inbox.Sent]
    confirm_error: str = ""


def fetch_replies(project: Project) -> Fetched:
    """`workplan inbox fetch`: every message in the IMAP mailbox recorded (once), then moved;
    then the confirmations owed sent. A message recorded before is only moved."""
    import os

    from . import imap

    settings = imap.ImapSettings.from_settings(project.settings, os.environ)
    handled: list[inbox.Handled] = []

    def handle(raw: bytes) -> inbox.Handled:
        result = record_reply(project, raw)
        handled.append(result)
        return result

    try:
        imap.fetch(settings, handle)
    finally:  # what was committed before a failure is confirmed all the same, and what earlier runs owe
        sent, error = confirm_replies(project)
    return Fetched(handled, sent, error)


def inbox_list(project: Project, everything: bool) -> tuple[list[inbox.InboxLine], list[tuple[str, int]]]:
    """`workplan inbox list`: the held messages (or all), newest first, and the confirmations not sent."""
    from . import inbox

    with project.session() as session:
        return inbox.listing(session, everything), list(inbox.unsent(session))


# the report page (workplan.reportpage): its requests come with the server's engine, not a Project


@dataclass(frozen=True)
class ReportPage:
    """What a party's report page shows: its own assignments, in its language, and its choices."""

    report: PartyReport
    grant: Grant
    lang: str  # the page's: ?lang=, else the party's choice, else the actions file's
    other_lang: str  # the language the switch link offers
    paused: bool  # the party's digest is paused
    chosen_lang: str  # the language the party chose for its digest ('' = the actions file's)
    by: str  # the focal point the digest went to (its first address): who reports
    revision: str | None = None  # of the data the page was read from (queries.data_revision)
    page_no: int = 1  # which page of the party's assignments (reports.REPORT_PAGE_SIZE each) is shown
    pages: int = 1
    total: int = 0  # the party's assignments listed, on every page
    owned: frozenset[tuple[str, str]] = frozenset()  # (action, occurrence) of every assignment of the party


def report_page(engine: Engine, url: str, key: str, *, now: datetime, as_of: str | None = None,
                lang: str | None = None, lookahead_days: int = 14, items: bool = True,
                page_no: int = 1) -> ReportPage | None:
    """GET /report/KEY: the page of a live *key*; None for any other (malformed, unknown,
    expired, revoked: the caller answers them alike). *as_of* pins the page's day (demos).
    Without *items*, the page without its assignments (none listed): what a POST needs until
    it must show the page again, at a fraction of the cost (a party can own a thousand).
    The assignments come :data:`reports.REPORT_PAGE_SIZE` at a time, page *page_no*: those the
    key's digest numbered first, by number, then the others."""
    from sqlalchemy import select

    from . import planning, reporting, reports
    from .db import session_scope
    from .errors import UnknownItem
    from .i18n import LANGUAGES, language
    from .models import Assignment
    from .queries import ReadContext, data_revision, group_info
    from .timeutil import parse_as_of

    with session_scope(engine, url) as session:
        grant = reporting.resolve(session, key, now)
        if grant is None:
            return None
        revision = data_revision(session)
        group = group_info(session)
        try:
            party = reports.party_ref(session, grant.party)
        except UnknownItem:  # withdrawn from the workplan since: its key leads nowhere
            return None
        pref = reporting.preferences(session, [grant.party]).get(grant.party)
        page_lang = planning.party_language(lang, party.lang, group.languages)
        numbers = {(n.action, n.occurrence): n.number
                   for n in reporting.numbered_items(session, grant).values()} if items else {}
        moment = parse_as_of(as_of, group.tz) if as_of else now.astimezone(group.tz)
        ctx = ReadContext(group.tz, moment, lookahead_days)
        owned = frozenset(session.execute(select(Assignment.action_id, Assignment.occurrence).where(
            Assignment.party_id == grant.party, Assignment.withdrawn_at.is_(None))).tuples()) if items else frozenset()
        with language(page_lang):
            if items:
                report = reports.party_report(session, ctx, grant.party, numbers)
            else:
                report = reports.PartyReport(group.name, reports.party_ref(session, grant.party), ctx.as_of,
                                             ctx.as_of - planning.REPORT_PAGE_WINDOW, [])
    other = next(x for x in LANGUAGES if x != page_lang)
    entries, pages, page_no = reports.report_page_slice(report.entries, page_no)
    total = len(report.entries)
    report.entries = entries
    return ReportPage(report, grant, page_lang, other, bool(pref and pref.digest_paused),
                      pref.lang if pref else "", party.emails[0] if party.emails else grant.party, revision,
                      page_no, pages, total, owned)


def submit_report(engine: Engine, url: str, key: str, *, action: str, occurrence: str, status: str, note: str,
                  evidence: str, on: str, now: datetime) -> list[Change] | None:
    """POST /report/KEY: apply one status change a focal point reported on the page, by the
    rules of the command line (:func:`workplan.reporting.report`), as an event of origin
    ``web`` by the address the digest went to; *on* a day (YYYY-MM-DD) or empty for now.
    None for a key that is not live; a :class:`~workplan.errors.UsageError` (one sentence) for
    anything refused, and nothing written then."""
    from . import reporting, reports
    from .db import session_scope
    from .errors import UnknownItem, UsageError
    from .i18n import _
    from .queries import group_info
    from .timeutil import parse_event_moment, parse_when

    with session_scope(engine, url, write=True) as session:
        grant = reporting.resolve(session, key, now)
        if grant is None:
            return None
        tz = group_info(session).tz
        when, day_only = None, False
        if on.strip():
            try:
                when = parse_event_moment(on, tz)
                day_only = parse_when(on, tz).at is None
            except ValueError as exc:
                raise UsageError(_("the date must be a day written YYYY-MM-DD: {reason}").format(reason=exc)) from None
        try:
            party = reports.party_ref(session, grant.party)
        except UnknownItem:
            return None
        try:
            changes = reporting.report(session, grant, (action, occurrence), status, note=note, evidence=evidence,
                                       on=when, day_only=day_only, now=now, origin="web",
                                       by=party.emails[0] if party.emails else grant.party)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return changes


def own_preference(engine: Engine, url: str, key: str, *, now: datetime, paused: bool | None = None,
                   lang: str | None = None) -> Preference | None:
    """The report page's preferences, or the one-click unsubscribe (*paused*): the party of a
    live *key* pauses or resumes its digest or chooses its language, recorded as set by
    ``web``. None for a key that is not live."""
    from . import reporting
    from .db import session_scope

    with session_scope(engine, url, write=True) as session:
        grant = reporting.resolve(session, key, now)
        if grant is None:
            return None
        try:
            pref = reporting.set_preference(session, grant.party, now=now, by="web", paused=paused, lang=lang)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return pref


def report_form_secret(engine: Engine, url: str) -> bytes:
    """The secret the report page's form tokens are signed with (kept in the database)."""
    from . import reporting
    from .db import get_meta, session_scope

    with session_scope(engine, url) as session:
        kept = get_meta(session, reporting.CSRF_SECRET_META)
    if kept is not None:
        return bytes.fromhex(kept)
    with session_scope(engine, url, write=True) as session:
        return reporting.csrf_secret(session)


# ---------------------------------------------------------------------------
# private feeds and the server


@dataclass(frozen=True)
class PrivateFeed:
    """A private feed token issued (its URLs, shown once) or revoked (how many were)."""

    party: str
    revoked: int  # tokens revoked, or replaced by the one issued
    webcal: str = ""  # empty when revoking
    web: str = ""


def private_feed_token(project: Project, party: str, *, rotate: bool = False, revoke: bool = False) -> PrivateFeed:
    """`workplan feeds token`: issue (or with *rotate* replace) *party*'s private feed token, or revoke it."""
    from . import tokens

    now = project.now()
    with project.session(write=True) as session:
        if revoke:
            count: int = project.write(session, lambda: tokens.revoke(session, party, now))
            return PrivateFeed(party, count)
        issued: tokens.Issued = project.write(session, lambda: tokens.issue(session, party, now, rotate=rotate))
    webcal, web = tokens.subscription_urls(project.settings.get("server.base_url"), issued.token)
    return PrivateFeed(party, issued.revoked, webcal, web)


def serve(project: Project, host: str, port: int, *, threads: int, as_of: str | None, scheduled: bool,
          started: Callable[[str, str, bool], None]) -> None:
    """`workplan serve`: the Flask application (:func:`workplan.web.create_app`) on waitress, with the scheduler unless not
    *scheduled*, until SIGTERM or Ctrl-C. *started* is told the group's name, the URL and
    whether the scheduler runs, once the server listens."""
    import signal
    from types import FrameType

    from waitress.server import create_server

    from .web import create_app

    group = project.group()  # syncs a changed actions file first (embedded database)
    wsgi = create_app(project.settings, project.engine, as_of=as_of, debug=project.debug)
    server: Any = create_server(
        wsgi, host=host, port=port, threads=threads, ident="workplan",
        # no long headers; bodies are the report page's forms, which the application caps at
        # 64 KiB (MAX_CONTENT_LENGTH) with a sentence: waitress refuses, with its own, only what is
        # far larger than any form
        max_request_header_size=32 * 1024, max_request_body_size=2 * 1024 * 1024,
        channel_timeout=60, connection_limit=200, clear_untrusted_proxy_headers=True,
    )
    scheduler = None
    if scheduled:
        from .scheduler import start_background

        scheduler = start_background(project)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    shown = f"[{server.effective_host}]" if ":" in str(server.effective_host) else server.effective_host
    started(group.name, f"http://{shown}:{server.effective_port}/", scheduler is not None)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)


# ---------------------------------------------------------------------------
# the database schema


def schema_revision(project: Project) -> tuple[str, str | None, str]:
    """`workplan db current`: the database (as it is safe to show), its revision, and the head's."""
    from .db import current_revision, describe, head_revision, make_engine

    url = project.settings.database_url
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    return describe(url), revision, head_revision()


def upgrade_database(project: Project) -> tuple[str, str | None, str]:
    """`workplan db upgrade`: the database, the revision it was at, and the one it is at now."""
    from .db import describe, make_engine
    from .db import upgrade as run_upgrade

    url = project.settings.database_url
    engine = make_engine(url)
    try:
        before, after = run_upgrade(engine, url)
    finally:
        engine.dispose()
    return describe(url), before, after


def run_scheduler(project: Project) -> None:
    """`workplan scheduler`: the weekly digest and the calendars' rebuild, until SIGTERM or Ctrl-C."""
    from .scheduler import run_foreground

    run_foreground(project)
