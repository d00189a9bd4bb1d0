"""`workplan db`: the schema's migrations."""

from __future__ import annotations

import click

from ..project import Project
from .app import pass_project


@click.group("db")
def db() -> None:
    """The database schema: which revision it is at, and upgrading it."""


@db.command()
@pass_project
def current(app: Project) -> None:
    """Print the database's schema revision and the one this workplan needs."""
    from .. import jobs

    where, revision, head = jobs.schema_revision(app)
    state = "up to date" if revision == head else "needs `workplan db upgrade`" if revision else "empty"
    click.echo(f"{where}: revision {revision or 'none'} (head {head}, {state})")


@db.command()
@pass_project
def upgrade(app: Project) -> None:
    """Migrate the database to the schema this workplan needs (a new one is created at it)."""
    from .. import jobs

    where, before, after = jobs.upgrade_database(app)
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: upgraded from {before or 'nothing'} to {after}")


COMMANDS = (db,)
