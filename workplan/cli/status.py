"""Status changes: start, done, waive, cancel, reopen. Each one is an event in the log."""

from __future__ import annotations

import click

from ..i18n import _, word
from ..project import Project
from .params import DATE

_HELP = {
    "start": "Mark an assignment in progress.",
    "done": "Mark an assignment done.",
    "waive": "Close an assignment the party cannot deliver (--note says why).",
    "cancel": "Cancel an assignment that is no longer wanted.",
    "reopen": "Open a closed assignment again.",
}


def _status_command(verb: str) -> click.Command:
    @click.command(verb, help=_HELP[verb] + "\n\nWith a fanned-out action, --party names the assignment "
                   "(a party, or a set to change each member's).")
    @click.argument("action_id", metavar="ID")
    @click.option("--party", metavar="PARTY", help="The owner whose assignment changes (or a set).")
    @click.option("--occurrence", type=DATE, help="For a recurring action: the occurrence's due date.")
    @click.option("--on", "on", type=DATE, help="When it happened (default: now).")
    @click.option("--note", default="", help="Why; required to waive.")
    @click.option("--by", default="", help="Who is recording the change.")
    @click.pass_obj
    def command(app: Project, action_id: str, party: str | None, occurrence: str | None, on: str | None,
                note: str, by: str) -> None:
        from .. import jobs
        from ..planning import TRANSITIONS, unexplained_waiver

        if unexplained_waiver(TRANSITIONS[verb][0], note):
            raise click.UsageError(_("waive needs --note saying why the party cannot deliver"))
        changes = jobs.record_status(app, verb, action_id, party=party, occurrence=occurrence, on=on, note=note,
                                     by=by or _whoami())
        for c in changes:
            occ_text = f" ({c.occurrence})" if c.occurrence else ""
            if c.skipped:
                click.echo(f"{c.action} {c.party}{occ_text}: " + _("already {status}").format(status=word(c.to_status)))
            else:
                click.echo(f"{c.action} {c.party}{occ_text}: {word(c.from_status)} → {word(c.to_status)}")

    return command


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


COMMANDS = tuple(_status_command(v) for v in ("start", "done", "waive", "cancel", "reopen"))
