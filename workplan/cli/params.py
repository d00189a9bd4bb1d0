"""Command-line values checked at the edge, with click's own error messages."""

from __future__ import annotations

from typing import Any

import click

FORMAT = click.Choice(["table", "json", "csv"])


class DateText(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A date (YYYY-MM-DD) or datetime; kept as text because its zone is the group's,
    which is known only once the database is open."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from datetime import UTC

        from ..i18n import gettext as _
        from ..timeutil import parse_when

        try:
            when = parse_when(str(value), UTC)  # type: ignore[arg-type]
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if when.precision == "month":
            self.fail(_("{text!r} is a month; give a day (YYYY-MM-DD)").format(text=value), param, ctx)
        return str(value)


DATE = DateText()


def format_option(f: Any) -> Any:
    return click.option("--format", "fmt", type=FORMAT, default="table", show_default=True,
                        help="Output for people (table) or scripts (json, csv).")(f)


def as_of_option(f: Any) -> Any:
    return click.option("--as-of", "as_of", type=DATE,
                        help="Show the world as it was (or will be) at this date or moment.")(f)


def _use_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--lang: the language of this run's output, and the one the project's jobs are asked for."""
    if value:
        from ..i18n import use
        from ..project import Project

        use(value)
        project = ctx.find_object(Project)
        if project is not None:
            project.language = value


def lang_option(f: Any) -> Any:
    return click.option("--lang", type=click.Choice(["es", "en"]), expose_value=False, callback=_use_language,
                        help="Language of the output (default: LC_ALL, LC_MESSAGES or LANG, else English).")(f)
