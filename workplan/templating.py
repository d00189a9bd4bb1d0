"""The Jinja2 environment: the project's ``templates/`` first, then the packaged defaults.

A project overrides the packaged templates file by file (same name). Undefined names are
errors (``StrictUndefined``), HTML is autoescaped and Markdown or text is not, and any
template failure becomes a :class:`~workplan.errors.TemplateProblem` naming the file and line.
"""

from __future__ import annotations

import textwrap
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2

from . import i18n
from .errors import TemplateProblem

AUTOESCAPED = ("html", "htm", "xml")


class Templates:
    """Renders named templates; the one door through which every document is produced."""

    def __init__(self, project_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        self.project_dir = project_dir
        if project_dir is not None and project_dir.is_dir():
            loaders.append(jinja2.FileSystemLoader(str(project_dir)))
        loaders.append(jinja2.PackageLoader("workplan", "templates"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=AUTOESCAPED, default_for_string=False,
                                                default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.i18n"],
        )
        i18n.install(self.env)
        self.env.filters.update(
            longdate=longdate,
            isodate=isodate,
            daterange=daterange,
            md_cell=md_cell,
            wrap=wrap,
            hang=hang,
            bunch=bunch,
            plural=plural,
            word=i18n.word,
            kind_word=i18n.kind_word,
            fulldate=fulldate,
            monthyear=monthyear,
            days_ago=i18n.days_ago,
        )

    def render(self, name: str, **context: Any) -> str:
        try:
            template = self.env.get_template(name)
            context.setdefault("lang", i18n.current())
            return template.render(**context)
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name or name
            raise TemplateProblem(f"{where}:{exc.lineno}: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateProblem(f"template {exc.name!r} not found (looked in {self._places()})") from None
        except jinja2.TemplateError as exc:  # UndefinedError and friends, raised while rendering
            where = _template_frame(exc) or name
            raise TemplateProblem(f"{where}: {exc.message or type(exc).__name__}") from None

    def _places(self) -> str:
        places = [str(self.project_dir)] if self.project_dir is not None else []
        return ", ".join([*places, "the packaged templates"])


def _template_frame(exc: BaseException) -> str | None:
    """FILE:LINE of the innermost template frame: Jinja2 rewrites tracebacks so that template
    code shows as frames of the template file."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and not frame.filename.endswith(".py") and frame.lineno is not None:
            found = f"{frame.filename}:{frame.lineno}"
    return found


# ---------------------------------------------------------------------------
# filters


def longdate(value: date | datetime | None) -> str:
    """31 December 2018; 31 de diciembre de 2018."""
    if value is None:
        return "-"
    return i18n.long_date(value)


def fulldate(value: date | datetime | None) -> str:
    """Friday, 26 August 2016; viernes, 26 de agosto de 2016."""
    if value is None:
        return "-"
    return i18n.full_date(value)


def monthyear(value: date | datetime | None) -> str:
    """September 2016; septiembre de 2016."""
    if value is None:
        return "-"
    return i18n.month_year(value)


def isodate(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def daterange(first: date, last: date | None) -> str:
    """31 May – 1 June 2018; 13–14 July 2016; one day with its weekday: Friday, 26 August 2016
    (in the current language: viernes, 26 de agosto de 2016)."""
    if last is None or last == first:
        return i18n.full_date(first)
    return i18n.date_range(first, last)


def md_cell(value: object) -> str:
    """Text that stays inside one Markdown table cell: no line breaks, no bare pipes."""
    return " ".join(str(value).split()).replace("|", "\\|")


def wrap(value: object, width: int = 76, indent: str = "", first: str | None = None) -> str:
    """Plain-text wrapping with a hanging indent (long titles stay readable in a terminal)."""
    lines = textwrap.wrap(" ".join(str(value).split()), width=width,
                          initial_indent=indent if first is None else first, subsequent_indent=indent,
                          break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def hang(text: object, prefix: str, width: int = 78) -> str:
    """*prefix* then *text* wrapped to *width*, continuation lines aligned under the text."""
    words = " ".join(str(text).split())
    if not words:
        return prefix.rstrip()
    if len(prefix) + len(words) <= width:
        return prefix + words  # what textwrap gives for one line, without its cost (a digest has thousands)
    return "\n".join(textwrap.wrap(words, width=width, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                                   break_long_words=False, break_on_hyphens=False))


class Bunch:
    """Consecutive items of one action that read the same but for their owner (a fanned-out
    action late for eleven countries is one entry naming the eleven)."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.parties = [item.party]

    @property
    def party_ids(self) -> str:
        return ", ".join(getattr(p, "label", p.id) for p in self.parties)  # a role with its holder: PPT (Panama)


def _same_but_owner(item: Any) -> tuple[Any, ...]:
    return (item.action, item.occurrence, item.due, item.days_overdue, item.blocked_by, item.at_risk, item.state,
            item.on, item.note)


def bunch(items: Any) -> list[Bunch]:
    out: list[Bunch] = []
    for item in items:
        last = out[-1].item if out else None
        if last is not None and _same_but_owner(last) == _same_but_owner(item):
            out[-1].parties.append(item.party)
        else:
            out.append(Bunch(item))
    return out


def plural(count: int, singular: str, many: str | None = None) -> str:
    """English only: templates that are translated use ngettext instead."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"
