"""A status digest as an email: multipart/alternative, plain text and HTML with inlined CSS.

The message is stable for a recipient and a period: the same digest rendered twice gives the
same bytes (Date is the as-of moment, Message-ID names the recipient, the ISO week and the
group's domain), so a sender can recognise what it already sent.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..reports import Digest
    from ..templating import Templates

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


def message_id(digest: Digest) -> str:
    party = _ID_UNSAFE.sub("-", digest.party.id).strip("-").lower() or "party"
    domain = _ID_UNSAFE.sub("-", digest.group_domain).strip("-") or "workplan.invalid"
    return f"<digest.{digest.period.lower()}.{party}@{domain}>"


def sender_address(configured: str, digest: Digest) -> str:
    """``smtp.from`` when set, else the secretariat's first address, else workplan@<group domain>."""
    return default_sender(configured, digest.secretariat_email, digest.group_domain)


def default_sender(configured: str, secretariat_email: str, group_domain: str) -> str:
    """What every message of workplan is sent from (digests, confirmations of replies)."""
    return configured or secretariat_email or f"workplan@{group_domain}"


def _address(display: str, addr: str) -> Address:
    if "<" in addr:  # already "Name <x@y>": keep it as written
        from email.headerregistry import HeaderRegistry

        header = HeaderRegistry()("To", addr)
        return header.addresses[0]  # type: ignore[attr-defined, no-any-return]
    # a name from the actions file must not break the header onto a new line
    return Address(display_name=" ".join(display.split()), addr_spec=addr)


def inline_css(html: str) -> str:
    import css_inline

    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
    return inliner.inline(html)


def quoted_printable(text: str) -> str:
    """*text* in UTF-8, quoted-printable (RFC 2045: lines of at most 76 characters, a space or tab
    ending a line encoded). Its lines are split and ended as the email package does (CR, LF or
    CRLF, each line ending with a line break), so that a stray CR cannot split a line unencoded."""
    lines = text.encode("utf-8").splitlines()
    return binascii.b2a_qp(b"".join(line + b"\n" for line in lines), istext=True).decode("ascii")


def build_message(digest: Digest, templates: Templates, sender: str) -> EmailMessage:
    subject = " ".join(templates.render("digest-subject.txt", digest=digest).split())
    text = templates.render("digest.txt", digest=digest)
    html = inline_css(templates.render("digest.html", digest=digest))
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = _address(digest.group_name, sender)
    recipients = digest.party.emails or (sender,)
    msg["To"] = [_address(digest.party.name, a) for a in recipients]
    msg["Date"] = format_datetime(digest.as_of.replace(microsecond=0))
    msg["Message-ID"] = message_id(digest)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a digest
    if digest.report is not None:
        if digest.report.reply_to:  # the tagged address: a reply names its party and digest
            msg["Reply-To"] = digest.report.reply_to
        # RFC 8058: a mail client's "unsubscribe" button pauses this party's digest in one POST
        msg["List-Unsubscribe"] = f"<{digest.report.unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # each part's headers from the email package, its body from binascii's C encoder: the
    # package's own quoted-printable is pure Python, a tenth of `digest --all` at 10,000 actions
    msg.set_content("", cte="quoted-printable")
    msg.set_payload(quoted_printable(text))
    msg.add_alternative("", subtype="html", cte="quoted-printable")
    _plain, html_part = msg.iter_parts()
    html_part.set_payload(quoted_printable(html))
    # a boundary derived from the content keeps the bytes stable; "=_" never occurs in
    # quoted-printable bodies, so it cannot collide with them
    digest_of_parts = hashlib.sha256((text + "\0" + html).encode("utf-8")).hexdigest()[:24]
    msg.set_boundary(f"=_workplan_{digest_of_parts}")
    return msg


def render_digest(digest: Digest, templates: Templates, sender: str) -> bytes:
    return build_message(digest, templates, sender).as_bytes()
