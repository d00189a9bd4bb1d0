"""The test command keeps its promises: on a shared PostgreSQL server (issue 18) every schema a run
creates is dropped, also when the run is interrupted, and runs alive elsewhere are left alone; a
command that prints a traceback fails the test that ran it, whatever order the tests run in."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

import conftest
from conftest import REPO


@pytest.fixture
def server() -> sqlalchemy.Engine:
    if conftest._postgres_base() is None:
        pytest.skip(conftest._pg_state["reason"])
    engine: sqlalchemy.Engine = conftest._pg_state["engine"]
    return engine


def _exists(engine: sqlalchemy.Engine, schema: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sqlalchemy.text("select count(*) from pg_namespace where nspname = :n"),
                                 {"n": schema}).scalar())


def _create(engine: sqlalchemy.Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(sqlalchemy.text(f'CREATE TABLE "{schema}".t (x int)'))


def test_schemas_of_a_dead_run_are_dropped_and_a_live_runs_kept(server: sqlalchemy.Engine) -> None:
    conftest._run_lock()  # this run holds its own lock from here on
    dead, alive = secrets.randbits(31), secrets.randbits(31)  # random: runs at once must not share them
    dead_schema, alive_schema = f"wp_r{dead:08x}_0", f"wp_r{alive:08x}_0"
    _create(server, dead_schema)
    _create(server, alive_schema)
    other = server.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        assert other.execute(sqlalchemy.text("select pg_try_advisory_lock(:s, :r)"),
                             {"s": conftest._LOCK_SPACE, "r": alive}).scalar()
        conftest._drop_orphans()
        assert not _exists(server, dead_schema)
        assert _exists(server, alive_schema), "a schema of a run that is still alive was dropped"
    finally:
        other.close()
        conftest._drop_schemas([alive_schema])


INNER = '''
import time
from conftest import new_postgres_url

def test_waits() -> None:
    url = new_postgres_url()
    print("SCHEMA", url.rsplit("%3D", 1)[1], flush=True)
    time.sleep(60)
'''


def test_a_run_stopped_by_sigterm_drops_its_schemas(server: sqlalchemy.Engine, tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), "-p", "conftest", str(tmp_path / "test_inner.py")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "SCHEMA" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        match = re.search(r"SCHEMA (\S+)", line)
        assert match, f"the inner run printed no schema: {line!r}"
        schema = match.group(1)
        assert _exists(server, schema)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _exists(server, schema), "a run stopped by SIGTERM left its schema on the server"


def test_no_test_reads_files_outside_the_repository() -> None:
    pattern = re.compile(r"REPO\.parent|\.\./shared|parent\.parent\.parent")
    offenders = [f"{path.name}:{n}" for path in sorted((REPO / "tests").glob("*.py")) if path.name != Path(__file__).name
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


CRASHING = '''
import click
import pytest
from conftest import run_cli


def _boom(self, ctx):
    raise RuntimeError("boom")


def test_crashes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(click.Command, "invoke", _boom)
    assert run_cli(tmp_path, "check").code == 1


def test_crashes_under_debug(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(click.Command, "invoke", _boom)
    with pytest.raises(RuntimeError):
        run_cli(tmp_path, "--debug", "check")


def test_fails_in_one_sentence(tmp_path) -> None:
    assert run_cli(tmp_path, "check").code == 2
'''


def test_a_traceback_fails_the_test_that_printed_it_and_no_other(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(CRASHING, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    # the crashing test runs first, then the others: none of them may inherit its failure
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "-p", "conftest", str(tmp_path / "test_inner.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "internal error: RuntimeError: boom" in proc.stdout
    assert re.search(r"^ERROR .*test_inner.py::test_crashes - ", proc.stdout, re.MULTILINE), proc.stdout[-3000:]
    assert re.search(r"\b3 passed, 1 error\b", proc.stdout), proc.stdout[-3000:]
    assert conftest.tracebacks_in([(("check",), conftest.Result(2, "", "workplan: no actions.yaml here\n"))]) == []
