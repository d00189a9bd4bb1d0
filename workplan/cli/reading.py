"""Read commands: list, show, overdue, upcoming, log, meetings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..gcpause import paused_gc
from ..i18n import _, ngettext
from ..project import Project
from ..statuses import STATUSES
from .app import emit, pass_project
from .params import DATE, as_of_option, format_option, lang_option

STATUS_CHOICES = click.Choice(
    [*STATUSES, "overdue", "blocked", "at_risk", "closed", "pending"]
)


def _owner_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option("--owner", metavar="PARTY", help="Only this party's assignments (a party id or a set).")(f)


@click.command("list")
@_owner_option
@click.option("--status", type=STATUS_CHOICES, help="Only assignments in this status (or derived state).")
@click.option("--tag", help="Only actions with this tag or theme.")
@click.option("--due-before", type=DATE, help="Only deadlines before this date.")
@click.option("--due-after", type=DATE, help="Only deadlines after this date.")
@as_of_option
@format_option
@lang_option
@pass_project
def list_(app: Project, owner: str | None, status: str | None, tag: str | None, due_before: str | None,
          due_after: str | None, as_of: str | None, fmt: str) -> None:
    """Actions and their assignments, one line per assignment."""
    from .. import formatting, jobs

    rows = jobs.list_assignments(app, owner=owner, status=status, tag=tag, due_before=due_before,
                                 due_after=due_after, as_of=as_of)
    emit(formatting.rows(rows, fmt))


@click.command()
@click.argument("action_id", metavar="ID")
@as_of_option
@format_option
@lang_option
@pass_project
def show(app: Project, action_id: str, as_of: str | None, fmt: str) -> None:
    """One action: its source, deadline, owners, dependencies and each assignment's state."""
    from .. import formatting, jobs

    emit(formatting.detail(jobs.show(app, action_id, as_of), fmt))


@click.command()
@_owner_option
@as_of_option
@format_option
@lang_option
@pass_project
def overdue(app: Project, owner: str | None, as_of: str | None, fmt: str) -> None:
    """Overdue assignments, most overdue first, with days late and what blocks them."""
    from .. import formatting, jobs

    rows = jobs.overdue(app, owner, as_of)
    if not rows and fmt == "table":
        click.echo(_("nothing is overdue"))
        return
    emit(formatting.rows(rows, fmt, kind="overdue"))


@click.command()
@click.option("--days", type=click.IntRange(0, 3660), default=14, show_default=True, help="How far ahead to look.")
@_owner_option
@as_of_option
@format_option
@lang_option
@pass_project
def upcoming(app: Project, days: int, owner: str | None, as_of: str | None, fmt: str) -> None:
    """Open assignments due within the next N days."""
    from .. import formatting, jobs

    rows = jobs.upcoming(app, days, owner, as_of)
    if not rows and fmt == "table":
        click.echo(ngettext("nothing is due in the next {days} day", "nothing is due in the next {days} days",
                            days).format(days=days))
        return
    emit(formatting.rows(rows, fmt))


@click.command()
@click.argument("action_id", metavar="[ID]", required=False)
@click.option("--party", metavar="PARTY", help="Only this party's events.")
@as_of_option
@format_option
@lang_option
@pass_project
def log(app: Project, action_id: str | None, party: str | None, as_of: str | None, fmt: str) -> None:
    """The event history (every status change), oldest first."""
    from .. import formatting, jobs

    entries = jobs.event_log(app, action_id, party, as_of)
    if not entries and fmt == "table":
        click.echo(_("no events"))
        return
    emit(formatting.log(entries, fmt))


@click.group(invoke_without_command=True)
@as_of_option
@format_option
@lang_option
@click.pass_context
@pass_project
def meetings(app: Project, ctx: click.Context, as_of: str | None, fmt: str) -> None:
    """Meetings, and cadence compliance per period (which semester lacks its virtual meeting)."""
    from .. import formatting, jobs

    if ctx.invoked_subcommand is not None:
        return
    items, periods = jobs.meetings(app, as_of)
    emit(formatting.meetings(items, periods, fmt))


@meetings.command("move")
@click.argument("meeting_id", metavar="ID")
@click.option("--to", "to", type=DATE, required=True, help="The new start (a date or datetime).")
@click.option("--end", "end", type=DATE, help="The new end (default: the meeting keeps its length).")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output for people (table) or scripts (json).")
@lang_option
@pass_project
def meetings_move(app: Project, meeting_id: str, to: str, end: str | None, as_of: str | None, fmt: str) -> None:
    """What-if: what moving meeting ID would change (deadlines per owner, actions that would fall
    due before a prerequisite, cadence verdicts). Writes nothing."""
    from .. import formatting, jobs

    emit(formatting.move_effects(jobs.meeting_move(app, meeting_id, to, end, as_of), fmt))


COMMANDS = (list_, show, overdue, upcoming, log, meetings)


def _without_cycle_collection(command: click.Command) -> click.Command:
    """Run a read command with Python's cyclic garbage collector paused.

    A read command is short and bounded: it imports SQLAlchemy and reads rows into objects
    that all live until it prints. The collector would scan that growing heap again and
    again for cycles it cannot free (a tenth of an overdue listing of 10,000 actions: see
    :mod:`workplan.gcpause` for the figure and the bench target it holds); reference counting
    still frees everything else as usual.
    """
    callback = command.callback
    assert callback is not None

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with paused_gc():
            return callback(*args, **kwargs)

    command.callback = run
    return command


for _command in COMMANDS:
    _without_cycle_collection(_command)
