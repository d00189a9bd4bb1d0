"""One function per thing a user does: what a command, a request or a scheduled job runs.

Each takes the :class:`~workplan.project.Project` its front end built, opens the sessions it
needs, and returns plain values for a formatter or a renderer: the command line, the WSGI
application and the scheduler call these, never the layers below them. Heavy imports happen
inside, so that importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project import Project
    from .services import SyncReport
    from .spec import Document


def check(project: Project) -> Document:
    """`workplan check`: the actions file, validated (warnings go to the project's ``warn``)."""
    return project.load_document()


def sync(project: Project) -> SyncReport | None:
    """`workplan sync`: validate, then load the file in one transaction. None when the file
    is the one synced last and nothing would change (found without the ORM or the file reader)."""
    from .db import reading_scope, session_scope
    from .queries import file_digest, up_to_date

    raw = Path(project.settings.actions_file).read_bytes()
    digest = file_digest(raw)
    with reading_scope(project.engine, project.settings.database_url) as conn:
        if up_to_date(conn, digest, project.now()):
            return None
    doc = project.load_document()
    with session_scope(project.engine, project.settings.database_url, write=True) as session:
        return project.load_into(session, doc, digest)
