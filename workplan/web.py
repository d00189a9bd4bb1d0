"""The feed server: a Flask application, served by `workplan serve` on waitress, or by any WSGI
server through :func:`make_app`.

Routes (GET and HEAD only; anything else on them is 405 with ``Allow``):

=============================  ===========================================================
``/``                          the status board (HTML; ``?as_of=YYYY-MM-DD`` shows another day)
``/calendars/NAME.ics``        the public feeds: ``all``, ``meetings``, one per party
``/feeds/TOKEN.ics``           a party's private feed, with its restricted actions
``/agenda/next-virtual``       the draft agenda of the next virtual meeting (HTML)
``/conclusions``               the follow-up of every meeting's conclusions (HTML)
``/healthz``                   liveness: answers without touching the database
``/report/KEY``                a party's report page (GET and POST; :mod:`workplan.reportpage`)
=============================  ===========================================================

Any other address under ``/feeds/`` gets the 404 of a revoked token, whatever is wrong with it.

What is served is rendered once per change of the data, not per request: every request reads
one value, the data revision that each write sets (:func:`workplan.services.mark_changed`),
and what was rendered for that revision (and that day) is served again, with a strong ETag
(a hash of the bytes) and a Last-Modified taken from the data, so that calendar clients that
poll get ``304 Not Modified`` for the price of that one small query. Names are looked up in the
set of feeds that exist; nothing is ever read from disk by a name from the URL.

Languages: the board and the agenda are in the group's first language (``group.languages``),
``?lang=es|en`` asks for another; a party's feed (public ``PARTY.ics`` and private) is in its
language, as `workplan calendars` writes it; ``all.ics`` and ``meetings.ics`` in the server's.
Sentences of errors are in the language ``?lang=`` asks for, else the server's.

The shape of the application, for pages added later:

- :func:`create_app` is the one factory (``make_app`` reads a project for other WSGI servers,
  ``jobs.serve`` gives it the project `workplan serve` opened). The state every view needs
  (settings, engine, templates, the rendered feeds) is :func:`current_server`.
- Blueprints: a page of its own is a Flask blueprint named in :data:`BLUEPRINTS`
  (``"workplan.module:attribute"``), imported when the app is made, never by the command line.
  Only this module imports flask at its top; a blueprint module is imported by it alone.
- Security headers are set for every response in one ``after_request``
  (:func:`_security_headers`): ``Content-Security-Policy``, ``Referrer-Policy: no-referrer``,
  ``X-Robots-Tag: noindex``, ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``.
  The policy forbids forms (``form-action 'none'``); a page that posts a form says so with
  :func:`form_action` (``@form_action("'self'")`` on its view) or sets the header itself from
  :func:`content_security_policy` — a policy set by the view is kept as it is.
- Errors answer ``text/plain`` with one sentence, from the handlers in :func:`_error_handlers`:
  404 and 405 (with ``Allow``) of the routing, :class:`HTTPError` raised by a view, 503 with
  ``Retry-After`` for the database, 500 (logged) for anything else.
- A route answers GET and HEAD unless it names other methods; OPTIONS is not answered for it.
  No address is redirected (werkzeug's slash redirects become the 404 of an unknown address).
- The one shortcut: a conditional GET or HEAD of a feed the client already has gets its 304
  before Flask's request machinery (``_App._not_modified_feed``), with the same headers (its
  validators and :data:`SECURITY_HEADERS`); that answer is what calendar clients get on nearly
  every poll, and through the routes it cost about twice as much. An ``after_request`` added
  later does not see those 304s; everything else, and every error, goes through the routes.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import wraps
from pathlib import Path
from typing import IO, Any, NoReturn, ParamSpec
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Request, Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine, select
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import Headers as HeaderMap
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BaseConverter, RequestRedirect

from . import feeds, jobs, timeutil, tokens
from . import tables as t
from .config import Settings
from .db import database_error, session_scope, set_meta
from .errors import DatabaseError, UsageError, WorkplanError
from .i18n import LANGUAGES, _, language
from .planning import group_language
from .queries import REVISION_KEY, ReadContext, data_revision, group_info
from .templating import Templates
from .timeutil import parse_as_of

Headers = list[tuple[str, str]]
P = ParamSpec("P")

ALLOWED = "GET, HEAD"
CALENDAR = "text/calendar; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BOARD_DAYS_KEPT = 16  # boards of other days (?as_of=) kept rendered
# the blueprints mounted beside the feeds, as "module:attribute"; imported when the app is made
BLUEPRINTS: tuple[str, ...] = ("workplan.reportpage:blueprint",)
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def content_security_policy(form_action: str = "'none'") -> str:
    """The policy of every page: nothing runs script or loads anything from elsewhere, styles are
    inline, no framing. *form_action* is where forms may post: ``'none'`` (no page has a form),
    ``'self'`` for a page whose forms post back to this server."""
    return ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            f"form-action {form_action}; frame-ancestors 'none'")


HTML_POLICY = content_security_policy()
# what every response carries (after_request); a Content-Security-Policy a view set is kept
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", HTML_POLICY),
    ("Referrer-Policy", "no-referrer"),
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)


def form_action(sources: str) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, Response]]:
    """A view whose page has forms that post to *sources* (``"'self'"``): its response gets the
    policy with ``form-action`` *sources*; every other response keeps ``form-action 'none'``::

        @blueprint.route("/report", methods=["GET", "POST"])
        @form_action("'self'")
        def report() -> str: ...
    """
    policy = content_security_policy(sources)

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, Response]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response:
            response = current_app.make_response(view(*args, **kwargs))
            response.headers["Content-Security-Policy"] = policy
            return response

        return wrapped

    return decorate


_FEED_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_PUBLIC_PATH = re.compile(rf"/calendars/({_FEED_NAME})\.ics")


class _FeedName(BaseConverter):
    """A name the public feeds may have (looked up among those that exist, never on disk)."""

    regex = _FEED_NAME


class _Anything(BaseConverter):
    """Whatever follows, slashes and nothing included: every address under /feeds/ goes to the
    private feed, which answers one 404 for whatever is not a live token (too long, too short,
    no .ics, a slash): the answer says nothing about why."""

    regex = r"(?s:.*)"
    part_isolating = False


@dataclass(frozen=True)
class Resource:
    """A rendered representation: its bytes and the validators of conditional requests."""

    body: bytes
    content_type: str
    etag: str  # strong: a hash of the bytes
    last_modified: datetime  # aware UTC, whole seconds
    http_date: str = ""  # Last-Modified as sent

    @classmethod
    def of(cls, body: bytes, content_type: str, modified: datetime) -> Resource:
        return cls.at(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:40] + '"', modified)

    @classmethod
    def at(cls, body: bytes, content_type: str, etag: str, modified: datetime) -> Resource:
        moment = modified.astimezone(UTC).replace(microsecond=0)
        return cls(body, content_type, etag, moment, format_datetime(moment, usegmt=True))


@dataclass
class _Snapshot:
    """Everything rendered for one data revision and one day."""

    revision: str | None
    day: date
    tz: ZoneInfo
    ctx: ReadContext
    feed_sets: dict[str, feeds.FeedSet]  # by language
    party_langs: dict[str, str]  # the language of each party's feed
    lang: str  # the board's and the agenda's unless ?lang= asks for another
    modified: datetime
    public: dict[str, Resource]
    private: dict[str, Resource] = field(default_factory=dict)  # by party, rendered when first asked for
    boards: dict[str, Resource] = field(default_factory=dict)  # by language
    agendas: dict[str, Resource] = field(default_factory=dict)  # by "agenda:LANG" or "conclusions:LANG"
    agenda_errors: dict[str, str] = field(default_factory=dict)

    @property
    def feed_set(self) -> feeds.FeedSet:
        return next(iter(self.feed_sets.values()))


class HTTPError(Exception):
    """Raised by a view: answered as *status* with the sentence *message* (text/plain)."""

    def __init__(self, status: str, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or []


# ---------------------------------------------------------------------------------------------
# the application


class _App(Flask):
    def raise_routing_exception(self, request: Request) -> NoReturn:
        # never a redirect (werkzeug's to a slash added or taken away): an address is served or is a 404
        if isinstance(request.routing_exception, RequestRedirect):
            raise NotFound()
        super().raise_routing_exception(request)

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        # every sentence of the request (errors included) in the language asked for, else the server's
        asked = re.search(r"(?:^|&)lang=(es|en)(?:&|$)", environ.get("QUERY_STRING", ""))
        with language(asked.group(1) if asked else None):
            if (headers := self._not_modified_feed(environ)) is not None:
                start_response("304 Not Modified", headers)
                return []
            return super().wsgi_app(environ, start_response)

    def _not_modified_feed(self, environ: dict[str, Any]) -> Headers | None:
        """The 304 of a feed the client has already, answered without Flask's request machinery:
        the answer to nearly every request a calendar client makes, which would cost twice as much
        through the routes. Its headers: the same validators and security headers as through them
        (:func:`_send`, :data:`SECURITY_HEADERS`). For anything else, or any failure, None, and the
        request goes the whole way through the routes and the error handlers."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not (
                "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ):
            return None
        path = environ.get("PATH_INFO", "")
        server: FeedServer = self.extensions["workplan"]
        try:
            if m := _PUBLIC_PATH.fullmatch(path):
                resource, extra = server.public_feed(m.group(1))
            elif path.startswith("/feeds/"):
                resource, extra = server.private_feed(path.removeprefix("/feeds/"))
            else:
                return None
        except Exception:  # answered (and logged) by the routes
            return None
        if not _not_modified(environ, resource):
            return None
        return [*_validators(resource, extra), *SECURITY_HEADERS]


