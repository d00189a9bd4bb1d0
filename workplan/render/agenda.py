"""The agenda of a meeting as Markdown, HTML or plain text, from its template."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..reports import Agenda
    from ..templating import Templates

FORMATS = ("md", "html", "txt")


def render_agenda(agenda: Agenda, fmt: str, templates: Templates) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown agenda format {fmt!r}")
    return templates.render(f"agenda.{fmt}", agenda=agenda)
