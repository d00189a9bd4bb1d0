"""Documents rendered from templates: agenda, digest, graph."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _
from ..project import Project
from .app import pass_project
from .params import as_of_option, lang_option


def _write_or_print(app: Project, text: str | bytes, out: Path | None) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)  # every document here is UTF-8 text
        return
    from ..files import atomic_write

    atomic_write(out, data)
    click.echo(_("wrote {file}").format(file=out), err=True)


@click.command()
@click.option("--next-virtual", "which", flag_value="virtual", help="The next virtual meeting (or its expected slot).")
@click.option("--next-face-to-face", "which", flag_value="face-to-face",
              help="The next face-to-face meeting (or its expected slot).")
@click.option("--next", "which", flag_value="next", default=True,
              help="The next meeting of any kind, or the first slot the cadence expects one in (default).")
@click.option("--meeting", "meeting_id", metavar="ID", help="The meeting with this id.")
@as_of_option
@lang_option
@click.option("--format", "fmt", type=click.Choice(["md", "html", "txt"]), default="md", show_default=True,
              help="Markdown, HTML (for a browser or print) or plain text.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_project
def agenda(app: Project, which: str, meeting_id: str | None, as_of: str | None, fmt: str, out: Path | None) -> None:
    """The agenda of a meeting, written from what is due, late or blocked.

    Sections: opening; adoption of the agenda; items due at this meeting; overdue actions by
    owner; per-country status of fanned-out deliverables; completed since the previous meeting;
    deadlines before the following meeting; blocked chains; the next meeting per the cadence;
    any other business. When no meeting is scheduled, the slot the cadence expects is proposed.
    """
    from .. import jobs
    from ..render.agenda import render_agenda
    from ..templating import Templates

    chosen = click.get_current_context().get_parameter_source("which")
    if meeting_id and chosen is not None and chosen.name != "DEFAULT":
        raise click.UsageError(_("say which meeting once: --meeting ID, or one of --next-virtual, "
                                 "--next-face-to-face, --next"))
    data = jobs.agenda(app, which, meeting_id, as_of)
    _write_or_print(app, render_agenda(data, fmt, Templates(app.settings.templates_dir)), out)


@click.command()
@click.argument("meeting_id", metavar="[MEETING]", required=False)
@as_of_option
@lang_option
@click.option("--format", "fmt", type=click.Choice(["md", "html", "txt", "json", "csv"]), default="md",
              show_default=True, help="Markdown, HTML (letterhead, for a browser or print), plain text, JSON or CSV.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_project
def conclusions(app: Project, meeting_id: str | None, as_of: str | None, fmt: str, out: Path | None) -> None:
    """The follow-up of a meeting's conclusions (of every meeting's without MEETING).

    Every conclusion in document order: its kind, its text, who asked and to whom, and its
    actions with each owner's state as of --as-of, rolled up to done, in progress, overdue,
    not started, or no action needed (a conclusion without actions).
    """
    from .. import jobs
    from ..formatting import conclusions as as_data
    from ..render.conclusions import render_conclusions
    from ..templating import Templates

    data = jobs.conclusions(app, meeting_id, as_of)
    text = as_data(data, fmt) if fmt in ("json", "csv") else render_conclusions(
        data, fmt, Templates(app.settings.templates_dir))
    _write_or_print(app, text, out)


@click.command()
@click.option("--party", metavar="PARTY", help="The digest of this party.")
@click.option("--all", "everyone", is_flag=True,
              help="One digest per party with an email address, plus the secretariat's group-wide one.")
@as_of_option
@lang_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the messages into, as PARTY.eml.")
@click.option("--send", is_flag=True, help="Send them by SMTP (smtp.* settings), at most once per recipient and week.")
@click.option("--resend-stale", is_flag=True,
              help="With --send: also send again the digests whose earlier send was never confirmed.")
@click.option("--status", "show_status", is_flag=True,
              help="List the send log of the week of --as-of (default: this week), one line per recipient.")
@click.option("--mark-sent", is_flag=True,
              help="Record the digests whose send was never confirmed as sent (someone checked they arrived).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output of --status.")
@pass_project
def digest(app: Project, party: str | None, everyone: bool, as_of: str | None, out: Path | None, send: bool,
           resend_stale: bool, show_status: bool, mark_sent: bool, fmt: str) -> None:
    """Status digests by email: overdue, due soon, blocked and at risk, completed, upcoming meetings.

    Each message is multipart (plain text and HTML with inlined CSS). --out DIR writes them as
    DIR/PARTY.eml, which an email client opens; --send sends them by SMTP, exactly once per
    recipient and ISO week of the as-of day (see --status). The secretariat's digest covers the
    whole group. A digest opens with what changed since the last one sent to that party.
    Each party's digest is in its language (lang: in the actions file), unless --lang says one.
    """
    from . import delivery

    modes = [name for name, on in (("--out", out is not None), ("--send", send), ("--status", show_status),
                                   ("--mark-sent", mark_sent)) if on]
    if len(modes) != 1:
        raise click.UsageError("say what to do with the digests: one of --out DIR, --send, --status, --mark-sent")
    if resend_stale and not send:
        raise click.UsageError("--resend-stale goes with --send")
    if show_status:
        delivery.status(app, party, as_of, fmt)
        return
    if bool(party) == everyone:
        raise click.UsageError(_("say whose digest: --party PARTY or --all"))
    if send:
        delivery.send(app, party, as_of, resend_stale)
    elif mark_sent:
        delivery.mark_sent(app, party, as_of)
    else:
        assert out is not None
        _write_digests(app, party, as_of, out)


def _write_digests(app: Project, party: str | None, as_of: str | None, out: Path) -> None:
    from .. import jobs

    for name, message in jobs.write_digests(app, party, as_of, out).items():
        click.echo(f"{out / name}: {message['Subject']}")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "svg"]), default="dot", show_default=True,
              help="Graphviz source, Mermaid source, or SVG drawn by Graphviz's dot program.")
@click.option("--all-actions", is_flag=True, help="Also show actions with no dependency in either direction.")
@as_of_option
@lang_option
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_project
def graph(app: Project, fmt: str, all_actions: bool, as_of: str | None, out: Path | None) -> None:
    """The dependency graph, each action coloured by its state.

    Green done, red overdue, orange blocked, yellow at risk, blue in progress, grey open.
    """
    from .. import jobs
    from ..render import graph as render

    data = jobs.graph(app, as_of, everything=all_actions)
    text = render.mermaid(data) if fmt == "mermaid" else render.dot(data)
    _write_or_print(app, render.svg(text) if fmt == "svg" else text, out)


COMMANDS = (agenda, conclusions, digest, graph)
