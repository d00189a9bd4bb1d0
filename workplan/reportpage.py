"""The report page behind the link in each party digest (issue 20): a Flask blueprint, mounted
through :data:`workplan.web.BLUEPRINTS`, imported only by the application, never by the command line.

=====================================  ========================================================
``GET /report/KEY``                    the party's own assignments, open and closed in the last
                                       30 days, each with a form; its digest's preferences
``POST /report/KEY``                   one report (``kind=report``) or the preferences
                                       (``kind=preferences``); 303 back to the page on success
``GET /report/KEY/unsubscribe``        a page with one button (a GET never pauses: link scanners
                                       and mail previews fetch what they find)
``POST /report/KEY/unsubscribe``       RFC 8058 one-click: body ``List-Unsubscribe=One-Click``
                                       pauses the digest at once (no form token: mail providers
                                       send it; the key is the secret); 200
=====================================  ========================================================

Statuses: 404 for a key that is malformed, unknown, expired or revoked (one body, byte for byte,
whatever the reason), and for any other address under /report/; 400 for a form without a valid
token or that is malformed; 409 for a change the status rules refuse (a cancelled assignment,
one already in that status); 422 for a report the rules refuse otherwise (no note for "cannot
deliver", an evidence link that is not http(s), a date in the future or before the latest
event); 413 for a body over 64 KiB; 429 (with ``Retry-After``) for a client address that failed
too often. A refused form comes back as the page with the sentence next to the form, nothing
written. Every answer is ``Cache-Control: no-store`` (the page is personal) and carries the
security headers of every page, with ``form-action 'self'``.

Form tokens (CSRF): WTForms forms whose token is an HMAC of the key's hash and the moment the
page was served, signed with a secret made once at random and kept in the database's ``meta``
table (:func:`workplan.reporting.csrf_secret`), so that every server process on the database
accepts the others' tokens; valid for :data:`workplan.reporting.CSRF_TTL`. No cookie, no session.

Speed: a party can own a thousand assignments (at 10,000 actions, a 2 MB page that takes half a
second to read and render), so the page as its link opens it is kept rendered in memory
(:class:`PageCache`), per data revision, key, language, the party's choices and minute, with a
random marker where the token goes; a POST reads only the key, the party and its language, and
the assignments only when a refused form must show the page again.

Rate limit: failed tokens and unknown keys are counted per client address (``REMOTE_ADDR``) in
memory, in a sliding window (:data:`FAILURES_ALLOWED` in :data:`FAILURE_WINDOW` seconds); past it
every request of that address under /report/ is a 429 until the window slides. Each process
counts alone, and behind a reverse proxy every client has the proxy's address: the proxy must
limit per client too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import Form, HiddenField, StringField, TextAreaField, ValidationError
from wtforms.csrf.core import CSRF, CSRFTokenField
from wtforms.form import BaseForm

from . import jobs, reporting, timeutil
from .errors import TransitionError, UsageError
from .i18n import LANGUAGES, _, language
from .planning import REPORT_STATUSES
from .reports import REPORT_PAGE_SIZE
from .web import HTML, HTTPError, current_server, form_action

FAILURES_ALLOWED = 20  # failed tokens and unknown keys per client address…
FAILURE_WINDOW = 600.0  # …in this many seconds
CLIENTS_KEPT = 10_000  # addresses remembered at most (the oldest forgotten first)
ONE_CLICK = "One-Click"
PAGES_KEPT_BYTES = 64 * 1024 * 1024  # rendered pages kept, in all (see _render)  # RFC 8058: the body is List-Unsubscribe=One-Click

blueprint = Blueprint("report", __name__)


# ---------------------------------------------------------------------------------------------
# the state of the page in one application: the rate limit and the secret


class FailureLimit:
    """Failures per client address in a sliding window, in memory, shared by the threads."""

    def __init__(self, allowed: int = FAILURES_ALLOWED, window: float = FAILURE_WINDOW) -> None:
        self.allowed, self.window = allowed, window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Seconds until *client* may try again, or None when it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._failures.get(client)
            if seen is None:
                return None
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) < self.allowed:
                return None
            return max(1, int(seen[0] + self.window - now) + 1)

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._failures.pop(client, None) or deque(maxlen=self.allowed)
            seen.append(now)
            self._failures[client] = seen  # the most recent last
            while len(self._failures) > CLIENTS_KEPT:
                self._failures.popitem(last=False)


class PageCache:
    """Rendered pages, the most recently used kept up to :data:`PAGES_KEPT_BYTES` in all."""

    def __init__(self, limit: int = PAGES_KEPT_BYTES) -> None:
        self.limit, self.size = limit, 0
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            body = self._pages.get(key)
            if body is not None:
                self._pages.move_to_end(key)
            return body

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        if len(body) > self.limit // 4:
            return
        with self._lock:
            if key in self._pages:
                return
            self._pages[key] = body
            self.size += len(body)
            while self.size > self.limit:
                _old, dropped = self._pages.popitem(last=False)
                self.size -= len(dropped)


@dataclass
class _State:
    limit: FailureLimit = field(default_factory=FailureLimit)
    pages: PageCache = field(default_factory=PageCache)
    # where the token goes in a kept page: random per process, so no text of the data can be it
    marker: bytes = field(default_factory=lambda: ("csrf-" + secrets.token_hex(16)).encode("ascii"))
    secret: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def form_secret(self) -> bytes:
        with self.lock:
            if self.secret is None:
                server = current_server()
                self.secret = jobs.report_form_secret(server.engine, server.url)
            return self.secret


@blueprint.record_once
def _setup(state: Any) -> None:
    state.app.extensions["workplan-report"] = _State()


def _state() -> _State:
    found: _State = current_app.extensions["workplan-report"]
    return found


# ---------------------------------------------------------------------------------------------
# the forms


class _KeyCSRF(CSRF):
    """A token bound to the page's key and the moment it was served (no cookie, no session)."""

    def setup_form(self, form: BaseForm) -> list[tuple[str, Any]]:
        self.form_meta: Any = form.meta  # csrf_secret, csrf_context (the key's hash), now: see _meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field: CSRFTokenField) -> str:
        m = self.form_meta
        return reporting.csrf_token(m.csrf_secret, m.csrf_context, m.now)

    def validate_csrf_token(self, form: BaseForm, field: CSRFTokenField) -> None:
        m = self.form_meta
        refusal = reporting.csrf_refusal(m.csrf_secret, m.csrf_context, str(field.data or ""), m.now)
        if refusal is not None:
            raise ValidationError(refusal)


