"""The confirmation of a reply to a digest, as an email: plain text, an answer to the reply
(In-Reply-To, References), marked ``Auto-Submitted: auto-replied`` (RFC 3834) so that no
vacation notice answers it back."""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from .digest import quoted_printable

if TYPE_CHECKING:
    from datetime import datetime

    from ..templating import Templates
    from ..views import Confirmation


def subject(original: str) -> str:
    """``Re: …`` once, however many the reply already had."""
    text = " ".join(original.split())
    return text if text.lower().startswith("re:") else ("Re: " + text).strip()


def build_confirmation(c: Confirmation, templates: Templates, sender: str, group_name: str,
                       now: datetime) -> EmailMessage:
    from .digest import _address

    text = templates.render("confirmation.txt", c=c)
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = subject(c.subject) if c.subject else "Re:"
    msg["From"] = _address(group_name, sender)
    msg["To"] = Address(addr_spec=c.to)
    msg["Date"] = format_datetime(now.replace(microsecond=0))
    msg["Message-ID"] = c.message_id
    if c.in_reply_to:
        msg["In-Reply-To"] = c.in_reply_to
        msg["References"] = c.in_reply_to
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: an answer to a message, never to be answered
    msg.set_content("", cte="quoted-printable")
    msg.set_payload(quoted_printable(text))
    return msg
