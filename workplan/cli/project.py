"""Commands about the project as a whole: init, check, sync."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _, ngettext
from ..project import Project, sync_summary
from .app import pass_project


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Start a new project in DIRECTORY: a commented actions.yaml, workplan.toml and templates/."""
    from .. import jobs

    for line in jobs.init(directory):
        click.echo(line)


@click.command()
@pass_project
def check(app: Project) -> None:
    """Validate the actions file: every error at once, as FILE:LINE:COL: message.

    Exits 2 when there is an error; warnings are printed but do not fail.
    """
    from .. import jobs

    doc = jobs.check(app)
    counts = ", ".join((
        ngettext("{count} action", "{count} actions", len(doc.actions)).format(count=len(doc.actions)),
        ngettext("{count} party", "{count} parties", len(doc.parties)).format(count=len(doc.parties)),
        ngettext("{count} meeting", "{count} meetings", len(doc.meetings)).format(count=len(doc.meetings)),
        ngettext("{count} warning", "{count} warnings", len(doc.warnings)).format(count=len(doc.warnings)),
    ))
    click.echo(_("{file}: ok ({counts})").format(file=app.display(app.settings.actions_file), counts=counts))


@click.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only the counts.")
@pass_project
def sync(app: Project, quiet: bool) -> None:
    """Load the actions file into the database in one transaction.

    Prints what was added, changed and withdrawn. An action removed from the file is
    withdrawn, its history kept. Facts recorded under progress: are imported once.
    """
    from .. import formatting, jobs

    report = jobs.sync(app)
    if report is None or report.empty:
        click.echo(_("nothing changed"))
        return
    if not quiet:
        for title, items in ((_("added"), report.added), (_("changed"), report.changed),
                             (_("withdrawn"), report.withdrawn), (_("recorded facts"), report.events)):
            for item in items:
                click.echo(f"{title}: {item}")
        if report.moves is not None:
            click.echo("\n".join(formatting.move_lines(report.moves)))
    click.echo(sync_summary(len(report.added), len(report.changed), len(report.withdrawn), len(report.events)))


COMMANDS = (init, check, sync)
