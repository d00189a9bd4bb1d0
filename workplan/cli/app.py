"""What every command shares: settings, the database, the read context.

Kept free of heavy imports at module level; the database is opened on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from ..services import ReadContext, SyncReport
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
            self._engine = make_engine(url)
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
        doc = load(self._display(path))
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
    def session(self, autosync: bool = True) -> Iterator[Session]:
        """One session per command. With the embedded database, a changed actions file is synced
        first (and a broken one stops the command before anything is read or written)."""
        from ..db import session_scope

        with session_scope(self.engine, self.settings.database_url) as session:
            if autosync and self.settings.auto_sync:
                self._autosync(session)
            yield session

    def _autosync(self, session: Session) -> None:
        from ..errors import ProjectNotFound
        from ..services import file_digest, synced_digest

        path = self.settings.actions_file
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if synced_digest(session) is None:
                raise ProjectNotFound(f"the actions file {self._display(path)} does not exist") from None
            return
        digest = file_digest(raw)
        if synced_digest(session) == digest:
            return
        report = self.sync(session, digest)
        if not report.empty:
            click.echo(
                f"workplan: synced {self._display(path)}: {len(report.added)} added, "
                f"{len(report.changed)} changed, {len(report.withdrawn)} withdrawn, "
                f"{len(report.events)} recorded facts imported",
                err=True,
            )

    def sync(self, session: Session, digest: str | None = None) -> SyncReport:
        from ..services import file_digest, sync

        doc = self.load_document()
        if digest is None:
            digest = file_digest(Path(self.settings.actions_file).read_bytes())
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

    def read_context(self, session: Session, as_of: str | None) -> ReadContext:
        from ..services import ReadContext, group_info
        from ..timeutil import parse_as_of

        group = group_info(session)
        tz = group.tz
        moment = parse_as_of(as_of, tz) if as_of else self.now().astimezone(tz)
        return ReadContext(tz=tz, as_of=moment, lookahead_days=self.settings.int("digest.lookahead_days"))

    def emit(self, text: str) -> None:
        if text:
            click.echo(text, nl=False)


def pass_app(f: Any) -> Any:
    return click.make_pass_decorator(App)(f)
