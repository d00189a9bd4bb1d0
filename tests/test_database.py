"""The database: migrations, concurrent users, a sync under readers (issue 6), and the faults it
meets for real, each one sentence (issue 8): a corrupt, truncated or locked file, a server that does
not answer, a URL that does not parse."""

from __future__ import annotations

import multiprocessing
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import MINIMAL, database_url, new_postgres_url, run_cli, scalar, write_project
from workplan import db as wpdb


def _empty_url(tmp_path: Path, db_backend: str, name: str) -> str:
    return f"sqlite:///{tmp_path / name}" if db_backend == "sqlite" else new_postgres_url()


@pytest.mark.usefixtures("db_backend")
def test_new_database_is_created_at_head(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    result = run_cli(folder, "db", "current")
    assert result.code == 0
    assert f"revision {wpdb.head_revision()} (head {wpdb.head_revision()}, up to date)" in result.out


def test_upgrade_from_first_revision_keeps_everything(tmp_path: Path, db_backend: str) -> None:
    url = _empty_url(tmp_path, db_backend, "old.db")
    engine = wpdb.make_engine(url)
    wpdb.migrate_to(engine, "0001")
    # data written by the first schema
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('group', :g)"),
                      {"g": '{"id": "g", "name": "G", "timezone": "America/Panama", "domain": "x.org"}'})
        conn.execute(text("INSERT INTO cadence_rule (kind, per, at_least, start) VALUES ('virtual', 'semester', 1, '2020-01-01')"))
        conn.execute(text(
            "INSERT INTO action (id, title, description, theme, tags, owners, with_parties, source_meeting, source_ref,"
            " source_text, due_spec, due_kind, visibility, position, sequence, content_hash, updated_at)"
            " VALUES ('a1', 'Old action', '', '', '[]', '[\"CR\"]', '[]', '', '', '', '{\"form\": \"none\"}', 'none',"
            " 'public', 0, 0, 'h', '2020-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO assignment (action_id, party_id, occurrence, due_kind, status, version, sequence, updated_at)"
            " VALUES ('a1', 'CR', '', 'none', 'done', 1, 0, '2020-01-01 00:00:00')"))
        aid = conn.execute(text("SELECT id FROM assignment")).scalar()
        conn.execute(text(
            "INSERT INTO event (assignment_id, action_id, party_id, occurrence, occurred_at, recorded_at, by,"
            " from_status, to_status, note, origin) VALUES (:a, 'a1', 'CR', '', '2020-02-01 00:00:00',"
            " '2020-02-01 00:00:00', 'ts', 'open', 'done', 'kept', 'cli')"), {"a": aid})
    # the old database is refused with one sentence, not an SQL error
    with pytest.raises(wpdb.DatabaseError, match=r"is at schema revision 0001 .* run `workplan db upgrade`"):
        wpdb.ensure_schema(engine, url)
    before, after = wpdb.upgrade(engine, url)
    assert (before, after) == ("0001", wpdb.head_revision())
    wpdb.ensure_schema(engine, url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM action")).scalar() == "Old action"
        assert conn.execute(text("SELECT note FROM event")).scalar() == "kept"
        assert conn.execute(text("SELECT report FROM cadence_rule")).scalar() in (True, 1)
    engine.dispose()


def test_old_database_is_told_to_upgrade_by_the_cli(tmp_path: Path, db_backend: str) -> None:
    url = _empty_url(tmp_path, db_backend, "old.db")
    engine = wpdb.make_engine(url)
    wpdb.migrate_to(engine, "0001")
    engine.dispose()
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "--db", url, "list")
    assert result.code == 1
    assert "run `workplan db upgrade`" in result.err and "Traceback" not in result.err
    assert run_cli(folder, "--db", url, "db", "upgrade").code == 0
    assert run_cli(folder, "--db", url, "sync").code == 0


# ---------------------------------------------------------------------------
# concurrency

WORKERS = 8
CHANGES = 50
VERBS = ("start", "done", "reopen", "cancel", "waive")


