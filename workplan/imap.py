"""Polling the IMAP mailbox that receives replies to digests (``inbox.imap.*`` settings).

:func:`fetch` hands each message, oldest first, to a handler, and moves it to the processed
folder only after the handler returned. A handler that raises stops the fetch there: that
message and the ones after it stay in the mailbox for the next fetch. A fetch interrupted
between the handler and the move (a lost connection, a killed process) hands the message over
again next time, so the handler must apply a message once only, by its Message-ID: together
that is exactly once.

Only the standard library's imaplib; imported by the commands that poll, never by ``--help``.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError, InboxError
from .i18n import _

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger("workplan.imap")

SECURITIES = ("ssl", "starttls", "none")
_DEFAULT_PORT = {"ssl": 993, "starttls": 143, "none": 143}


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # ssl | starttls | none
    user: str
    password: str
    mailbox: str
    processed: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> ImapSettings:
        """The settings checked, and the password read from the environment variable that
        ``inbox.imap.password_env`` names; a ConfigError (exit 2) names what is wrong."""
        host = settings.get("inbox.imap.host").strip()
        if not host:
            raise ConfigError(_("inbox.imap.host is not set, so there is no mailbox to fetch replies from"))
        security = settings.get("inbox.imap.security").strip().lower()
        if security not in SECURITIES:
            raise ConfigError(_("inbox.imap.security must be ssl, starttls or none, not {value!r}").format(
                value=security))
        if security == "none" and not is_loopback(host):
            raise ConfigError(_("inbox.imap.security none would send the IMAP password unencrypted, so it is "
                                "allowed only for a loopback host (localhost, 127.0.0.1, ::1), not {host!r}")
                              .format(host=host))
        port = settings.int("inbox.imap.port") if settings.get("inbox.imap.port").strip() else _DEFAULT_PORT[security]
        if not 0 < port < 65536:
            raise ConfigError(_("inbox.imap.port must be between 1 and 65535, not {port}").format(port=port))
        user = settings.get("inbox.imap.user").strip()
        if not user:
            raise ConfigError(_("inbox.imap.user is not set; the IMAP mailbox needs a login"))
        variable = settings.get("inbox.imap.password_env").strip()
        password = environ.get(variable, "") if variable else ""
        if not password:
            raise ConfigError(_("the IMAP password for {user!r} is read from the environment variable {variable}, "
                                "which is empty or not set").format(user=user, variable=variable or "''"))
        mailbox = settings.get("inbox.imap.mailbox").strip()
        processed = settings.get("inbox.imap.processed").strip()
        if not mailbox or not processed or mailbox == processed:
            raise ConfigError(_("inbox.imap.mailbox and inbox.imap.processed must be two different folders"))
        try:
            timeout = float(settings.get("inbox.imap.timeout"))
        except ValueError:
            timeout = 0
        if not timeout > 0:
            raise ConfigError(_("inbox.imap.timeout must be a number of seconds above 0, not {raw!r}").format(
                raw=settings.get("inbox.imap.timeout")))
        return cls(host, port, security, user, password, mailbox, processed, timeout)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    """A host named as this machine itself, without asking DNS."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FetchResult:
    """``results``: what the handler returned for each message, in the order handled (all of
    them moved to the processed folder)."""

    results: tuple[object, ...]

    @property
    def handled(self) -> int:
        return len(self.results)


def fetch(settings: ImapSettings, handle: Callable[[bytes], object]) -> FetchResult:
    """Hand every message in ``settings.mailbox`` to *handle*, oldest first, and move each one to
    ``settings.processed`` after *handle* returned. If *handle* raises, the fetch stops there,
    logs out and re-raises; that message and the later ones stay where they were."""
    conn = _connect(settings)
    results: list[object] = []
    handling = False
    try:
        capabilities = _login(conn, settings)
        _ensure_folder(conn, settings)
        _ok(conn.select(_quote(settings.mailbox)), settings,
            _("the IMAP server at {server} has no mailbox {mailbox!r} for {user!r} ({answer})"),
            mailbox=settings.mailbox, user=settings.user)
        # messages a person or an interrupted move flagged \Deleted are on their way out: not handed over
        uids = _ok(conn.uid("SEARCH", "UNDELETED"), settings,
                   _("the IMAP server at {server} refused to list the messages in {mailbox!r} ({answer})"),
                   mailbox=settings.mailbox)
        found = uids[0] if isinstance(uids[0], bytes) else b""
        for uid in sorted(found.decode("ascii").split(), key=int):  # oldest first, whatever order SEARCH gave
            raw = _message(conn, settings, uid)
            if raw is None:  # expunged meanwhile by another client
                continue
            handling = True
            results.append(handle(raw))
            handling = False
            _move(conn, settings, uid, capabilities)
            log.info("handled message %s and moved it to %s", uid, settings.processed)
    except (imaplib.IMAP4.error, OSError) as exc:  # the connection broke in the middle
        if handling:  # the handler's own failure is the caller's to see, as it is
            raise
        raise InboxError(_network_reason(exc, settings)) from None
    finally:
        _logout(conn)
    return FetchResult(tuple(results))


# ---------------------------------------------------------------------------


