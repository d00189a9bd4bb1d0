"""Fixtures: a project folder in tmp_path, and the command line run in-process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workplan.cli import main

REPO = Path(__file__).resolve().parent.parent
SHIPPED_ACTIONS = REPO / "actions.yaml"

# ---------------------------------------------------------------------------
# the databases: every test that uses `db_backend` (directly, or through `project`, `wp`,
# `write_project`) runs once on SQLite and once on a real PostgreSQL server.

PG_ENV = "WORKPLAN_TEST_POSTGRESQL_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_pg_state: dict[str, Any] = {}


def _postgres_base() -> str | None:
    """The server's URL, or None (with the reason kept) when it cannot be reached."""
    if "url" not in _pg_state:
        url = os.environ.get(PG_ENV, PG_DEFAULT)
        try:
            import sqlalchemy

            engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("select 1"))
            _pg_state["url"], _pg_state["engine"] = url, engine
        except Exception as exc:  # no server here: the PostgreSQL half is skipped, visibly
            _pg_state["url"] = None
            _pg_state["reason"] = (f"PostgreSQL not reachable at {url} ({type(exc).__name__}); "
                                   f"set {PG_ENV} to a server where the tests may create schemas")
    return _pg_state["url"]


# Every schema a run creates is named after the run (`wp_r<run>_<n>`), and the run holds a
# PostgreSQL advisory lock on its number for as long as it lives. A run that was killed before
# its teardown (SIGKILL, a lost machine) leaves schemas whose lock nobody holds: the next run
# to start drops them. Runs that are alive, here or on another machine, are left alone, so
# several runs can share one server.
_LOCK_SPACE = 0x77706c6e  # 'wpln': the advisory-lock key space of this suite's runs
_RUN_SCHEMA = re.compile(r"^wp_r([0-9a-f]{8})_[0-9a-f]+$")


def _run_lock() -> int:
    """This run's number, locked on a connection held open until the run ends."""
    if "run" not in _pg_state:
        import sqlalchemy

        holder = _pg_state["engine"].connect().execution_options(isolation_level="AUTOCOMMIT")
        while True:
            run = secrets.randbits(31)
            if holder.execute(sqlalchemy.text("select pg_try_advisory_lock(:space, :run)"),
                              {"space": _LOCK_SPACE, "run": run}).scalar():
                break
        _pg_state["holder"], _pg_state["run"] = holder, run
        _drop_orphans()
    return int(_pg_state["run"])


def _drop_orphans() -> None:
    """Drop the schemas of runs that ended without their teardown (their lock is free)."""
    import sqlalchemy

    holder = _pg_state["holder"]
    names = holder.execute(sqlalchemy.text(
        "select nspname from pg_namespace where nspname like 'wp\\_r%' order by nspname")).scalars().all()
    by_run: dict[int, list[str]] = {}
    for name in names:
        match = _RUN_SCHEMA.match(name)
        if match and int(match.group(1), 16) != _pg_state["run"]:
            by_run.setdefault(int(match.group(1), 16), []).append(name)
    for run, schemas in by_run.items():
        params = {"space": _LOCK_SPACE, "run": run}
        if not holder.execute(sqlalchemy.text("select pg_try_advisory_lock(:space, :run)"), params).scalar():
            continue  # that run is alive
        try:
            _drop_schemas(schemas)
        finally:
            holder.execute(sqlalchemy.text("select pg_advisory_unlock(:space, :run)"), params)


def _drop_schemas(schemas: list[str]) -> None:
    import sqlalchemy

    # One transaction per schema: dropping them all in one takes a lock per table and runs
    # out of PostgreSQL's lock table (max_locks_per_transaction, 64 by default).
    for schema in schemas:
        with _pg_state["engine"].begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def new_postgres_url() -> str:
    """A fresh, empty schema on the test server, as a URL whose search_path points at it."""
    import sqlalchemy

    base = _postgres_base()
    assert base is not None
    schema = f"wp_r{_run_lock():08x}_{uuid.uuid4().hex[:12]}"
    with _pg_state["engine"].begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    _pg_state.setdefault("schemas", []).append(schema)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_state.get("schemas"):
        _drop_schemas(_pg_state.pop("schemas"))
    if "holder" in _pg_state:
        _pg_state.pop("holder").close()  # frees this run's lock


_current_backend: list[str] = ["sqlite"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql" and _postgres_base() is None:
        pytest.skip(_pg_state["reason"])
    _current_backend.append(request.param)
    yield request.param
    _current_backend.pop()


def database_url(folder: Path) -> str:
    """The URL the project in *folder* uses (the embedded default on SQLite)."""
    config = folder / "workplan.toml"
    if config.is_file():
        import tomllib

        url = tomllib.loads(config.read_text(encoding="utf-8")).get("database", {}).get("url")
        if url:
            return str(url)
    return f"sqlite:///{folder / '.workplan' / 'workplan.db'}"


def dump_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal dumps mean nothing was written."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        meta = sqlalchemy.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted((tuple(map(repr, row)) for row in conn.execute(table.select())), key=repr)
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> Any:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(sql)).scalar()
    finally:
        engine.dispose()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


