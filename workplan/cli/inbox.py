"""`workplan inbox`: replies to digests by email, piped in by the mail server or fetched by IMAP,
and the list of what came in."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ..i18n import _, ngettext
from ..project import Project
from .app import emit, pass_project, warn

if TYPE_CHECKING:
    from ..inbox import Handled, Sent


@click.group()
def inbox() -> None:
    """Replies to digests: lines such as "done 3", "started 3" or "cannot 3: reason" apply to the
    numbered items of the digest replied to (origin email), and the sender gets one confirmation.

    A reply from an address that is not its party's, or to an unknown, expired or revoked key,
    applies nothing and is held for the secretariat (`workplan inbox list`). Each message is
    applied once, by its Message-ID."""


@inbox.command("receive")
@pass_project
def receive(app: Project) -> None:
    """Read one email message on standard input, as a mail server pipes it (a Postfix alias
    "|workplan --config /srv/rcm/workplan.toml inbox receive"). Exit 0 when it was recorded,
    whatever became of it; 75 (try again later) when it could not be recorded."""
    from .. import jobs
    from ..inbox import STDIN_MAX

    raw = sys.stdin.buffer.read(STDIN_MAX + 1)
    received = jobs.receive_reply(app, raw)
    click.echo(describe(received.handled, received.confirmations, received.confirm_error))


@inbox.command("fetch")
@pass_project
def fetch(app: Project) -> None:
    """Fetch the replies from the IMAP mailbox (inbox.imap.*), record and apply each once, move
    it to the processed folder, and send the confirmations owed."""
    from .. import jobs

    fetched = jobs.fetch_replies(app)
    for handled in fetched.handled:
        click.echo(describe(handled, fetched.confirmations, fetched.confirm_error))
    counts = {s: sum(1 for h in fetched.handled if h.status == s and not h.duplicate)
              for s in ("applied", "partly", "nothing", "held", "ignored")}
    again = sum(1 for h in fetched.handled if h.duplicate)
    from ..formatting import inbox_status as status_word

    parts = [f"{n} {status_word(s)}" for s, n in counts.items() if n]
    if again:
        parts.append(ngettext("{count} already processed", "{count} already processed", again).format(count=again))
    sent = sum(1 for c in fetched.confirmations if c.status == "sent")
    click.echo(ngettext("{count} message fetched", "{count} messages fetched", len(fetched.handled)).format(
        count=len(fetched.handled)) + (f" ({', '.join(parts)})" if parts else "") + "; " + ngettext(
        "{count} confirmation sent", "{count} confirmations sent", sent).format(count=sent))
    if fetched.confirm_error:
        warn("workplan: " + _("confirmations not sent, kept for the next run: {error}").format(
            error=fetched.confirm_error))


@inbox.command("list")
@click.option("--all", "everything", is_flag=True, help="Every message recorded, not only the held ones.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_project
def list_(app: Project, everything: bool, fmt: str) -> None:
    """The replies held for the secretariat (with --all, every reply recorded), newest first."""
    from .. import jobs
    from ..formatting import inbox_lines

    lines, unsent = jobs.inbox_list(app, everything)
    emit(inbox_lines(lines, fmt))
    for state, count in unsent:
        warn("workplan: " + (ngettext(
            "{count} confirmation is not sent yet; the next `workplan inbox fetch` or `inbox receive` sends it",
            "{count} confirmations are not sent yet; the next `workplan inbox fetch` or `inbox receive` sends them",
            count) if state == "pending" else ngettext(
            "{count} confirmation was interrupted while the mail server took it, so it may not have arrived; "
            "it is not sent again",
            "{count} confirmations were interrupted while the mail server took them, so they may not have arrived; "
            "they are not sent again", count)).format(count=count))


def describe(h: Handled, confirmations: list[Sent], confirm_error: str) -> str:
    """One line: what became of a message, and of its confirmation."""
    from ..formatting import inbox_status as status_word

    who = h.sender + (f" ({h.party})" if h.party else "")
    if h.duplicate:
        return _("{id} from {who}: already processed on {moment} ({status}); nothing applied now").format(
            id=h.message_id, who=who, moment=f"{h.received_at:%Y-%m-%d %H:%M} UTC", status=status_word(h.status))
    if h.status == "held":
        return _("{id} from {who}: held for the secretariat, nothing applied: {reason}; see `workplan inbox list`") \
            .format(id=h.message_id, who=who, reason=h.reason)
    if h.status == "ignored":
        return _("{id} from {who}: ignored, never answered: {reason}").format(id=h.message_id, who=who, reason=h.reason)
    line = _("{id} from {who}: {status}: {applied} applied, {unapplied} not applied").format(
        id=h.message_id, who=who, status=status_word(h.status), applied=h.applied, unapplied=h.unapplied)
    mine = next((c for c in confirmations if c.row_id == h.row_id), None)
    if mine is not None and mine.status == "sent":
        return line + "; " + _("confirmation sent to {to}").format(to=mine.to)
    why = mine.detail if mine is not None else confirm_error
    return line + "; " + _("confirmation not sent ({why}): the next `workplan inbox fetch` or `inbox receive` "
                           "sends it").format(why=why or _("not tried yet"))


COMMANDS = (inbox,)
