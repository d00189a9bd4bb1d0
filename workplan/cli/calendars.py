"""`workplan calendars`: write the iCalendar feeds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..i18n import ngettext
from ..project import Project
from .app import pass_project
from .params import as_of_option, lang_option

if TYPE_CHECKING:
    from ..files import WriteReport


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the feeds into (default: the calendars.dir setting, calendars/).")
@click.option("--todo", is_flag=True,
              help="Also write todo/all.ics and todo/PARTY.ics: the deadlines as tasks (VTODO).")
@click.option("--private", is_flag=True,
              help="Also put each party's restricted actions in its own PARTY.ics (only for a folder "
                   "that is not published to everyone).")
@as_of_option
@lang_option
@pass_project
def calendars(app: Project, out: Path | None, todo: bool, private: bool, as_of: str | None) -> None:
    """Write the iCalendar feeds: all.ics, meetings.ics and one PARTY.ics per party.

    Meetings are events; deadlines are all-day events (every calendar shows those), and with
    --todo also tasks for the clients that show them. A party's feed is in its language (lang:
    in the actions file, else the group's first), all.ics and meetings.ics in --lang or LANG's.
    The folder is public: restricted actions are left out unless --private (each party's own
    restricted actions in its feed; `workplan serve` gives them at /feeds/TOKEN.ics). Feeds
    already in the folder are continued: SEQUENCE rises from theirs, and what they showed and
    the data no longer does stays, cancelled. Files whose content did not change are left
    untouched; the others are replaced atomically, so a subscriber never reads half a feed.
    """
    from .. import jobs

    written = jobs.rebuild_calendars(app, out, as_of, todo=todo, private=private)
    assert written is not None  # asked without a memo of what was built: always built
    click.echo(_written(written, out if out is not None else app.settings.calendars_dir))


def _written(written: WriteReport, folder: Path) -> str:
    """"3 of 40 feeds written to calendars (all.ics, CR.ics, meetings.ics)"."""
    return (ngettext("{changed} of {total} feed written to {folder}", "{changed} of {total} feeds written to {folder}",
                     written.total).format(changed=len(written.changed), total=written.total, folder=folder)
            + (f" ({', '.join(written.changed)})" if written.changed and len(written.changed) <= 5 else ""))


COMMANDS = (calendars,)