def create_app(settings: Settings, engine: Engine, *, as_of: str | None = None, debug: bool = False,
               log: IO[str] | None = None, blueprints: Iterable[str] = BLUEPRINTS) -> Flask:
    """The application: one project's database, served from many threads. *as_of* fixes the day
    (demos, tests); *debug* logs tracebacks of internal errors; *blueprints* are mounted beside
    the feeds ("module:attribute", default :data:`BLUEPRINTS`)."""
    app = _App("workplan", static_folder=None)
    # nothing is answered that a route does not name: no OPTIONS, no slashes merged (nor redirects)
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.url_map.merge_slashes = False
    app.url_map.converters["feedname"] = _FeedName
    app.url_map.converters["anything"] = _Anything
    app.extensions["workplan"] = FeedServer(settings, engine, as_of=as_of, debug=debug, log=log or sys.stderr)
    app.register_blueprint(_feeds_blueprint())
    for name in blueprints:
        module, _sep, attribute = name.partition(":")
        app.register_blueprint(getattr(importlib.import_module(module), attribute))
    _error_handlers(app)
    app.after_request(_security_headers)
    return app


def current_server() -> FeedServer:
    """The state of the application serving the request: settings, engine, templates, feeds."""
    server: FeedServer = current_app.extensions["workplan"]
    return server


