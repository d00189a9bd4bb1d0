"""A status change while another process holds the lock past the busy timeout (issue 8):
one sentence, exit 1, nothing half-written; once the lock is gone the same change goes through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import MINIMAL, database_url, run_cli, scalar, write_project
from workplan.db import describe

# another process takes the write lock (SQLite) or locks every assignment row (PostgreSQL),
# says so, and keeps it until its standard input closes: a laptop asleep mid-command
HOLDER = textwrap.dedent("""
    import sys
    import sqlalchemy
    url = sys.argv[1]
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sqlalchemy.text("SELECT id FROM assignment FOR UPDATE")).all()
        print("holding", flush=True)
        sys.stdin.read()
""")


@pytest.mark.usefixtures("db_backend")
def test_done_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync", "-q").code == 0
    url = database_url(folder)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "workplan.cli", "done", "a1", "--party", "CR"], cwd=folder,
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ, "WORKPLAN_DATABASE_BUSY_TIMEOUT": "1"})
        waited = time.monotonic() - started
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert result.returncode == 1, result
    assert result.stderr == f"workplan: the database {describe(url)} is busy (locked by another process); try again\n"
    assert result.stdout == ""
    assert 1 <= waited < 20  # it waited for the timeout, then gave up instead of hanging
    assert scalar(url, "select count(*) from event") == 0
    assert scalar(url, "select status from assignment where action_id = 'a1' and party_id = 'CR'") == "open"
    again = run_cli(folder, "done", "a1", "--party", "CR")
    assert again.code == 0, again
    assert scalar(url, "select count(*) from event") == 1


def test_database_gone_in_the_middle_of_a_status_change(tmp_path: Path) -> None:
    """The server drops the connection of a `done` waiting on a row lock (as a restart or a
    failover would): one sentence, exit 1, nothing written."""
    import sqlalchemy

    from conftest import _postgres_base, new_postgres_url

    if _postgres_base() is None:
        pytest.skip("PostgreSQL not reachable; set WORKPLAN_TEST_POSTGRESQL_URL")
    url = new_postgres_url()
    folder = write_project(tmp_path / "p", MINIMAL)
    (folder / "workplan.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    assert run_cli(folder, "sync", "-q").code == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    admin = sqlalchemy.create_engine(url)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        change = subprocess.Popen([sys.executable, "-m", "workplan.cli", "done", "a1", "--party", "CR"], cwd=folder,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "WORKPLAN_DATABASE_BUSY_TIMEOUT": "60"})
        terminated = 0
        deadline = time.monotonic() + 30
        while not terminated and time.monotonic() < deadline:
            time.sleep(0.2)
            with admin.begin() as conn:
                terminated = len(conn.execute(sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).all())
        out, err = change.communicate(timeout=60)
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
        admin.dispose()
    assert terminated == 1
    assert change.returncode == 1, (out, err)
    assert err.startswith(f"workplan: cannot reach the database {describe(url)}") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    assert scalar(url, "select count(*) from event") == 0
    assert scalar(url, "select status from assignment where action_id = 'a1' and party_id = 'CR'") == "open"