class _Form(Form):
    csrf_token: CSRFTokenField  # added by the Meta below

    class Meta:
        csrf = True
        csrf_class = _KeyCSRF
        csrf_field_name = "csrf_token"


class ReportForm(_Form):
    action = HiddenField()
    occurrence = HiddenField()
    status = StringField()
    note = TextAreaField()
    evidence = StringField()
    on = StringField()


class PreferenceForm(_Form):
    change = StringField()  # pause | resume | lang
    lang = StringField()


def _meta(page: jobs.ReportPage, now: datetime) -> dict[str, Any]:
    return {"csrf_secret": _state().form_secret(), "csrf_context": page.grant.key_hash, "now": now}


# ---------------------------------------------------------------------------------------------
# the views


@dataclass
class _Refusal:
    """A refused form, shown next to it: which form, the sentence, what was typed."""

    where: str  # "action occurrence" of a report, "preferences", or "page"
    message: str
    values: dict[str, str] = field(default_factory=dict)


@blueprint.route("/report/<anything:rest>", methods=["GET", "POST"], provide_automatic_options=False)
@form_action("'self'")
def report(rest: str) -> Response:
    client = str(request.remote_addr or "")
    state = _state()
    if (wait := state.limit.retry_after(client)) is not None:
        raise HTTPError("429 Too Many Requests", _("Too many failed attempts from this address; try again in "
                                                  "{minutes} minutes.").format(minutes=(wait + 59) // 60),
                        [("Retry-After", str(wait)), ("Cache-Control", "no-store")])
    key, _sep, sub = rest.partition("/")
    if sub not in ("", "unsubscribe") or not reporting.KEY_RE.fullmatch(key):
        return _no_page(client)
    asked = request.args.get("lang", "")
    if asked and asked not in LANGUAGES:
        raise HTTPError("400 Bad Request", _("lang must be one of {languages}.").format(
            languages=", ".join(LANGUAGES)))
    now = timeutil.now_utc()
    page = _page(key, now, items=False)  # its assignments are read when the page is shown (_render)
    if page is None:
        return _no_page(client)
    with language(page.lang):
        if sub == "unsubscribe":
            return _unsubscribe(page, key, now)
        if request.method != "POST":  # GET, HEAD
            return _render(page, key, now)
        try:
            fields = request.form
        except RequestEntityTooLarge:
            return _render(page, key, now, _Refusal("page", _(
                "The form is too large (at most 64 KiB; a note holds at most {limit} characters); nothing was "
                "recorded.").format(limit=reporting.NOTE_MAX)), status=413)
        if fields.get("kind") == "preferences":
            return _preferences(page, key, now, client)
        return _report(page, key, now, client)


def _page(key: str, now: datetime, items: bool = True) -> jobs.ReportPage | None:
    """The page of *key*; without *items*, what a POST needs (a refused one shows it all again)."""
    server = current_server()
    asked = request.args.get("lang", "")
    return jobs.report_page(server.engine, server.url, key, now=now, as_of=server.as_of,
                            lang=asked if asked in LANGUAGES else None,
                            lookahead_days=server.settings.int("digest.lookahead_days"), items=items,
                            page_no=_page_no())


def _page_no() -> int:
    """``?page=N``: which page of the party's assignments; anything but a whole number is page 1."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else 1


def _no_page(client: str) -> Response:
    _state().limit.fail(client)
    raise HTTPError("404 Not Found", _("There is no report page at this address (the link may have expired or "
                                       "been replaced by the one in a newer digest; ask the secretariat)."),
                    [("Cache-Control", "no-store")])


def _report(page: jobs.ReportPage, key: str, now: datetime, client: str) -> Response:
    form = ReportForm(request.form, meta=_meta(page, now))
    typed = {name: str(request.form.get(name, ""))[:reporting.NOTE_MAX + 1] for name in ("status", "note", "evidence", "on")}
    where = f"{form.action.data or ''} {form.occurrence.data or ''}"
    if not form.validate():
        if form.csrf_token.errors:  # a failed token counts against the address; a malformed form does not
            _state().limit.fail(client)
        message = "; ".join(str(e) for e in form.csrf_token.errors) or _("The form is malformed.")
        return _render(page, key, now, _Refusal(where, message, typed), status=400)
    if not form.action.data or form.status.data not in REPORT_STATUSES:
        message = _("Choose what to report: in progress, done or cannot deliver.") if form.action.data \
            else _("The form does not say which assignment it reports on.")
        return _render(page, key, now, _Refusal(where, message, typed), status=400)
    server = current_server()
    try:
        changes = jobs.submit_report(server.engine, server.url, key, action=str(form.action.data),
                                     occurrence=str(form.occurrence.data or ""), status=str(form.status.data),
                                     note=str(form.note.data or ""), evidence=str(form.evidence.data or ""),
                                     on=str(form.on.data or ""), now=now)
    except TransitionError as exc:
        return _render(page, key, now, _Refusal(where, _sentence(exc), typed), status=409)
    except UsageError as exc:
        return _render(page, key, now, _Refusal(where, _sentence(exc), typed), status=422)
    if changes is None:  # revoked or expired between the two reads
        return _no_page(client)
    server.log_line(f"report page: {page.grant.party} reported {form.status.data} on {form.action.data}")
    query = {"reported": str(form.action.data), "status": str(form.status.data)}
    if form.occurrence.data:
        query["occurrence"] = str(form.occurrence.data)
    return _back(key, query)


def _preferences(page: jobs.ReportPage, key: str, now: datetime, client: str) -> Response:
    form = PreferenceForm(request.form, meta=_meta(page, now))
    if not form.validate():
        _state().limit.fail(client)
        message = "; ".join(str(e) for e in form.csrf_token.errors) or _("The form is malformed.")
        return _render(page, key, now, _Refusal("preferences", message), status=400)
    change, lang = form.change.data, str(form.lang.data or "")
    if change not in ("pause", "resume", "lang") or (change == "lang" and lang not in ("", *LANGUAGES)):
        return _render(page, key, now, _Refusal("preferences", _("The form is malformed.")), status=400)
    server = current_server()
    done = jobs.own_preference(server.engine, server.url, key, now=now,
                               paused=None if change == "lang" else change == "pause",
                               lang=lang if change == "lang" else None)
    if done is None:
        return _no_page(client)
    server.log_line(f"report page: {page.grant.party} set its digest preference ({change} {lang})".rstrip())
    # a language chosen is the page's from now on: the ?lang= of this visit is dropped then
    return _back(key, {"saved": change}, keep_lang=change != "lang")


def _unsubscribe(page: jobs.ReportPage, key: str, now: datetime) -> Response:
    server = current_server()
    paused = False
    if request.method == "POST":
        try:
            one_click = request.form.get("List-Unsubscribe")
        except RequestEntityTooLarge:
            one_click = None
        if one_click != ONE_CLICK:
            raise HTTPError("400 Bad Request", _("A one-click unsubscribe posts List-Unsubscribe=One-Click "
                                                 "(RFC 8058); nothing was changed."), [("Cache-Control", "no-store")])
        if jobs.own_preference(server.engine, server.url, key, now=now, paused=True) is None:
            return _no_page(str(request.remote_addr or ""))
        server.log_line(f"report page: {page.grant.party} paused its digest (one-click)")
        paused = True
    html = server.templates.render("report-unsubscribe.html", page=page, key=key, paused=paused or page.paused,
                                   just_paused=paused, link_lang=_link_lang(page))
    return _html(html, 200)


def _render(page: jobs.ReportPage, key: str, now: datetime, refusal: _Refusal | None = None,
            status: int = 200) -> Response:
    """The page of *key* (*page* may be the one without its assignments: they are read here),
    with *refusal* next to its form, or the notice of what was just recorded or saved."""
    token = str(ReportForm(meta=_meta(page, now)).csrf_token.current_token)
    state = _state()
    # the page as a link opens it is kept, rendered, per data revision, key, language, choices
    # and minute, its token put in as it is served: a party can own a thousand assignments
    plain = refusal is None and request.method != "POST" and not request.args.get("reported") \
        and not request.args.get("saved")
    kept_as = (page.revision, page.grant.key_hash, page.lang, page.paused, page.chosen_lang, _link_lang(page),
               current_server().as_of, now.replace(second=0, microsecond=0), _page_no()) \
        if plain and page.revision else None
    if kept_as is not None and (body := state.pages.get(kept_as)) is not None:
        return _html_bytes(body.replace(state.marker, token.encode("ascii")), status)
    if not page.report.entries:  # the page without its assignments (a POST's): read them now
        page = _page(key, now) or page
    if refusal is not None and refusal.where != "preferences" and not any(
            refusal.where == f"{e.item.action} {e.item.occurrence}" for e in page.report.entries):
        refusal.where = "page"  # a form for no assignment listed here: the sentence at the top
    confirmed = None  # after the redirect: what was just recorded (the page may show another day, --as-of)
    reported, said = request.args.get("reported", ""), request.args.get("status", "")
    if request.method != "POST" and reported and said in REPORT_STATUSES \
            and (reported, request.args.get("occurrence", "")) in page.owned:  # listed or not (dated back)
        confirmed = (reported + " " + request.args.get("occurrence", "")).strip(), said
    saved = request.args.get("saved") if request.method != "POST" else None
    html = current_server().templates.render(
        "report.html", page=page, report=page.report, key=key, q=_query(page), page_size=REPORT_PAGE_SIZE,
        token=state.marker.decode("ascii") if kept_as is not None else token, refusal=refusal, confirmed=confirmed,
        saved=saved if saved in ("pause", "resume", "lang") else None, statuses=REPORT_STATUSES,
        link_lang=_link_lang(page), today=now.astimezone(page.report.as_of.tzinfo).date())
    body = html.encode("utf-8")
    if kept_as is not None:
        state.pages.put(kept_as, body)
        body = body.replace(state.marker, token.encode("ascii"))
    return _html_bytes(body, status)


def _query(page: jobs.ReportPage) -> str:
    """The query the page's forms post to: its language link and its page, so a report comes back here."""
    from urllib.parse import urlencode

    query = {k: v for k, v in (("lang", _link_lang(page) or ""), ("page", str(page.page_no))) if v and v != "1"}
    return "?" + urlencode(query) if query else ""


def _link_lang(page: jobs.ReportPage) -> str | None:
    """The ?lang= the page's own links carry: the one this visit asked for, if any."""
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else None


def _html(html: str, status: int) -> Response:
    return _html_bytes(html.encode("utf-8"), status)


def _html_bytes(body: bytes, status: int) -> Response:
    response = Response(body, status, content_type=HTML)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(key: str, query: dict[str, str], keep_lang: bool = True) -> Response:
    """303 to the page again (Post/Redirect/Get): a reload does not post twice."""
    from urllib.parse import urlencode

    asked = request.args.get("lang", "")
    if keep_lang and asked in LANGUAGES:
        query = {"lang": asked, **query}
    if _page_no() > 1:
        query = {"page": str(_page_no()), **query}
    # the reason phrase as RFC 9110 writes it (werkzeug's redirect() would put it in capitals)
    return Response(b"", "303 See Other", {"Location": f"/report/{key}?{urlencode(query)}",
                                            "Cache-Control": "no-store"})


def _sentence(exc: UsageError) -> str:
    """A refusal as the page shows it: the rule's sentence, with its full stop (not capitalised:
    it may begin with an action's id)."""
    text = str(exc).strip()
    return text if text.endswith((".", "?", "!")) else text + "."