def _security_headers(response: Response) -> Response:
    headers = response.headers
    present = {key.lower() for key, _value in headers}  # one pass: `name in headers` raises and catches a KeyError
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def _plain(status: str | int, message: str, extra: Headers | None = None) -> Response:
    if isinstance(status, int):  # the reason phrase as RFC 9110 writes it (werkzeug's would be in capitals)
        status = f"{status} {HTTP_STATUS_CODES.get(status, 'Error')}"
    response = Response((message + "\n").encode("utf-8"), status, extra, content_type=TEXT)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_handlers(app: Flask) -> None:
    """One place for what every error answers: one sentence, text/plain."""

    def _log(line: str, details: str | None = None) -> None:
        current_server().log_line(f"{request.method} {request.path}: {line}", details)

    @app.errorhandler(HTTPError)
    def raised(exc: HTTPError) -> Response:
        return _plain(exc.status, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def routing(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 404:
            return _plain(404, _("Nothing here: the feeds are /calendars/all.ics, /calendars/meetings.ics "
                                 "and /calendars/PARTY.ics; the status board is /."))
        if isinstance(exc, MethodNotAllowed):
            valid = set(exc.valid_methods or ())
            allowed = ", ".join(sorted(valid, key=lambda m: (_METHOD_ORDER + (m,)).index(m)))
            method = request.method[:20]
            if allowed == ALLOWED:
                message = _("{method} is not allowed here; use GET or HEAD.").format(method=method)
            else:
                message = _("{method} is not allowed here; use {methods}.").format(method=method, methods=allowed)
            return _plain(405, message, [("Allow", allowed)])
        return _plain(code, exc.description or exc.name)

    @app.errorhandler(DatabaseError)
    def database(exc: DatabaseError) -> Response:
        # the details (which host, which file) are for the log, not for every passer-by
        _log(str(exc))
        return _plain(503, _("The workplan database cannot be read right now; try again in a minute."),
                      [("Retry-After", "30")])

    @app.errorhandler(WorkplanError)
    def unavailable(exc: WorkplanError) -> Response:
        _log(str(exc))
        return _plain(503, _("The workplan cannot be shown right now: {error}.").format(error=exc),
                      [("Retry-After", "30")])

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> Response:
        _log(f"internal error: {type(exc).__name__}: {exc}",
             traceback.format_exc() if current_server().debug else None)
        return _plain(500, _("The server met an unexpected error; it has been logged."))


# ---------------------------------------------------------------------------------------------
# the routes of the feeds, the board and the agenda


def _feeds_blueprint() -> Blueprint:
    bp = Blueprint("feeds", __name__)

    def get(rule: str, endpoint: str, view: Callable[..., Response]) -> None:
        bp.add_url_rule(rule, endpoint, view, methods=["GET"], provide_automatic_options=False)

    get("/", "board", lambda: _send(*current_server().board(_query_string())))
    get("/healthz", "healthz", lambda: _plain(200, "ok"))  # the process answers; nothing else is asked
    get("/agenda/next-virtual", "agenda", lambda: _send(*current_server().agenda(_query_string())))
    get("/conclusions", "conclusions", lambda: _send(*current_server().conclusions(_query_string())))
    get("/calendars/<feedname:name>.ics", "public_feed", lambda name: _send(*current_server().public_feed(name)))
    get("/feeds/<anything:rest>", "private_feed", lambda rest: _send(*current_server().private_feed(rest)))
    return bp


def _query_string() -> str:
    return str(request.environ.get("QUERY_STRING", ""))


def _send(r: Resource, extra: Headers) -> Response:
    """*r* with its validators: 304 when the client has it already, else 200 (HEAD: no body)."""
    headers = _validators(r, extra)
    if _not_modified(request.environ, r):
        return _Bare(status="304 Not Modified", headers=headers)
    # the bytes handed to the server as they are (a list of one), not through werkzeug's encoding iterator
    return Response([r.body], "200 OK", headers, content_type=r.content_type, direct_passthrough=True)


def _validators(r: Resource, extra: Headers) -> Headers:
    return [("ETag", r.etag), ("Last-Modified", r.http_date), *extra]


class _Bare(Response):
    """A 304: no body, hence no Content-Type; and the Last-Modified beside the ETag, which the
    server has always sent (RFC 9110 allows it) and werkzeug would take away."""

    default_mimetype = None

    def get_wsgi_headers(self, environ: dict[str, Any]) -> HeaderMap:
        headers = super().get_wsgi_headers(environ)
        if (modified := self.headers.get("Last-Modified")) is not None:
            headers["Last-Modified"] = modified
        return headers


def _not_modified(environ: dict[str, Any], r: Resource) -> bool:
    """RFC 9110 §13.2.2: If-None-Match, when present, decides alone (weak comparison);
    If-Modified-Since only without it."""
    inm = environ.get("HTTP_IF_NONE_MATCH")
    if inm is not None:
        tags = {tag.strip().removeprefix("W/") for tag in inm.split(",")}
        return "*" in tags or r.etag in tags
    ims = environ.get("HTTP_IF_MODIFIED_SINCE")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return r.last_modified <= since
    return False



# ---------------------------------------------------------------------------------------------
# what is served: rendered once per data revision


@dataclass
class FeedServer:
    """The state of the application: one project's database and what was rendered from it,
    shared by the threads that answer requests."""

    settings: Settings
    engine: Engine
    as_of: str | None = None  # a fixed day or moment (demos, tests); None: today, in the group's zone
    debug: bool = False
    log: IO[str] = field(default_factory=lambda: sys.stderr)

    def __post_init__(self) -> None:
        self.url = self.settings.database_url
        self.templates = Templates(self.settings.templates_dir)
        self._lock = threading.Lock()  # guards what is rendered; held briefly, never while rendering a snapshot
        self._rendering = threading.Lock()  # held by the one thread rendering a new snapshot
        self._snapshot: _Snapshot | None = None
        self._boards: OrderedDict[tuple[str | None, str, str], Resource] = OrderedDict()
        # the validators last served per name: Last-Modified must move when the bytes do, even
        # where the data keeps no time for the change (a party renamed, another --as-of). Kept
        # in the database's meta table too ("served:" + a hash of the name), so that they hold
        # across restarts and replicas; read again at each snapshot, written after each render.
        self._seen: dict[str, tuple[str, datetime]] = {}
        self._unsaved: dict[str, tuple[str, datetime]] = {}
        self._seen_lock = threading.Lock()

    def log_line(self, line: str, details: str | None = None) -> None:
        print(f"workplan serve: {line}", file=self.log, flush=True)
        if details:
            print(details, file=self.log, end="", flush=True)

    # -- handlers -----------------------------------------------------------------------------

    def public_feed(self, name: str) -> tuple[Resource, Headers]:
        snap = self._current(self._read_revision())
        resource = snap.public.get(f"{name}.ics")
        if resource is None:
            raise HTTPError("404 Not Found", _("There is no feed {name}.ics; try /calendars/all.ics.").format(name=name))
        return resource, [("Cache-Control", "no-cache")]

    def private_feed(self, name: str) -> tuple[Resource, Headers]:
        """*name*: whatever followed /feeds/ in the address."""
        token = name.removesuffix(".ics")
        wanted = tokens.lookup_hash(token) if token != name else None
        if wanted is None:
            raise _no_feed()
        party, revision = self._read_token(wanted)
        if party is None or not tokens.confirm(wanted, token):
            raise _no_feed()
        snap = self._current(revision)
        if party not in {p.id for p in snap.feed_set.parties}:  # withdrawn from the workplan
            raise _no_feed()
        with self._lock:
            if party not in snap.private:
                # only this party's actions go in: a small render, and nobody else's restricted ones
                lang = snap.party_langs.get(party, snap.lang)
                snap.private[party] = self._render_private(snap.feed_sets[lang], lang, party, snap.modified)
            resource = snap.private[party]
        return resource, [("Cache-Control", "private, no-cache")]

    def board(self, query_string: str) -> tuple[Resource, Headers]:
        from urllib.parse import parse_qs

        try:
            query = parse_qs(query_string, max_num_fields=10)
        except ValueError:  # more fields than any link to the board has
            raise HTTPError("400 Bad Request",
                            _("Too many query parameters; the board takes as_of and lang only.")) from None
        day = (query.get("as_of") or [""])[0]
        asked = _asked_language(query)
        revision = self._read_revision()
        headers: Headers = [("Cache-Control", "no-cache")]
        if not day:
            snap = self._current(revision)
            lang = asked or snap.lang
            with self._lock:
                if lang not in snap.boards:
                    snap.boards[lang] = self._remember(f"board:{lang}", self._render_board(
                        snap.ctx, snap.modified, lang, snap.lang, pinned=self.as_of is not None))
                return snap.boards[lang], headers
        if not _DAY.match(day):
            raise HTTPError("400 Bad Request", _("as_of must be a day written YYYY-MM-DD."))
        snap = self._current(revision)
        try:  # the rule of --as-of: a day of the calendar, in the years workplan plans in
            moment = parse_as_of(day, snap.tz)
        except ValueError as exc:
            raise HTTPError("400 Bad Request", _("as_of is refused: {reason}.").format(reason=exc)) from None
        with self._lock:
            lang = asked or snap.lang
            key = (snap.revision, day, lang)
            if key not in self._boards:
                ctx = ReadContext(snap.tz, moment, snap.ctx.lookahead_days)
                self._boards[key] = self._render_board(ctx, snap.modified, lang, snap.lang, pinned=False)
                while len(self._boards) > BOARD_DAYS_KEPT:
                    self._boards.popitem(last=False)
            return self._boards[key], headers

    def agenda(self, query_string: str) -> tuple[Resource, Headers]:
        """The draft agenda of the next virtual meeting."""
        def render(session: Any, ctx: ReadContext) -> str:
            from .render.agenda import render_agenda

            return render_agenda(jobs.agenda_in(session, ctx, "virtual"), "html", self.templates)

        return self._document("agenda", query_string, render)

    def conclusions(self, query_string: str) -> tuple[Resource, Headers]:
        """The follow-up of every meeting's conclusions (`workplan conclusions --format html`)."""
        def render(session: Any, ctx: ReadContext) -> str:
            from .render.conclusions import render_conclusions

            return render_conclusions(jobs.conclusions_in(session, ctx), "html", self.templates)

        return self._document("conclusions", query_string, render)

    def _document(self, name: str, query_string: str, render: Callable[[Any, ReadContext], str]) -> tuple[
            Resource, Headers]:
        """A document of the data (the agenda, the conclusions), rendered once per revision and language."""
        from urllib.parse import parse_qs

        try:
            query = parse_qs(query_string, max_num_fields=10)
        except ValueError:
            raise HTTPError("400 Bad Request", _("Too many query parameters; the agenda takes lang only.")) from None
        asked = _asked_language(query)
        snap = self._current(self._read_revision())
        lang = asked or snap.lang
        kept = f"{name}:{lang}"
        with self._lock, language(lang):
            if kept not in snap.agendas and kept not in snap.agenda_errors:
                try:
                    with session_scope(self.engine, self.url) as session:
                        html = render(session, snap.ctx)
                    snap.agendas[kept] = self._remember(kept, Resource.of(html.encode("utf-8"), HTML, snap.modified))
                except DatabaseError:
                    raise
                except UsageError as exc:  # no virtual meeting and no cadence rule to expect one
                    snap.agenda_errors[kept] = str(exc)
            if kept not in snap.agendas:
                raise HTTPError("404 Not Found", _("No agenda: {reason}.").format(reason=snap.agenda_errors[kept]))
            return snap.agendas[kept], [("Cache-Control", "no-cache")]

    # -- the data -----------------------------------------------------------------------------

    def _read_revision(self) -> str | None:
        """The one query of a request that finds its answer already rendered."""
        try:
            with self.engine.connect() as conn:
                return data_revision(conn)
        except DBAPIError as exc:  # any driver error (a dropped connection too) is a 503, never a 500
            raise database_error(exc, self.url) from None

    def _read_token(self, wanted: str) -> tuple[str | None, str | None]:
        """The party of a live token and the data revision, in one query."""
        revision = select(t.meta.c.value).where(t.meta.c.key == REVISION_KEY).scalar_subquery()
        query = select(t.feed_token.c.party_id, revision).where(
            t.feed_token.c.token_hash == wanted, t.feed_token.c.revoked_at.is_(None))
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).first()
        except DBAPIError as exc:
            raise database_error(exc, self.url) from None
        if row is None:
            return None, None
        return str(row[0]), None if row[1] is None else str(row[1])

    def _current(self, revision: str | None) -> _Snapshot:
        """What was rendered for *revision* and today, rendering it first if need be.

        One thread renders. While it does, the others are answered from the snapshot before
        (a change shows a few seconds later, instead of every feed request waiting for the whole
        render: seconds at 10,000 actions); only before the first snapshot do they wait for it.
        """
        with self._lock:
            snap = self._snapshot
        if snap is not None and snap.revision == revision and snap.day == self._today(snap.tz):
            return snap
        if snap is None:
            self._rendering.acquire()
        elif not self._rendering.acquire(blocking=False):
            return snap
        try:
            with self._lock:
                latest = self._snapshot
            if latest is not None and latest is not snap:  # rendered while this thread waited
                return latest
            fresh = self._render_snapshot()
            with self._lock:
                self._snapshot = fresh
                self._boards.clear()
            return fresh
        finally:
            self._rendering.release()

    def _render_snapshot(self) -> _Snapshot:
        """The feeds of the data as they are now, for today (the caller holds ``_rendering``)."""
        try:
            with session_scope(self.engine, self.url) as session:
                served = {key: kept for key, value in session.execute(
                    select(t.meta.c.key, t.meta.c.value).where(t.meta.c.key.startswith(SERVED, autoescape=True)))
                    if (kept := _served_value(value)) is not None}
                with self._seen_lock:
                    self._seen = {**served, **self._unsaved}
                # label what is rendered with the revision read in the same snapshot as the data,
                # not with the one the request saw (a request that read an older one re-renders
                # once, and never labels newer data with an older revision or the reverse)
                revision = session.scalar(select(t.meta.c.value).where(t.meta.c.key == REVISION_KEY))
                group = group_info(session)
                tz = group.tz
                day = self._today(tz)
                moment = parse_as_of(self.as_of or day.isoformat(), tz)
                ctx = ReadContext(tz, moment, self.settings.int("digest.lookahead_days"))
                # as `workplan calendars` does: each party's feed in its language, the shared
                # ones in the server's; the board in the group's first language
                data = jobs.read_calendars(session, ctx, None)
        except SADatabaseError as exc:  # raised past session_scope by a lazy load
            raise database_error(exc, self.url) from None
        board_lang = group_language(group.languages)  # the server's (shared) when the group names none
        modified = _data_modified(data.sets[data.shared])
        snap = _Snapshot(revision, day, tz, ctx, data.sets, data.party_langs, board_lang, modified, {})
        snap.public = self._render_public(data, modified)
        return snap

    def _today(self, tz: ZoneInfo) -> date:
        if self.as_of:
            return parse_as_of(self.as_of, tz).astimezone(tz).date()
        return timeutil.now_utc().astimezone(tz).date()

    def _render_public(self, data: jobs.Calendars, modified: datetime) -> dict[str, Resource]:
        files = data.files()  # no restricted action: public
        rendered = {name: self._remember("public:" + name, Resource.of(body, CALENDAR, modified))
                    for name, body in files.items()}
        self._save_served()
        return rendered

    def _render_private(self, fs: feeds.FeedSet, lang: str, party: str, modified: datetime) -> Resource:
        from .render.ical import render_feeds

        with language(lang):
            body = render_feeds(feeds.visible_to(fs, party))[f"{party}.ics"]
        rendered = self._remember(f"private:{party}", Resource.of(body, CALENDAR, modified))
        self._save_served()
        return rendered

    def _render_board(self, ctx: ReadContext, modified: datetime, lang: str, default: str,
                      pinned: bool) -> Resource:
        with language(lang), session_scope(self.engine, self.url) as session:
            data = jobs.board(session, ctx)
            html = self.templates.render("board.html", board=data, as_of_pinned=pinned, link_lang=None if lang == default else lang)
        return Resource.of(html.encode("utf-8"), HTML, modified)

    def _remember(self, name: str, r: Resource) -> Resource:
        """*r*, with the Last-Modified served before if its bytes are the same, and a later one
        if they changed (by this process or an earlier one)."""
        now = timeutil.now_utc().replace(microsecond=0)
        modified = min(r.last_modified, now)
        key = SERVED + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]
        with self._seen_lock:  # the snapshot's renderer and the other requests' renderers
            before = self._seen.get(key)
            if before is not None:
                etag, served = before
                if etag == r.etag:
                    modified = served
                elif modified <= served:
                    modified = max(now, served + timedelta(seconds=1))
            if before != (r.etag, modified):
                self._seen[key] = self._unsaved[key] = (r.etag, modified)
        return r if modified == r.last_modified else Resource.at(r.body, r.content_type, r.etag, modified)

    def _save_served(self) -> None:
        """Keep the validators just served in the database. A database that cannot take them
        (read-only) costs only what this change prevents across restarts: the next process may
        give changed bytes a Last-Modified no later than one already served."""
        with self._seen_lock:
            unsaved, self._unsaved = self._unsaved, {}
        if not unsaved:
            return
        try:
            with session_scope(self.engine, self.url, write=True) as session:
                for key, value in unsaved.items():
                    set_meta(session, key, f"{value[0]} {value[1].isoformat()}")
                session.commit()
        except (SADatabaseError, WorkplanError) as exc:
            self.log_line(f"cannot keep the feeds' Last-Modified in the database: {exc}")


