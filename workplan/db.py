"""Engine, sessions and schema versions, for SQLite (embedded default) and PostgreSQL.

Transactions are explicit on both databases, so that every read command sees one
consistent snapshot (a sync running meanwhile is seen whole or not at all):

- SQLite runs in WAL mode with a busy timeout. The driver's own transaction handling
  is switched off and SQLAlchemy emits ``BEGIN`` itself: ``BEGIN IMMEDIATE`` for a
  session that will write (writers queue instead of failing half-way), a deferred
  ``BEGIN`` for readers (a snapshot that writers do not block).
- PostgreSQL reads run in REPEATABLE READ (one snapshot for the several SELECTs of a
  report); writes in READ COMMITTED with row locks on what they change.

The schema is versioned with Alembic (``workplan/migrations``). A new database is
created at the head revision; an older one is told to run ``workplan db upgrade``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError

from . import tables
from .errors import ConfigError, DatabaseError
from .i18n import _

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).parent / "migrations"


def describe(url: str) -> str:
    """The database as a person would name it: the file for SQLite, host/db for a server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.set(query={}).render_as_string(hide_password=True)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, busy_timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> Engine:
    try:
        url = normalise_url(url)
        make_url(url).port  # noqa: B018  # a port that is not a number shows only when read
    except (ArgumentError, ValueError):
        # not quoted back: a mistyped URL may still hold a password
        raise ConfigError(_("the database URL (database.url, WORKPLAN_DATABASE_URL or --db) does not parse; "
                            "write sqlite:///FILE or postgresql://USER@HOST/DATABASE")) from None
    busy_ms = int(busy_timeout * 1000)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("workplan_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if backend == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _lock_timeout(dbapi_conn: Any, _record: Any) -> None:
            # a laptop that sleeps holding a row lock must not hang everyone else's command
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {busy_ms}")
            dbapi_conn.commit()

        return engine
    raise ConfigError(_("database URL {url!r} is neither sqlite:///FILE nor postgresql://…").format(url=describe(url)))


def head_revision() -> str:
    """The newest schema revision, read from the migration files themselves: every command
    checks it, and importing Alembic to learn it would cost more than the command's own work."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = _revision_fields(path)
        if "revision" not in fields:
            continue
        revisions.add(str(fields["revision"]))
        down = fields.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    head = _alembic_script().get_current_head()  # several heads: let Alembic say what is wrong
    assert head is not None
    return str(head)


_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.*?)\s*(?:#.*)?$", re.MULTILINE)
_QUOTED = re.compile(r"""(['"])([^'"]*)\1""")


def _revision_fields(path: Path) -> dict[str, Any]:
    """``revision`` and ``down_revision`` as assigned at the top of a migration file: read with a
    pattern (every command checks the head; parsing the files with ast took 10 ms of it), with
    literal_eval for anything but a quoted string or None (a merge's tuple)."""
    fields: dict[str, Any] = {}
    for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
        if name in fields:
            continue
        quoted = _QUOTED.fullmatch(value)
        if quoted:
            fields[name] = quoted.group(2)
        elif value == "None":
            fields[name] = None
        else:
            import ast

            fields[name] = ast.literal_eval(value)
    return fields


def _alembic_script() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine, url: str) -> None:
    """Create a new database at the head revision; refuse one that needs an upgrade."""
    try:
        names = set(inspect(engine).get_table_names())
        if not names - {"alembic_version"}:
            tables.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
                conn.execute(text("DELETE FROM alembic_version"))
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head_revision()})
            return
        if "meta" not in names:
            raise DatabaseError(_("{url} is a database, but not a workplan database").format(url=describe(url)))
        current = current_revision(engine)
    except SADatabaseError as exc:
        raise database_error(exc, url) from None
    head = head_revision()
    if current != head:
        raise DatabaseError(
            _("the database {url} is at schema revision {current} and this workplan needs {head}; run "
              "`workplan db upgrade` (back it up first)").format(url=describe(url), current=current or "unknown",
                                                                  head=head)
        )


def upgrade(engine: Engine, url: str) -> tuple[str | None, str]:
    """Migrate the database to the head revision; return (before, after)."""
    from alembic import command
    from alembic.config import Config

    try:
        before = current_revision(engine)
        names = set(inspect(engine).get_table_names())
        if not names - {"alembic_version"}:
            ensure_schema(engine, url)
            return None, head_revision()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, head_revision()
    except SADatabaseError as exc:
        raise database_error(exc, url) from None


def migrate_to(engine: Engine, revision: str) -> None:
    """Bring an empty or older database to *revision* (used by tests of the migrations)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def database_error(exc: DBAPIError, url: str) -> DatabaseError:
    """One sentence for a database failure, naming the database."""
    where = describe(url)
    first = str(getattr(exc, "orig", exc)).strip().splitlines()
    detail = first[0] if first else type(exc).__name__
    if isinstance(exc, OperationalError) and ("locked" in detail or "lock timeout" in detail):
        return DatabaseError(_("the database {url} is busy (locked by another process); try again").format(url=where))
    if "file is not a database" in detail or "malformed" in detail:
        return DatabaseError(_("{url} is not a readable workplan database ({detail})").format(url=where, detail=detail))
    if "connection" in detail.lower() or "could not" in detail.lower():
        return DatabaseError(_("cannot reach the database {url}: {detail}").format(url=where, detail=detail))
    return DatabaseError(f"database {where}: {detail}")


@contextmanager
def session_scope(engine: Engine, url: str, write: bool = False) -> Iterator[Session]:
    """One session per command or job. ``write`` takes the write lock (SQLite) up front;
    readers get a single snapshot on both databases. The caller commits."""
    from sqlalchemy.orm import Session

    try:
        with Session(engine, expire_on_commit=False) as session:
            if engine.dialect.name == "sqlite":
                session.connection(execution_options={"workplan_write": write})
            elif not write:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session
    except SADatabaseError as exc:
        raise database_error(exc, url) from None


@contextmanager
def reading_scope(engine: Engine, url: str) -> Iterator[Connection]:
    """A connection for a command that only reads, without the ORM: one snapshot, as a
    reader's session gets from :func:`session_scope`; rolled back when done."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name != "sqlite":
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn
    except SADatabaseError as exc:
        raise database_error(exc, url) from None


def get_meta(db: Connection | Session, key: str) -> str | None:
    return db.scalar(select(tables.meta.c.value).where(tables.meta.c.key == key))


def set_meta(session: Session, key: str, value: str) -> None:
    from .models import Meta

    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    elif row.value != value:
        row.value = value
