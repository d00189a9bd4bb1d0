"""The follow-up of conclusions as Markdown, HTML or plain text, from its template."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..reports import ConclusionsReport
    from ..templating import Templates

FORMATS = ("md", "html", "txt")


def render_conclusions(report: ConclusionsReport, fmt: str, templates: Templates) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown conclusions format {fmt!r}")
    return templates.render(f"conclusions.{fmt}", report=report, group_name=report.group_name)
