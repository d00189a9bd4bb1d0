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
    from ..db import current_revision, describe, head_revision, make_engine

    url = app.settings.database_url
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if revision == head else "needs `workplan db upgrade`" if revision else "empty"
    click.echo(f"{describe(url)}: revision {revision or 'none'} (head {head}, {state})")


@db.command()
@pass_project
def upgrade(app: Project) -> None:
    """Migrate the database to the schema this workplan needs (a new one is created at it)."""
    from ..db import describe, make_engine
    from ..db import upgrade as run_upgrade

    url = app.settings.database_url
    engine = make_engine(url)
    try:
        before, after = run_upgrade(engine, url)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{describe(url)}: already at revision {after}")
    else:
        click.echo(f"{describe(url)}: upgraded from {before or 'nothing'} to {after}")


COMMANDS = (db,)