def _worker(url: str, seed: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One user: 50 status changes on the same few assignments, each in its own transaction."""
    from datetime import UTC, datetime, timedelta

    from workplan import services
    from workplan.db import make_engine, session_scope
    from workplan.errors import WorkplanError

    rng = random.Random(seed)
    engine = make_engine(url)
    outcomes = []
    for i in range(CHANGES):
        verb = rng.choice(VERBS)
        party = rng.choice(("CR", "PA"))
        note = f"w{seed}-{i}"
        now = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(seconds=seed * 1000 + i)
        try:
            with session_scope(engine, url, write=True) as session:
                changes = services.change_status(session, verb, "a1", party, None, None, now,
                                                 note=note, by=f"user{seed}")
                session.commit()
            outcomes.append(("accepted", note, party, changes[0].to_status))
        except WorkplanError as exc:
            outcomes.append(("rejected", note, party, f"{type(exc).__name__}: {exc}"))
    engine.dispose()
    queue.put(outcomes)


@pytest.mark.usefixtures("db_backend")
def test_concurrent_status_changes_lose_nothing(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    url = database_url(folder)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, seed, queue)) for seed in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    outcomes = [o for r in results for o in r]
    assert len(outcomes) == WORKERS * CHANGES  # every change was answered, accepted or rejected
    accepted = [o for o in outcomes if o[0] == "accepted"]
    rejected = [o for o in outcomes if o[0] == "rejected"]
    assert accepted and rejected  # the random walk makes some changes impossible
    for o in rejected:
        assert o[3].split(":")[0] in ("TransitionError", "ConcurrentChange", "DatabaseError"), o
    engine = wpdb.make_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text(
            "SELECT note, party_id, from_status, to_status FROM event WHERE origin = 'cli' ORDER BY id")).all()
        final = dict(conn.execute(text("SELECT party_id, status FROM assignment WHERE action_id = 'a1'")).all())
    engine.dispose()
    notes = [e[0] for e in events]
    assert sorted(notes) == sorted(o[1] for o in accepted)  # each accepted change exactly once
    assert len(set(notes)) == len(notes)
    for party in ("CR", "PA"):
        chain = [e for e in events if e[1] == party]
        for before, after in zip(chain, chain[1:], strict=False):
            assert after[2] == before[3], "the log skips a state: a change was lost"
        assert final[party] == (chain[-1][3] if chain else "open")


# ---------------------------------------------------------------------------
# a sync while someone reads


def _big_file(n: int, version: str) -> str:
    due = "2019-01-01" if version == "v1" else "2019-01-10"
    lines = [MINIMAL.split("actions:")[0] + "actions:"]
    for i in range(n):
        lines.append(f"  - {{id: a{i}, title: {version} action {i}, owners: [members], due: {due}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("db_backend")
def test_sync_under_reads_is_all_or_nothing(tmp_path: Path) -> None:
    n = 2000
    folder = write_project(tmp_path / "p", _big_file(n, "v1"))
    assert run_cli(folder, "sync").code == 0
    url = database_url(folder)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, url, str(tmp_path / "stop")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        (folder / "actions.yaml").write_text(_big_file(n, "v2"), encoding="utf-8")
        result = run_cli(folder, "--db", url, "sync", "-q")
        assert result.code == 0, result.err
        time.sleep(1.0)
    finally:
        (tmp_path / "stop").touch()
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen = [line.split() for line in out.splitlines()]
    assert len(seen) >= 3
    versions = {s[0] for s in seen}
    assert versions <= {"v1", "v2"}, f"a read saw a mix: {sorted(versions)[:5]}"
    assert "v1" in versions and "v2" in versions
    for _version, rows in seen:
        assert int(rows) == 2 * n


_READER = r"""
import os, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from workplan import queries
from workplan.db import make_engine, reading_scope
url, stop = sys.argv[1], sys.argv[2]
engine = make_engine(url)
tz = ZoneInfo("America/Panama")
ctx = queries.ReadContext(tz=tz, as_of=datetime(2019, 1, 15, 12, tzinfo=tz))
while not os.path.exists(stop):
    with reading_scope(engine, url) as conn:
        rows = queries.overdue(conn, ctx)
    titles = {r.title.split()[0] for r in rows}
    print("+".join(sorted(titles)), len(rows), flush=True)
"""


def test_corrupt_database_file_is_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    db = folder / ".workplan" / "workplan.db"
    for f in db.parent.glob("workplan.db-*"):
        f.unlink()
    data = db.read_bytes()
    db.write_bytes(data[:100] + b"\x00garbage" * 64 + data[612:2048])
    result = run_cli(folder, "overdue")
    assert result.code == 1
    assert result.err.startswith("workplan: ") and str(db) in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_truncated_database_file_is_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    db = folder / ".workplan" / "workplan.db"
    db.parent.mkdir()
    db.write_bytes(b"SQLite format 3\x00" + b"\x01" * 20)
    result = run_cli(folder, "list")
    assert result.code == 1
    assert str(db) in result.err and "Traceback" not in result.err


def test_locked_database_is_one_sentence_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    db = folder / ".workplan" / "workplan.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        monkeypatch.setenv("WORKPLAN_DATABASE_BUSY_TIMEOUT", "1")
        result = run_cli(folder, "done", "a1", "--party", "CR")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1
    assert result.err == f"workplan: the database {db} is busy (locked by another process); try again\n"
    assert scalar(f"sqlite:///{db}", "select count(*) from event") == 0
    assert run_cli(folder, "done", "a1", "--party", "CR").code == 0


def test_unreachable_server_is_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "--db", "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2", "list")
    assert result.code == 1
    assert result.err.startswith("workplan: cannot reach the database postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("url", ["::::", "postgresql://user:s3cret@host:port/db"])
def test_a_database_url_that_does_not_parse_is_a_usage_error(tmp_path: Path, url: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "--db", url, "list")
    assert result.code == 2
    assert result.err == ("workplan: the database URL (database.url, WORKPLAN_DATABASE_URL or --db) does not parse; "
                          "write sqlite:///FILE or postgresql://USER@HOST/DATABASE\n")


def test_head_revision_read_from_the_files_is_alembics() -> None:
    assert wpdb.head_revision() == wpdb._alembic_script().get_current_head()