def _connect(s: ImapSettings) -> imaplib.IMAP4:
    try:
        if s.security == "ssl":
            return imaplib.IMAP4_SSL(s.host, s.port, ssl_context=ssl.create_default_context(), timeout=s.timeout)
        conn = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise InboxError(_network_reason(exc, s)) from None
    if s.security == "starttls":
        if "STARTTLS" not in conn.capabilities:
            _logout(conn)
            raise InboxError(_("the IMAP server at {server} does not offer STARTTLS, which inbox.imap.security "
                               "asks for").format(server=s.where))
        try:
            conn.starttls(ssl.create_default_context())
        except (imaplib.IMAP4.error, OSError) as exc:
            _logout(conn)
            raise InboxError(_network_reason(exc, s)) from None
    return conn


def _login(conn: imaplib.IMAP4, s: ImapSettings) -> frozenset[str]:
    """Log in; the capabilities after login (a server announces MOVE only then)."""
    try:
        conn.login(s.user, s.password)
    except imaplib.IMAP4.abort as exc:
        raise InboxError(_network_reason(exc, s)) from None
    except imaplib.IMAP4.error as exc:
        raise InboxError(_("the IMAP server at {server} refused the login of {user!r} ({answer})").format(
            server=s.where, user=s.user, answer=_answer(exc.args))) from None
    words = _ok(conn.capability(), s, _("the IMAP server at {server} refused CAPABILITY ({answer})"))
    return frozenset(b" ".join(w for w in words if isinstance(w, bytes)).decode("ascii", "replace").upper().split())


def _ensure_folder(conn: imaplib.IMAP4, s: ImapSettings) -> None:
    typ, listed = conn.list('""', _quote(s.processed))
    if typ == "OK" and any(item is not None for item in listed):
        return
    typ, answer = conn.create(_quote(s.processed))
    if typ != "OK":
        raise InboxError(_("the IMAP server at {server} could not create the folder {folder!r} ({answer})").format(
            server=s.where, folder=s.processed, answer=_answer(answer)))
    conn.subscribe(_quote(s.processed))


def _message(conn: imaplib.IMAP4, s: ImapSettings, uid: str) -> bytes | None:
    data = _ok(conn.uid("FETCH", uid, "(BODY.PEEK[])"), s,
               _("the IMAP server at {server} refused to hand over message {uid} ({answer})"), uid=uid)
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _move(conn: imaplib.IMAP4, s: ImapSettings, uid: str, capabilities: frozenset[str]) -> None:
    folder = _quote(s.processed)
    failed = _("the IMAP server at {server} refused to move message {uid} to {folder!r} ({answer})")
    if "MOVE" in capabilities:  # RFC 6851: one atomic step
        _ok(conn.uid("MOVE", uid, folder), s, failed, uid=uid, folder=s.processed)
        return
    _ok(conn.uid("COPY", uid, folder), s, failed, uid=uid, folder=s.processed)
    _ok(conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), s, failed, uid=uid, folder=s.processed)
    if "UIDPLUS" in capabilities:  # RFC 4315: expunge this message only
        _ok(conn.uid("EXPUNGE", uid), s, failed, uid=uid, folder=s.processed)
    else:  # also removes what someone else flagged \Deleted in this folder, as any mail program would
        _ok(conn.expunge(), s, failed, uid=uid, folder=s.processed)


def _ok(response: tuple[str, Sequence[object]], s: ImapSettings, sentence: str, **fields: str) -> list[object]:
    typ, data = response
    if typ != "OK":
        raise InboxError(sentence.format(server=s.where, answer=_answer(data), **fields))
    return list(data)


def _answer(data: object) -> str:
    """The server's words, for the sentence: ``[AUTHENTICATIONFAILED] Authentication failed.``"""
    items = data if isinstance(data, list | tuple) else [data]
    words = [i.decode("utf-8", "replace") if isinstance(i, bytes) else str(i) for i in items if i is not None]
    return " ".join(words).strip() or _("no answer")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):  # already gone: nothing left to close
        conn.logout()


def _network_reason(exc: BaseException, s: ImapSettings) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return _("the IMAP server at {server} did not answer within {seconds} s").format(
            server=s.where, seconds=f"{s.timeout:g}")
    if isinstance(exc, ConnectionRefusedError):
        return _("the IMAP server at {server} refused the connection").format(server=s.where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("the IMAP server at {server} did not present a certificate this machine trusts ({error})").format(
            server=s.where, error=exc.verify_message or exc.reason)
    if isinstance(exc, ssl.SSLError):
        return _("TLS with the IMAP server at {server} failed ({error})").format(server=s.where, error=exc.reason or exc)
    if isinstance(exc, socket.gaierror):
        return _("the IMAP host {host!r} is unknown").format(host=s.host)
    if isinstance(exc, imaplib.IMAP4.abort):
        return _("the IMAP server at {server} closed the connection ({error})").format(
            server=s.where, error=_answer(exc.args))
    detail = getattr(exc, "strerror", None) or _answer(exc.args) or type(exc).__name__
    return _("cannot talk to the IMAP server at {server} ({error})").format(server=s.where, error=detail)
