"""Faults that happen for real: a killed sync, a corrupt database file (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, run_cli, scalar, write_project


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
