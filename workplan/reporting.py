"""The loop back from the focal points: report keys, numbered items, reports and preferences.

Each digest a party is sent carries one *key*: 20 random bytes written as 32 characters of
lowercase base32, so that it survives in the local part of an email address (mail systems
may fold case) as well as in a URL. It opens the party's report page
(``server.base_url``/report/KEY) and tags the reply address (``reply.address`` as
``workplan+KEY@domain``). Only its SHA-256 is stored (as :mod:`workplan.tokens` keeps private
feed tokens); it expires after ``report.link_days`` and ``workplan report revoke PARTY`` ends
every key of a party at once. A key also remembers the numbers ``[1]``, ``[2]``… its digest
gave the items its party owns, which a reply names.

A report changes a status through :func:`workplan.services.change_status`, with the rules of
the command line (:func:`workplan.planning.report_verbs` says which changes a party may make
on its own assignment), so an event from the page or a reply is like any other: dated, checked,
appended, never rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import planning, services
from .errors import TransitionError, UnknownItem, UsageError
from .i18n import LANGUAGES, _, word
from .models import Assignment, Party, PartyPreference, ReportItem, ReportKey
from .timeutil import to_utc_naive

if TYPE_CHECKING:
    from .reports import Digest

KEY_BYTES = 20
KEY_RE = re.compile(r"^[a-z2-7]{32}$")
LINK_DAYS = 30  # the default of report.link_days
NOTE_MAX = 4000  # characters of a note from a focal point
EVIDENCE_MAX = 2000  # characters of an evidence link
ORIGINS = ("web", "email")


def new_key() -> str:
    return base64.b32encode(secrets.token_bytes(KEY_BYTES)).decode("ascii").lower()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def lookup_hash(key: str) -> str | None:
    """The hash to look *key* up by, or None when it cannot be a key at all (answered like an
    unknown one, without touching the database)."""
    return key_hash(key) if KEY_RE.fullmatch(key) else None


@dataclass(frozen=True)
class Grant:
    """What a live key lets its holder do: report on *party*'s own assignments."""

    key_hash: str
    party: str
    period: str
    expires_at: datetime  # aware, UTC


@dataclass(frozen=True)
class Numbered:
    number: int
    action: str
    party: str
    occurrence: str


# ---------------------------------------------------------------------------
# keys


def issue(session: Session, party: str, period: str, items: Iterable[Numbered], now: datetime, days: int) -> str:
    """A new key for *party*'s digest of *period*, remembering its numbered *items*."""
    key = new_key()
    digest = key_hash(key)
    stamp = to_utc_naive(now)
    session.add(ReportKey(key_hash=digest, party_id=party, period=period, created_at=stamp,
                          expires_at=stamp + timedelta(days=days), revoked_at=None))
    session.flush()
    session.add_all(ReportItem(key_hash=digest, number=i.number, action_id=i.action, party_id=i.party,
                               occurrence=i.occurrence) for i in items)
    return key


def resolve(session: Session, key: str, now: datetime) -> Grant | None:
    """The grant of a live *key*; None for one that is malformed, unknown, expired or revoked
    (the caller answers all four alike)."""
    digest = lookup_hash(key)
    if digest is None:
        return None
    row = session.get(ReportKey, digest)
    if row is None or row.revoked_at is not None or row.expires_at <= to_utc_naive(now):
        return None
    if not hmac.compare_digest(row.key_hash, key_hash(key)):  # the lookup was by hash; confirm in constant time
        return None
    return Grant(row.key_hash, row.party_id, row.period, row.expires_at.replace(tzinfo=UTC))


def numbered_items(session: Session, grant: Grant) -> dict[int, Numbered]:
    rows = session.scalars(select(ReportItem).where(ReportItem.key_hash == grant.key_hash))
    return {r.number: Numbered(r.number, r.action_id, r.party_id, r.occurrence) for r in rows}


