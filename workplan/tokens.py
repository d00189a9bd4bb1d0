"""Private feed tokens: issued, rotated and revoked by the secretariat, resolved by the server.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once when it is issued. Only its
SHA-256 is kept, so a copy of the database does not open anybody's feed. The server finds the
row by the hash of what it was given (an indexed lookup, so the time taken says nothing about
how close a guess was) and confirms it with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import UnknownItem, UsageError
from .i18n import _
from .models import FeedToken, Party
from .timeutil import to_utc_naive

TOKEN_BYTES = 32
# what token_urlsafe(32) gives: 43 characters of the URL-safe base64 alphabet; anything else in
# the URL is not a token and is answered 404 without touching the database
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Issued:
    party: str
    token: str
    revoked: int  # how many earlier tokens this one replaced


def _party(session: Session, party: str) -> Party:
    row = session.get(Party, party)
    if row is None or row.withdrawn_at is not None:
        raise UnknownItem(_("there is no party {party!r} (a private feed belongs to one party, not to a set)")
                          .format(party=party))
    return row


def _active(session: Session, party: str) -> list[FeedToken]:
    query = select(FeedToken).where(FeedToken.party_id == party, FeedToken.revoked_at.is_(None))
    return list(session.scalars(query.with_for_update()))


def issue(session: Session, party: str, now: datetime, rotate: bool = False) -> Issued:
    """A new token for *party*. Without *rotate*, refused while the party has one: it cannot be
    shown again, and a second one would quietly double the ways into the feed."""
    _party(session, party)
    active = _active(session, party)
    if active and not rotate:
        created = min(t.created_at for t in active)
        raise UsageError(_(
            "{party} already has a private feed token (issued {day}); it cannot be shown again, "
            "because only its hash is kept: use --rotate to issue a new one (the old URL stops working) "
            "or --revoke to close the feed").format(party=party, day=f"{created:%Y-%m-%d}"))
    stamp = to_utc_naive(now)
    for row in active:
        row.revoked_at = stamp
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(FeedToken(token_hash=token_hash(token), party_id=party, created_at=stamp))
    session.flush()
    return Issued(party, token, len(active))


def revoke(session: Session, party: str, now: datetime) -> int:
    """Revoke every token of *party*; how many there were."""
    _party(session, party)
    active = _active(session, party)
    for row in active:
        row.revoked_at = to_utc_naive(now)
    session.flush()
    return len(active)


def lookup_hash(token: str) -> str | None:
    """The hash to look *token* up by, or None when it cannot be a token at all."""
    return token_hash(token) if TOKEN_RE.fullmatch(token) else None


def confirm(stored_hash: str, token: str) -> bool:
    return hmac.compare_digest(stored_hash.encode("ascii"), token_hash(token).encode("ascii"))


def subscription_urls(base_url: str, token: str) -> tuple[str, str]:
    """(``webcal://…``, ``https://…``) for the feed of *token*, below the server's public URL
    (``http://…`` when that is what base_url says: the command warns about it)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(_("server.base_url must be an http(s) URL such as https://workplan.example.org, "
                           "not {value!r}").format(value=base_url))
    path = parts.path.rstrip("/") + f"/feeds/{token}.ics"
    https = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    webcal = urlunsplit(("webcal", parts.netloc, path, "", ""))
    return webcal, https
