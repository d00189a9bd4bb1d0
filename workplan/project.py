"""The project context every front end builds once: the command line, the WSGI application
and the scheduler.

It holds the settings, the engine, the session scopes, the automatic sync of an embedded
database, and the reading context (the as-of moment and the language, each parsed once where it
enters). It speaks to no terminal: warnings go to the ``warn`` callback the front end gives
(the command line prints them on stderr, the scheduler logs them). Kept free of heavy imports at
module level; the database is opened on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings
from .i18n import _, ngettext

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.orm import Session

    from .queries import GroupInfo, ReadContext
    from .services import SyncReport
    from .spec import Document

Warn = Callable[[str], None]


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


class Project:
    """One project: where it is (*cwd*, and the --config, --db and --file given), and what is
    opened from it. *language* is the language asked for (--lang, ?lang=), None when not asked."""

    def __init__(self, cwd: Path, config: Path | None = None, db: str | None = None, file: Path | None = None,
                 debug: bool = False, *, warn: Warn = _to_stderr, language: str | None = None) -> None:
        self.cwd = cwd
        self.config, self.db, self.file = config, db, file
        self.debug = debug
        self.warn = warn
        self.language = language
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @classmethod
    def at(cls, where: dict[str, str | None], *, warn: Warn = _to_stderr) -> Project:
        """The project that :meth:`where` described (a scheduled job's plain, picklable argument)."""
        config, file = where.get("config"), where.get("file")
        return cls(Path(where.get("cwd") or "."), config=Path(config) if config else None, db=where.get("db"),
                   file=Path(file) if file else None, warn=warn)

    def where(self) -> dict[str, str | None]:
        """Where this project is, as plain text with absolute paths: what :meth:`at` opens again."""
        def absolute(path: Path | None) -> str | None:
            return str((self.cwd / path).resolve()) if path is not None else None

        return {"cwd": str(self.cwd), "config": absolute(self.config), "db": self.db, "file": absolute(self.file)}

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.cwd, self.config, self.db, self.file)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from .db import ensure_schema, make_engine

            url = self.settings.database_url
            self._engine = make_engine(url, busy_timeout=self.settings.int("database.busy_timeout"))
            ensure_schema(self._engine, url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def now(self) -> datetime:
        from .timeutil import now_utc

        return now_utc()

    def load_document(self, *, warn: bool = True) -> Document:
        """The actions file, validated; its warnings told unless *warn* is False (a what-if that
        only reads it leaves them to `check` and `sync`)."""
        from .spec import load

        path = self.settings.actions_file
        doc = load(self.display(path), self.settings.max_file_bytes, self.now())
        if warn:
            for warning in doc.warnings:
                self.warn(str(warning))
        return doc

    def display(self, path: Path) -> Path:
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
        from .db import session_scope

        if autosync and self.settings.auto_sync:
            self._autosync()
        with session_scope(self.engine, self.settings.database_url, write=write) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a command that only reads: as :meth:`session` (the same autosync,
        the same snapshot), without loading the ORM unless the actions file must be synced."""
        from .db import reading_scope

        if self.settings.auto_sync:
            self._autosync()
        with reading_scope(self.engine, self.settings.database_url) as conn:
            yield conn

    def group(self) -> GroupInfo:
        """The group the project tracks (name, time zone, languages), after the automatic sync."""
        from .queries import group_info

        with self.session() as session:
            return group_info(session)

    def _autosync(self) -> None:
        from .db import reading_scope
        from .errors import ProjectNotFound
        from .queries import file_digest, synced_digest

        path = self.settings.actions_file
        url = self.settings.database_url
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            with reading_scope(self.engine, url) as conn:
                if synced_digest(conn) is None:
                    raise ProjectNotFound(_("the actions file {file} does not exist").format(
                        file=self.display(path))) from None
            return
        digest = file_digest(raw)
        with reading_scope(self.engine, url) as conn:
            if synced_digest(conn) == digest:
                return
        from .db import session_scope

        doc = self.load_document()  # validate before taking the write lock
        with session_scope(self.engine, url, write=True) as session:
            if synced_digest(session) == digest:  # another process synced it meanwhile
                return
            report = self.load_into(session, doc, digest)
        if not report.empty:
            self.warn("workplan: " + _("synced {file}: {summary}").format(
                file=self.display(path),
                summary=sync_summary(len(report.added), len(report.changed), len(report.withdrawn),
                                     len(report.events))))

    def load_into(self, session: Session, doc: Document, digest: str) -> SyncReport:
        """The validated *doc* (whose file hashes to *digest*) loaded into the database, in one transaction."""
        from .services import sync

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
        """The moment a command answers for (*as_of* as given, parsed here once in the group's
        zone; None: now); a warning when it (or *days_ahead* after it) is past the day recurring
        actions are planned to."""
        from .queries import ReadContext, beyond_planning, group_info
        from .timeutil import parse_as_of

        group = group_info(db)
        tz = group.tz
        moment = parse_as_of(as_of, tz) if as_of else self.now().astimezone(tz)
        ctx = ReadContext(tz=tz, as_of=moment, lookahead_days=self.settings.int("digest.lookahead_days"))
        planned = beyond_planning(db, ctx.as_of_day + timedelta(days=days_ahead))
        if planned is not None:
            self.warn(_("workplan: warning: recurring actions are planned up to {day}; their occurrences "
                        "due after that day are not included").format(day=planned.isoformat()))
        return ctx


def sync_summary(added: int, changed: int, withdrawn: int, facts: int) -> str:
    return ", ".join((
        ngettext("{count} added", "{count} added", added).format(count=added),
        ngettext("{count} changed", "{count} changed", changed).format(count=changed),
        ngettext("{count} withdrawn", "{count} withdrawn", withdrawn).format(count=withdrawn),
        ngettext("{count} recorded fact imported", "{count} recorded facts imported", facts).format(count=facts),
    ))