def revoke(session: Session, party: str, now: datetime) -> int:
    """End every live key of *party* at once; how many there were."""
    if session.get(Party, party) is None:
        raise UnknownItem(_("there is no party {party!r}").format(party=party))
    result = session.execute(update(ReportKey).where(ReportKey.party_id == party, ReportKey.revoked_at.is_(None))
                             .values(revoked_at=to_utc_naive(now)).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def page_url(base_url: str, key: str) -> str:
    """The report page of *key* below the server's public URL."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(_("server.base_url must be an http(s) URL such as https://workplan.example.org, "
                           "not {value!r}").format(value=base_url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + f"/report/{key}", "", ""))


def reply_address(address: str, key: str) -> str:
    """``reply.address`` with the key as its tag: ``workplan@example.org`` → ``workplan+KEY@example.org``."""
    local, _at, domain = address.strip().rpartition("@")
    if not local or not domain:
        raise UsageError(_("reply.address must be an email address such as workplan@example.org, not {value!r}")
                         .format(value=address))
    return f"{local.split('+', 1)[0]}+{key}@{domain}"


def attach(session: Session, digests: Iterable[Digest], *, base_url: str, reply_to: str, days: int,
           now: datetime) -> None:
    """Give each party digest a fresh key: its items numbered, its report page, reply address
    and one-click pause (the secretariat's group-wide digest gets none: it reports nothing)."""
    from .reports import ReportLinks, number_items

    for digest in digests:
        if digest.group_wide:
            continue
        numbered = [Numbered(n, i.action, i.party.id, i.occurrence) for n, i in number_items(digest)]
        key = issue(session, digest.party.id, digest.period, numbered, now, days)
        page = page_url(base_url, key)
        expires = (now + timedelta(days=days)).astimezone(digest.as_of.tzinfo).date()
        digest.report = ReportLinks(page, reply_address(reply_to, key) if reply_to else "", page + "/unsubscribe",
                                    expires)


# ---------------------------------------------------------------------------
# reports


def check_evidence(link: str) -> str:
    """An evidence link: http or https, nothing else (no ``javascript:``, no ``data:``)."""
    link = link.strip()
    if not link:
        return ""
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(link) > EVIDENCE_MAX \
            or any(c.isspace() or ord(c) < 32 for c in link):
        raise UsageError(_("the evidence link must be an http or https address, such as "
                           "https://example.org/report.pdf"))
    return link


def check_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise UsageError(_("the note is too long: at most {limit} characters, not {length}").format(
            length=len(note), limit=NOTE_MAX))
    return note


def _owner_as(session: Session, party: str, named: str) -> str:
    """The owner a focal point of *party* reports for: *named*, a numbered item's owner, when it
    is a role (its digest carried the role's items because *party* held it on the digest's day);
    else *party* itself."""
    if named == party:
        return party
    from .queries import roles

    return named if named in roles(session) else party


def report(session: Session, grant: Grant, item: Numbered | tuple[str, str], status: str, *, note: str,
           evidence: str, on: datetime | None, day_only: bool, now: datetime, origin: str,
           by: str) -> list[services.Change]:
    """Apply what a focal point reported on one of its party's own assignments: *item* is a
    numbered digest item or (action, occurrence). Raises a :class:`UsageError` in one sentence
    for anything the rules refuse; nothing is written then."""
    assert origin in ORIGINS
    action, occurrence = (item.action, item.occurrence) if isinstance(item, Numbered) else item
    note, evidence = check_note(note), check_evidence(evidence)
    owner = _owner_as(session, grant.party, item.party if isinstance(item, Numbered) else grant.party)
    row = session.scalars(select(Assignment).where(
        Assignment.action_id == action, Assignment.party_id == owner, Assignment.occurrence == occurrence,
        Assignment.withdrawn_at.is_(None))).first()
    if row is None:
        raise UnknownItem(_("{party} has no assignment {action} to report on").format(
            party=grant.party, action=action + (f" {occurrence}" if occurrence else "")))
    verbs = planning.report_verbs(row.status, status)
    if verbs is None:
        if status not in planning.REPORT_STATUSES:
            raise UsageError(_("{status!r} is not a status a focal point reports (in_progress, done, waived)")
                             .format(status=status))
        raise TransitionError(_("{action} is {status} for {party}; only the secretariat can change it").format(
            action=action, status=word(row.status), party=grant.party))
    if not verbs:
        raise TransitionError(_("{action} is already {status} for {parties}").format(
            action=action, status=word(status), parties=grant.party))
    if planning.unexplained_waiver(status, note):
        raise UsageError(_("“cannot deliver” needs a note saying why"))
    changes: list[services.Change] = []
    for i, verb in enumerate(verbs):
        last = i == len(verbs) - 1
        changes += services.change_status(
            session, verb, action, owner, occurrence, on, now,
            note=note if last else _("corrected by the focal point"), by=by, origin=origin, day_only=day_only,
            evidence=evidence if last else "")
    return changes


# ---------------------------------------------------------------------------
# preferences


@dataclass(frozen=True)
class Preference:
    party: str
    digest_paused: bool
    lang: str  # '' = as the actions file says
    updated_at: datetime
    updated_by: str


def preferences(session: Session, parties: Sequence[str] | None = None) -> dict[str, Preference]:
    query = select(PartyPreference)
    if parties is not None:
        query = query.where(PartyPreference.party_id.in_(list(parties)))
    return {r.party_id: Preference(r.party_id, r.digest_paused, r.lang, r.updated_at.replace(tzinfo=UTC),
                                   r.updated_by) for r in session.scalars(query)}


def set_preference(session: Session, party: str, *, now: datetime, by: str, paused: bool | None = None,
                   lang: str | None = None) -> Preference:
    """Pause or resume *party*'s digest, or set the language it reads ('' for the actions
    file's); the latest choice holds, whoever made it (the party or the secretariat)."""
    if session.get(Party, party) is None:
        raise UnknownItem(_("there is no party {party!r}").format(party=party))
    if lang not in (None, "", *LANGUAGES):
        raise UsageError(_("{lang!r} is not a language of workplan ({known})").format(
            lang=lang, known=", ".join(LANGUAGES)))
    row = session.get(PartyPreference, party, with_for_update=True)
    stamp = to_utc_naive(now)
    if row is None:
        row = PartyPreference(party_id=party, digest_paused=False, lang="", updated_at=stamp, updated_by=by)
        session.add(row)
    if paused is not None:
        row.digest_paused = paused
    if lang is not None:
        row.lang = lang
    row.updated_at, row.updated_by = stamp, by
    session.flush()
    return Preference(party, row.digest_paused, row.lang, now, by)


# ---------------------------------------------------------------------------
# the report page's form tokens (CSRF)

CSRF_SECRET_META = "report.csrf_secret"  # the meta row holding the server's secret (hex)
CSRF_SECRET_BYTES = 32
CSRF_TTL = timedelta(hours=24)  # how long a page's forms can be sent after it was opened
_CSRF_RE = re.compile(r"^(\d{1,12})\.([0-9a-f]{64})$")


def csrf_secret(session: Session) -> bytes:
    """The secret every form token is signed with: made once, at random, and kept in the
    ``meta`` table (never in a file), so that every server process on the database signs and
    checks alike. Made by the first process that needs it; one made at the same moment by
    another process loses the race and the one kept is read back."""
    from sqlalchemy.exc import IntegrityError

    from .db import get_meta
    from .models import Meta

    kept = get_meta(session, CSRF_SECRET_META)
    if kept is None:
        try:
            with session.begin_nested():
                session.add(Meta(key=CSRF_SECRET_META, value=secrets.token_hex(CSRF_SECRET_BYTES)))
            session.commit()
        except IntegrityError:
            session.rollback()
        kept = get_meta(session, CSRF_SECRET_META)
        assert kept is not None
    return bytes.fromhex(kept)


def csrf_token(secret: bytes, key_digest: str, issued: datetime) -> str:
    """The token of a form on the page of the key hashing to *key_digest*, issued at *issued*:
    the moment, and an HMAC of the key's hash and the moment (a token of one key's page is
    worth nothing on another's, and none outlives :data:`CSRF_TTL`)."""
    stamp = str(int(issued.timestamp()))
    return f"{stamp}.{_csrf_mac(secret, key_digest, stamp)}"


def _csrf_mac(secret: bytes, key_digest: str, stamp: str) -> str:
    return hmac.new(secret, f"{key_digest}:{stamp}".encode("ascii"), hashlib.sha256).hexdigest()


def csrf_refusal(secret: bytes, key_digest: str, token: str, now: datetime) -> str | None:
    """None for a token this server issued for this key's page less than :data:`CSRF_TTL`
    ago; otherwise the sentence that refuses the form."""
    again = _("open the report page again from the link in your digest and send the form from there")
    if not token:
        return _("The form carries no security token; {again}.").format(again=again)
    m = _CSRF_RE.fullmatch(token)
    if m is None or not hmac.compare_digest(m.group(2), _csrf_mac(secret, key_digest, m.group(1))):
        return _("The form's security token is not one this page issued; {again}.").format(again=again)
    issued = datetime.fromtimestamp(int(m.group(1)), UTC)
    if issued > now + planning.CLOCK_SKEW or now - issued > CSRF_TTL:
        return _("The form has expired (a page's forms can be sent for {hours} hours); {again}.").format(
            hours=int(CSRF_TTL.total_seconds() // 3600), again=again)
    return None
