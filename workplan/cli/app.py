"""What every command shares: settings, the database, the read context.

Kept free of heavy imports at module level; the database is opened on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Settings, load_settings
from ..i18n import _, ngettext

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.orm import Session

    from ..queries import ReadContext
    from ..services import SyncReport
    from ..spec import Document


class App:
    def __init__(self, cwd: Path, config: Path | None, db: str | None, file: Path | None, debug: bool) -> None:
        self.cwd = cwd
        self._config, self._db, self._file = config, db, file
        self.debug = debug
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.cwd, self._config, self._db, self._file)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from ..db import ensure_schema, make_engine

            url = self.settings.database_url
            self._engine = make_engine(url, busy_timeout=self.settings.int("database.busy_timeout"))
            ensure_schema(self._engine, url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def now(self) -> datetime:
        from ..timeutil import now_utc

        return now_utc()

    def load_document(self) -> Document:
        from ..spec import load

        path = self.settings.actions_file
        doc = load(self._display(path), self.settings.max_file_bytes, self.now())
        for warning in doc.warnings:
            click.echo(str(warning), err=True)
        return doc

    def _display(self, path: Path) -> Path:
        """The actions file as the user would name it: relative to the current folder when inside it."""
        try:
            return path.relative_to(self.cwd)
        except ValueError:
            return path

    @contextmanager
    def session(self, autosync: bool = True, write: bool = False) -> Iterator[Session]:
        """One session per command. With the embedded database, a changed actions file is synced
        first, in its own transaction (and a broken one stops the command before anything is
        read or written). ``write`` takes the database's write lock up front."""
        from ..db import session_scope

        if autosync and self.settings.auto_sync:
            self._autosync()
        with session_scope(self.engine, self.settings.database_url, write=write) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a command that only reads: as :meth:`session` (the same autosync,
        the same snapshot), without loading the ORM unless the actions file must be synced."""
        from ..db import reading_scope

        if self.settings.auto_sync:
            self._autosync()
        with reading_scope(self.engine, self.settings.database_url) as conn:
            yield conn

    def _autosync(self) -> None:
        from ..db import reading_scope
        from ..errors import ProjectNotFound
        from ..queries import file_digest, synced_digest

        path = self.settings.actions_file
        url = self.settings.database_url
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            with reading_scope(self.engine, url) as conn:
                if synced_digest(conn) is None:
                    raise ProjectNotFound(_("the actions file {file} does not exist").format(
                        file=self._display(path))) from None
            return
        digest = file_digest(raw)
        with reading_scope(self.engine, url) as conn:
            if synced_digest(conn) == digest:
                return
        from ..db import session_scope

        doc = self.load_document()  # validate before taking the write lock
        with session_scope(self.engine, url, write=True) as session:
            if synced_digest(session) == digest:  # another process synced it meanwhile
                return
            report = self._sync_doc(session, doc, digest)
        if not report.empty:
            click.echo(
                "workplan: " + _("synced {file}: {summary}").format(
                    file=self._display(path),
                    summary=sync_summary(len(report.added), len(report.changed), len(report.withdrawn),
                                         len(report.events))),
                err=True,
            )

    def sync(self) -> SyncReport | None:
        """`workplan sync`: validate, then load the file in one transaction. None when the file
        is the one synced last and nothing would change (found without the ORM or the file reader)."""
        from ..db import reading_scope, session_scope
        from ..queries import file_digest, up_to_date

        raw = Path(self.settings.actions_file).read_bytes()
        digest = file_digest(raw)
        with reading_scope(self.engine, self.settings.database_url) as conn:
            if up_to_date(conn, digest, self.now()):
                return None
        doc = self.load_document()
        with session_scope(self.engine, self.settings.database_url, write=True) as session:
            return self._sync_doc(session, doc, digest)

    def _sync_doc(self, session: Session, doc: Document, digest: str) -> SyncReport:
        from ..services import sync

        report: SyncReport = self.write(session, lambda: sync(session, doc, digest, self.now()))
        return report

    def write(self, session: Session, work: Any) -> Any:
        """Run *work* as one transaction: all of it is committed, or none of it."""
        try:
            result = work()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result

    def read_context(self, db: Connection | Session, as_of: str | None, *, days_ahead: int = 0) -> ReadContext:
        """The moment a command answers for; a warning on stderr when it (or *days_ahead* after
        it) is past the day recurring actions are planned to."""
        from ..queries import ReadContext, beyond_planning, group_info
        from ..timeutil import parse_as_of

        group = group_info(db)
        tz = group.tz
        moment = parse_as_of(as_of, tz) if as_of else self.now().astimezone(tz)
        ctx = ReadContext(tz=tz, as_of=moment, lookahead_days=self.settings.int("digest.lookahead_days"))
        planned = beyond_planning(db, ctx.as_of_day + timedelta(days=days_ahead))
        if planned is not None:
            click.echo(_("workplan: warning: recurring actions are planned up to {day}; their occurrences "
                         "due after that day are not included").format(day=planned.isoformat()), err=True)
        return ctx

    def emit(self, text: str) -> None:
        if text:
            click.echo(text, nl=False)


def sync_summary(added: int, changed: int, withdrawn: int, facts: int) -> str:
    return ", ".join((
        ngettext("{count} added", "{count} added", added).format(count=added),
        ngettext("{count} changed", "{count} changed", changed).format(count=changed),
        ngettext("{count} withdrawn", "{count} withdrawn", withdrawn).format(count=withdrawn),
        ngettext("{count} recorded fact imported", "{count} recorded facts imported", facts).format(count=facts),
    ))


def pass_app(f: Any) -> Any:
    return click.make_pass_decorator(App)(f)
