"""`workplan calendars`: write the iCalendar feeds."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import ngettext
from ..project import Project
from .app import pass_project
from .params import as_of_option, lang_option


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
    from .. import feeds
    from ..feed_history import continued
    from ..files import write_files
    from ..i18n import current
    from ..render.ical import render_in_languages

    folder = out if out is not None else app.settings.calendars_dir
    shared = app.language or current()  # all.ics and meetings.ics
    with app.session() as session:
        ctx = app.read_context(session, as_of)
        party_langs = feeds.party_languages(session, app.language)
        sets = feeds.feed_sets_by_language(session, ctx, shared, party_langs)
    files = continued(folder, ctx.as_of, lambda history: render_in_languages(
        sets, shared, party_langs, todo=todo, private=private, history=history), feeds.restricted_actions(sets))
    written = write_files(folder, files)
    click.echo(ngettext("{changed} of {total} feed written to {folder}", "{changed} of {total} feeds written to {folder}",
                        written.total).format(
        changed=len(written.changed), total=written.total, folder=folder)
               + (f" ({', '.join(written.changed)})" if written.changed and len(written.changed) <= 5 else ""))


COMMANDS = (calendars,)