# The runs of `run_cli` that failed or wrote to stderr are kept until the test that made them ends
# (runs made while a module or session fixture is set up count for the first test that uses it);
# the autouse fixture `no_traceback` then fails that test if one of them printed a traceback or an
# internal error (issue 8), whatever order the tests run in. `--debug` runs are left out: showing
# the traceback is what that flag is for.
TRACEBACK_SIGNS = ("Traceback", "internal error", "error interno")
_runs: list[tuple[tuple[str, ...], Result]] = []


def tracebacks_in(runs: list[tuple[tuple[str, ...], Result]]) -> list[str]:
    """The runs among *runs* that printed a traceback or an internal error, one line each."""
    return [f"workplan {' '.join(args)[:300]} (exit {result.code}):\n{result.out[-4000:]}{result.err}"
            for args, result in runs
            if any(sign in result.out or sign in result.err for sign in TRACEBACK_SIGNS)]


@pytest.fixture(autouse=True)
def no_traceback() -> Iterator[None]:
    """Fails the test whose own commands printed a traceback or an internal error."""
    yield
    found, runs = tracebacks_in(_runs), len(_runs)
    _runs.clear()
    if found:
        pytest.fail(f"{len(found)} of this test's {runs} failing runs printed a traceback:\n" + "\n".join(found)[:5000],
                    pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    # A run stopped by SIGTERM (a CI time-out, `kill`) ends like one stopped by Ctrl-C, so
    # pytest_sessionfinish still drops its schemas.
    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def _record(args: tuple[str, ...], result: Result) -> None:
    if "--debug" in args or (result.code == 0 and not result.err):
        return
    _runs.append((args, result))


def run_cli(cwd: Path, *args: str) -> Result:
    """Run `workplan ARGS` in *cwd*, in this process, capturing stdout, stderr and the exit code."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    code = 0
    try:
        import os

        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(previous)
    result = Result(code, out.getvalue(), err.getvalue())
    _record(args, result)
    return result


Runner = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, db_backend: str) -> Path:
    """A copy of the shipped RCM project in a fresh folder, on each database."""
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    _configure_database(folder)
    return folder


def _configure_database(folder: Path) -> None:
    """On PostgreSQL, point the project at a fresh schema and keep the automatic sync that
    the embedded default has, so that the same test runs unchanged on both."""
    if _current_backend[-1] == "postgresql":
        (folder / "workplan.toml").write_text(
            f'[database]\nurl = "{new_postgres_url()}"\n\n[actions]\nautosync = "yes"\n', encoding="utf-8")


@pytest.fixture
def wp(project: Path) -> Runner:
    """`wp("overdue", "--as-of", "2019-01-15")` runs workplan in the copied project."""

    def runner(*args: str) -> Result:
        return run_cli(project, *args)

    return runner


def write_project(folder: Path, actions_yaml: str) -> Path:
    """A project holding *actions_yaml*, on the database of the running `db_backend` (SQLite when
    the test does not ask for one)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "actions.yaml").write_text(actions_yaml, encoding="utf-8")
    if not (folder / "workplan.toml").exists():
        _configure_database(folder)
    return folder


MINIMAL = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [cr@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
sets:
  members: [CR, PA]
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}
cadence:
  - {kind: virtual, per: semester, at_least: 1, from: 2020-03-11}
actions:
  - id: a1
    title: First action
    source: {meeting: m1, ref: "1", text: "do it"}
    owners: [members]
    due: 2020-04-01
  - id: a2
    title: Second action
    owners: [TS]
    depends_on: [a1]
    due: {next: virtual, after: m1}
"""


@contextlib.contextmanager
def database_at(tmp_path: Path, db_backend: str, revision: str, *inserts: str) -> Iterator[tuple[Any, str]]:
    """A database of the running backend at the older schema *revision*, holding the rows the SQL
    *inserts* add: what a migration test then upgrades. Yields (engine, url); disposes it after."""
    from sqlalchemy import text

    from workplan import db as wpdb

    url = f"sqlite:///{tmp_path / 'old.db'}" if db_backend == "sqlite" else new_postgres_url()
    engine = wpdb.make_engine(url)
    try:
        wpdb.migrate_to(engine, revision)
        with engine.begin() as conn:
            for sql in inserts:
                conn.execute(text(sql))
        yield engine, url
    finally:
        engine.dispose()


def schema_matches_tables(engine: Any) -> bool:
    """Whether the database's schema is what workplan.tables declares (Alembic's comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from workplan import tables

    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
