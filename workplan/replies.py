"""Replies to a digest, read from the raw message: who wrote, to which tokened address, and the
commands in their own text (``done 3``, ``started 3``, ``cannot 3: reason`` and the Spanish
``hecho 3``, ``iniciado 3``, ``no puede 3: motivo``).

Pure: the standard library's ``email`` package in, a :class:`Reply` out; no database, no network.
What a reply *means* (which assignment item 3 is, whether the sender may change it) is decided
by the caller against the digest the token names; the verbs are those of
:data:`workplan.planning.TRANSITIONS`.

Only the reply's own text counts. Quoted lines (``>``) are left out, and so is everything from a
reply header on (``On … wrote:`` and its Spanish and French forms, ``-----Original Message-----``,
Outlook's ``From: … Sent: …`` block, a line of underscores) and from the signature delimiter
``-- ``: a digest quoted back holds ``[3]`` on every item, and must never apply anything.

A message that nobody wrote (an automatic reply, a bounce) or that cannot be read reliably (HTML
only, no own text, too long, too large) carries a ``refusal`` sentence and no commands.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from .i18n import _, ngettext
from .planning import TRANSITIONS, unexplained_waiver

MAX_BYTES = 1024 * 1024  # a reply is a few lines; a larger message is not read at all
MAX_OWN_LINES = 100  # lines of own text (blank lines not counted); the "500 lines" is refused

TOKEN_RE = re.compile(r"^[a-z2-7]{32}$")

# the words people write, normalised (lower case, no accents), to the verbs of planning.TRANSITIONS
_WORDS: dict[str, str] = {
    "done": "done",
    "hecho": "done",
    "hecha": "done",
    "started": "start",
    "iniciado": "start",
    "iniciada": "start",
    "cannot": "waive",
    "no puede": "waive",
}
assert set(_WORDS.values()) <= set(TRANSITIONS), "reply verbs must be planning.TRANSITIONS verbs"

_WORD_RE = re.compile(r"^(" + "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in _WORDS),
                                              key=len, reverse=True)) + r")(?![a-z0-9])")
_COMMAND_RE = re.compile(r"^(?P<word>[a-z ]+?)\s+(?:\[\s*(?P<a>\d+)\s*\]|#\s*(?P<b>\d+)|(?P<c>\d+))\s*\.?$")

# reply headers, matched on normalised text
_ATTRIBUTION_START = re.compile(r"^(on|el|le|am|il|em)\s")
_ATTRIBUTION_END = re.compile(r"(wrote|escribio|a ecrit|schrieb|ha scritto|escreveu)\s*:\s*$")
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|mensaje original|message d'origine|forwarded message"
                       r"|mensaje reenviado)\s*-{2,}\s*$")
_HEADER_FROM = re.compile(r"^\**(from|de)\s*:\**\s")
_HEADER_NEXT = re.compile(r"^\**(sent|date|to|subject|enviado|fecha|para|asunto|envoye|a|objet)\s*:")
_UNDERSCORES = re.compile(r"^_{5,}\s*$")

_AUTO_SUBJECT = re.compile(r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response"
                           r"|respuesta automatica|fuera de (la )?oficina|ausencia|ausente:|vacation reply)")


@dataclass(frozen=True)
class Command:
    """One understood line: ``verb`` is a key of :data:`workplan.planning.TRANSITIONS`, ``number``
    the digest's ``[n]``, ``note`` the text after the colon as written (required for ``waive``)."""

    verb: str
    number: int
    note: str
    line: str


@dataclass(frozen=True)
class Reply:
    """``message_id``: the Message-ID header, or ``sha256:…`` of the message when it has none (the
    key of exactly-once). ``sender``: the From address, lower case. ``token``: the 32 base32
    characters after ``+`` in the address it was sent to, lower case, or None. ``refusal``: None,
    or the sentence saying why nothing in it can be applied (then there are no commands);
    ``automatic`` when that is because nobody wrote it (a bounce, an automatic reply), which
    must never be answered (mail loops).
    ``not_understood``: own lines that begin with a command word but do not parse."""

    message_id: str
    sender: str
    token: str | None
    subject: str
    refusal: str | None
    commands: tuple[Command, ...] = ()
    not_understood: tuple[str, ...] = ()
    automatic: bool = False


