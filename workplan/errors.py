"""Every failure a user can meet, each with its own exit code.

The top-level command group prints ``str(error)`` once to stderr and exits with
``error.exit_code``; nothing else in the program prints errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .i18n import gettext as _


class WorkplanError(Exception):
    """Base class: a failure explained in one sentence for the person at the keyboard."""

    exit_code = 1


class UsageError(WorkplanError):
    """The command was asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigError(UsageError):
    """workplan.toml, an environment variable or a flag holds a value that cannot be used."""


class TemplateProblem(UsageError):
    """A template (packaged or the project's override) does not parse or does not render;
    the message names the template file and line."""


class ProjectNotFound(UsageError):
    """No actions file could be found for this command."""


class UnknownItem(UsageError):
    """An action, party, meeting or assignment named on the command line does not exist."""


class TransitionError(UsageError):
    """A status change that the assignment's current status does not allow."""


class HistoryError(UsageError):
    """A status change dated where the append-only log cannot take it: in the future, before
    the action's source meeting, or before the assignment's latest event."""


class ConcurrentChange(WorkplanError):
    """Somebody else changed the same assignment between our read and our write."""

    exit_code = 1


class MissingProgram(WorkplanError):
    """An outside program a command needs (Graphviz `dot` for SVG) is not installed."""

    exit_code = 1


class OutputError(WorkplanError):
    """A file could not be written where the command was asked to write it."""

    exit_code = 1


class DatabaseError(WorkplanError):
    """The database could not be reached, is locked, or is not a workplan database."""

    exit_code = 1


class InboxError(WorkplanError):
    """The IMAP mailbox of replies could not be reached, refused the login, or refused a command."""

    exit_code = 1


class TemporaryFailure(WorkplanError):
    """A message could not be recorded now (the database is unreachable, busy or needs an
    upgrade): EX_TEMPFAIL of sysexits, so the mail server that piped it keeps it and tries again."""

    exit_code = 75


@dataclass(frozen=True)
class Problem:
    """One finding of the validator, positioned in the actions file."""

    file: str
    line: int
    column: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = _("warning: ") if self.warning else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{self.message}"


class ValidationFailed(UsageError):
    """The actions file has errors; every one of them is listed, and nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if not p.warning]
        super().__init__("\n".join(str(p) for p in errors))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]
