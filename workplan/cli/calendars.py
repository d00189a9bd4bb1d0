"""`workplan calendars`: write the iCalendar feeds."""

from __future__ import annotations

import gc
from pathlib import Path

import click

from ..i18n import _
from .app import App, pass_app
from .params import as_of_option, lang_option


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the feeds into (default: the calendars.dir setting, calendars/).")
@click.option("--todo", is_flag=True,
              help="Also write todo/all.ics and todo/PARTY.ics: the deadlines as tasks (VTODO).")
@as_of_option
@lang_option
@pass_app
def calendars(app: App, out: Path | None, todo: bool, as_of: str | None) -> None:
    """Write the iCalendar feeds: all.ics, meetings.ics and one PARTY.ics per party.

    Meetings are events; deadlines are all-day events (every calendar shows those), and with
    --todo also tasks for the clients that show them. Files whose content did not change are
    left untouched; the others are replaced atomically, so a subscriber never reads half a feed.
    """
    from .. import feeds
    from ..files import write_files
    from ..render.ical import render_feeds

    folder = out if out is not None else app.settings.calendars_dir
    with app.session() as session:
        data = feeds.feed_set(session, app.read_context(session, as_of))
    # rendering makes tens of thousands of short-lived objects and no cycles: the cyclic
    # collector would only rescan the feed set again and again (a quarter of the time)
    gc.disable()
    try:
        files = render_feeds(data, todo=todo)
    finally:
        gc.enable()
    written = write_files(folder, files)
    click.echo(_("{changed} of {total} feeds written to {folder}").format(
        changed=len(written.changed), total=written.total, folder=folder)
               + (f" ({', '.join(written.changed)})" if written.changed and len(written.changed) <= 5 else ""))


COMMANDS = (calendars,)
