"""How a command gets the project context (:class:`workplan.project.Project`) and prints."""

from __future__ import annotations

from typing import Any

import click

from ..project import Project


def warn(text: str) -> None:
    """A warning of the project, on stderr as every command prints them."""
    click.echo(text, err=True)


def emit(text: str) -> None:
    """A formatter's output on stdout, as it is (it ends its own lines)."""
    if text:
        click.echo(text, nl=False)


def pass_project(f: Any) -> Any:
    return click.make_pass_decorator(Project)(f)
