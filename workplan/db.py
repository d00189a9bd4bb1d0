"""Engine, sessions and schema set-up, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .errors import DatabaseError
from .models import Base, Meta

SCHEMA_VERSION = "1"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def describe(url: str) -> str:
    """The database as a person would name it: the file for SQLite, host/db for a server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the server read while a sync writes; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return create_engine(url, pool_pre_ping=True)
    raise DatabaseError(f"database URL {describe(url)!r} is neither sqlite:/// nor postgresql://")


def ensure_schema(engine: Engine, url: str) -> None:
    """Create the tables of a new database; refuse one from another schema version."""
    try:
        names = set(inspect(engine).get_table_names())
        if "meta" not in names:
            Base.metadata.create_all(engine)
            with Session(engine) as session, session.begin():
                session.add(Meta(key="schema_version", value=SCHEMA_VERSION))
            return
        with Session(engine) as session:
            version = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    except SADatabaseError as exc:
        raise database_error(exc, url) from None
    if version != SCHEMA_VERSION:
        raise DatabaseError(
            f"the database {describe(url)} has schema version {version}, this workplan needs {SCHEMA_VERSION}"
        )


def database_error(exc: SADatabaseError, url: str) -> DatabaseError:
    """One sentence for a database failure, naming the database."""
    where = describe(url)
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OperationalError) and "locked" in text:
        return DatabaseError(f"the database {where} is busy (locked by another process); try again")
    if "file is not a database" in text or "malformed" in text:
        return DatabaseError(f"{where} is not a readable workplan database ({text})")
    return DatabaseError(f"database {where}: {text}")


@contextmanager
def session_scope(engine: Engine, url: str) -> Iterator[Session]:
    """One session per command or job; commits on success, translates database failures."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    except SADatabaseError as exc:
        raise database_error(exc, url) from None


def get_meta(session: Session, key: str) -> str | None:
    return session.scalar(select(Meta.value).where(Meta.key == key))


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    elif row.value != value:
        row.value = value
