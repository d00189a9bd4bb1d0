"""The command line: a thin shell over :mod:`workplan.jobs` (one job per command) and its formatters.

Only this package imports click. Heavy libraries (SQLAlchemy, icalendar, Jinja2)
are imported inside the commands that need them, so ``workplan --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ValidationFailed, WorkplanError
from ..project import Project
from . import answers, calendars, database, delivery, documents, inbox, project, reading, server, status
from .app import warn

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="workplan.toml to use (default: the nearest one upwards).")
@click.option("--db", "db", metavar="URL", help="Database URL (sqlite:///FILE or postgresql://…).")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="The actions file (default: actions.yaml of the project).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.version_option(package_name="workplan")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, db: str | None, file: Path | None, debug: bool) -> None:
    """Track the conclusions of intergovernmental meetings as actions with owners,
    deadlines and dependencies.

    The project is the nearest folder upwards holding workplan.toml or actions.yaml.
    With no configured database, a SQLite file in .workplan/ is used and kept in step
    with the actions file automatically.
    """
    ctx.obj = Project(Path.cwd(), config=config, db=db, file=file, debug=debug, warn=warn)
    ctx.call_on_close(ctx.obj.close)


for command in (*project.COMMANDS, *reading.COMMANDS, *status.COMMANDS, *documents.COMMANDS, *calendars.COMMANDS,
                *database.COMMANDS, *server.COMMANDS, *delivery.COMMANDS, *answers.COMMANDS,
                *inbox.COMMANDS):
    cli.add_command(command)


def run() -> None:
    """The ``workplan`` program: :func:`main` on the command line's arguments, then an exit
    that does not make the collector walk every object one last time.

    When the interpreter exits it tears the modules down and runs the cyclic collector over
    everything still alive (SQLAlchemy's classes, the rows just printed): a tenth of a second
    after a listing of 10,000 actions, with the output already written. Freezing the survivors
    (:func:`workplan.gcpause.leave_survivors`) leaves them to the operating system instead; atexit handlers, stream
    flushing and the command's own closing (the engine is disposed when the command ends) run
    as before. Only for the process itself: in a longer-lived one (the tests call :func:`main`)
    frozen objects would never be collected.
    """
    from ..gcpause import leave_survivors

    try:
        main()
    finally:
        leave_survivors()


def main(argv: list[str] | None = None) -> None:
    """Entry point: every WorkplanError becomes one sentence on stderr and its exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    from ..i18n import language

    with language(None):  # --lang changes it for this run only
        _run(args, debug)


def _run(args: list[str], debug: bool) -> None:
    from ..i18n import _

    try:
        code = cli.main(args=args, prog_name="workplan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("Aborted."), err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ValidationFailed as exc:
        # FILE:LINE:COL lines name their place themselves; one per problem, errors and warnings
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(exc.exit_code)
    except WorkplanError as exc:
        click.echo(f"workplan: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo("workplan: " + _("internal error: {error} (run with --debug for details)").format(
            error=f"{type(exc).__name__}: {exc}"), err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