# ---------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text for matching only: NFKD, combining marks dropped, case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def parse(raw: bytes) -> Reply:
    """The reply in *raw* (the whole message as received); never raises on a malformed message."""
    too_big = len(raw) > MAX_BYTES
    msg = BytesParser(policy=policy.default).parsebytes(raw, headersonly=too_big)
    assert isinstance(msg, EmailMessage)
    # without a Message-ID, the hash stands in for it: of the bytes with LF line ends, the same
    # whether the message came through IMAP (CRLF) or a pipe from the mail server (LF)
    message_id = (_header(msg, "Message-ID").strip()
                  or "sha256:" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest())
    sender = parseaddr(_header(msg, "From"))[1].strip().lower()
    subject = " ".join(_header(msg, "Subject").split())
    token = _token(msg)

    def refused(reason: str, *, automatic: bool = False) -> Reply:
        return Reply(message_id, sender, token, subject, reason, automatic=automatic)

    if too_big:
        return refused(_("the message is larger than {limit} MB, so it was not read").format(
            limit=MAX_BYTES // (1024 * 1024)))
    if _is_bounce(msg, sender):
        return refused(_("the message is a delivery failure report (a bounce), not a reply"), automatic=True)
    if _is_automatic(msg):
        return refused(_("the message is an automatic reply (such as an out-of-office notice), "
                         "not one written by a person"), automatic=True)
    body = msg.get_body(preferencelist=("plain",))
    if body is None:
        if msg.get_body(preferencelist=("html",)) is not None:
            return refused(_("the message has only an HTML part and no plain text, which cannot be read reliably"))
        return refused(_("the message has no text of its own once the quoted digest is left out"))
    own = own_lines(_text(body).splitlines(), flowed=_param(body, "format") == "flowed",
                    delsp=_param(body, "delsp") == "yes")
    written = [line for line in own if line.strip()]
    if not written:
        return refused(_("the message has no text of its own once the quoted digest is left out"))
    if len(written) > MAX_OWN_LINES:
        return refused(ngettext("the message has {count} line of its own text, more than the {limit} read for commands",
                                "the message has {count} lines of its own text, more than the {limit} read for commands",
                                len(written)).format(count=len(written), limit=MAX_OWN_LINES))
    commands, not_understood = read_commands(written)
    return Reply(message_id, sender, token, subject, None, commands, not_understood)


def read_commands(lines: Iterable[str]) -> tuple[tuple[Command, ...], tuple[str, ...]]:
    """The commands among *lines*, and the lines that begin with a command word but do not parse.
    Lines that begin with no command word are prose and are ignored."""
    commands: list[Command] = []
    not_understood: list[str] = []
    for original in lines:
        line = original.strip()
        if not _WORD_RE.match(fold(line)):
            continue
        command = _command(line)
        if command is None:
            not_understood.append(line)
        else:
            commands.append(command)
    return tuple(commands), tuple(not_understood)


def _command(line: str) -> Command | None:
    head, colon, note = line.partition(":")
    match = _COMMAND_RE.match(fold(head))
    if match is None:
        return None
    verb = _WORDS.get(" ".join(match["word"].split()))
    if verb is None:
        return None
    note = note.strip()
    if colon and not note:
        return None  # "done 3:" says there is a note and gives none
    if unexplained_waiver(TRANSITIONS[verb][0], note):
        return None  # the status rules refuse it; say so in the confirmation, apply nothing
    return Command(verb, int(match["a"] or match["b"] or match["c"]), note, line)


def own_lines(lines: Sequence[str], *, flowed: bool = False, delsp: bool = False) -> list[str]:
    """The lines the sender wrote, without quoted lines, up to the signature or the original
    message. An ``On … wrote:`` followed by quoted lines is skipped with them, so an answer
    written below the quote or between its lines is read; followed by unquoted text (the
    original pasted as is), it ends the own text, as Outlook's header block does."""
    if flowed:
        lines = _unflow(lines, delsp=delsp)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip() == "--" or _starts_original(lines, i):
            break
        span = _attribution(lines, i)
        if span:
            following = next((n for n in lines[i + span:] if n.strip()), "")
            if not following.lstrip().startswith(">"):
                break
            i += span
            continue
        if not line.lstrip().startswith(">"):
            out.append(line)
        i += 1
    return out


def _starts_original(lines: Sequence[str], i: int) -> bool:
    """``-----Original Message-----``, a line of underscores, or Outlook's From/Sent block."""
    text = fold(lines[i])
    if _ORIGINAL.match(text) or _UNDERSCORES.match(lines[i].strip()):
        return True
    if _HEADER_FROM.match(text):  # From/De, then Sent/Enviado/To/Subject within a few lines
        return any(_HEADER_NEXT.match(fold(nxt)) for nxt in lines[i + 1:i + 4])
    return False


def _attribution(lines: Sequence[str], i: int) -> int:
    """How many lines the ``On … wrote:`` starting at line *i* spans (Gmail wraps a long one), or 0."""
    text = fold(lines[i])
    if _ATTRIBUTION_END.search(text):
        if _ATTRIBUTION_START.match(text):
            return 1
        following = next((n for n in lines[i + 1:] if n.strip()), "")  # "Name wrote:", then the quote
        return 1 if following.lstrip().startswith(">") else 0
    if _ATTRIBUTION_START.match(text):
        for n, nxt in enumerate(lines[i + 1:i + 3], start=2):
            if not nxt.strip() or nxt.lstrip().startswith(">"):
                return 0
            if _ATTRIBUTION_END.search(fold(nxt)):
                return n
    return 0


def _unflow(lines: Sequence[str], *, delsp: bool = False) -> list[str]:
    """RFC 3676 format=flowed: a line ending in a space goes on with the next one of the same
    quote depth (a long ``cannot 3: …`` note wrapped by Thunderbird or Apple Mail is one line)."""
    out: list[str] = []
    depths: list[int] = []
    joining = False
    for line in lines:
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffing
            content = content[1:]
        if joining and depths and depths[-1] == depth:
            out[-1] += content
        else:
            out.append(">" * depth + (" " if depth else "") + content)
            depths.append(depth)
        joining = content.endswith(" ") and content.rstrip() != "--"
        if joining and delsp:
            out[-1] = out[-1][:-1]
    return out


# ---------------------------------------------------------------------------
# headers


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot make sense of counts as absent
        return ""
    return "" if value is None else str(value)


def _headers(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name) or []]
    except Exception:
        return []


def _token(msg: Message) -> str | None:
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for _name, address in getaddresses(_headers(msg, name)):
            local, _at, _domain = address.rpartition("@")
            _base, plus, token = local.partition("+")
            if plus and TOKEN_RE.match(token.lower()):
                return token.lower()
    return None


def _is_bounce(msg: Message, sender: str) -> bool:
    if msg.get_content_type() == "multipart/report" and _param(msg, "report-type") == "delivery-status":
        return True
    if sender.partition("@")[0] in ("mailer-daemon", "postmaster"):
        return True
    return any(path.strip().replace(" ", "") == "<>" for path in _headers(msg, "Return-Path"))


def _is_automatic(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    if _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if msg.get_content_type() == "multipart/report":  # a read receipt (disposition-notification)
        return True
    return bool(_AUTO_SUBJECT.search(fold(_header(msg, "Subject"))))


# ---------------------------------------------------------------------------
# the body


def _param(part: Message, name: str) -> str:
    value = part.get_param(name)
    return value.lower() if isinstance(value, str) else ""


def _text(part: Message) -> str:
    """The decoded text of a text/plain part: transfer encoding undone, then the declared charset,
    falling back to UTF-8 and Latin-1 when the declaration is missing, unknown or wrong."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charsets = [part.get_content_charset() or "us-ascii", "utf-8", "latin-1"]
    for charset in charsets:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # pragma: no cover - latin-1 decodes any bytes