SERVED = "served:"  # meta keys of the validators served last: "served:" + a hash of the feed's name


def _served_value(text: str) -> tuple[str, datetime] | None:
    """An ETag and the Last-Modified served with it, as kept; None for a value that is not one."""
    etag, _sep, moment = text.partition(" ")
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        return None
    return (etag, when) if when.tzinfo is not None else None


def _no_feed() -> HTTPError:
    """404 for a token that leads nowhere, the same whatever the reason."""
    return HTTPError("404 Not Found", _("There is no feed at this address (the link may have been revoked or "
                                        "replaced; ask the secretariat for a new one)."))


def _asked_language(query: dict[str, list[str]]) -> str | None:
    """``?lang=es|en``; None when not asked. Another value is a 400 with a sentence."""
    asked = (query.get("lang") or [""])[0]
    if not asked:
        return None
    if asked not in LANGUAGES:
        raise HTTPError("400 Bad Request", _("lang must be one of {languages}.").format(languages=", ".join(LANGUAGES)))
    return asked



def _data_modified(fs: feeds.FeedSet) -> datetime:
    """The latest change the feed set shows (naive UTC in the data), as an aware UTC moment."""
    moments = [m.modified for m in fs.meetings]
    for a in fs.actions:
        moments.append(a.modified)
        moments.extend(x.modified for x in a.assignments)
    return max(moments, default=datetime(2000, 1, 1)).replace(tzinfo=UTC)



def make_app(project: str | None = None, as_of: str | None = None) -> Flask:
    """The application for any WSGI server, configured as the command line is: the project
    found from *project* (default: the current folder), then WORKPLAN_* environment variables::

        waitress-serve --call workplan.web:make_app
        gunicorn 'workplan.web:make_app()'

    The database must hold the workplan already (``workplan sync``)."""
    from .project import Project

    context = Project(Path(project) if project else Path.cwd())
    return create_app(context.settings, context.engine, as_of=as_of, debug=context.debug)
