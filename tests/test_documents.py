"""The documents (feeds, agendas, digests, the graph): how they are written and read.

Agendas, digests and the graph run a fixed number of queries whatever the number of actions, and
say the same when their lists go to the database in small batches.

A full disk or a read-only folder while writing feeds, agendas and digests (issue 8).

Each fault is real: a read-only folder (permissions, or ``chattr +i`` when the tests run as
root, where permissions stop nothing), a read-only bind mount, and a small tmpfs filled up.
Whatever happens, the command says so in one sentence and exits 1, the files that were there
before are left byte for byte, and no temporary file stays behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from conftest import MINIMAL, Result, run_cli, write_project
from workplan import queries

ROOT = os.geteuid() == 0


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under *folder*, hidden ones included (a left-over temp file shows), with its bytes."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"x")
    except OSError:
        return False
    probe.unlink()
    return True


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def read_only(folder: Path, how: str) -> Iterator[None]:
    """Make *folder* really read-only for this process, by *how*; skip, saying why, when this
    machine offers no way to do so."""
    undo: list[str] = []
    if how == "permissions" and not ROOT:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    elif how == "permissions":
        # root ignores permission bits; the immutable attribute stops root too
        if shutil.which("chattr") is None:
            pytest.skip("running as root, where chmod stops nothing, and chattr is not installed")
        done = _run("chattr", "+i", str(folder))
        if done.returncode:
            pytest.skip(f"running as root, where chmod stops nothing, and chattr +i is refused here: {done.stderr.strip()}")
        undo = ["chattr", "-i", str(folder)]
    elif how == "mount":
        if not ROOT:
            pytest.skip("a read-only bind mount needs root (CAP_SYS_ADMIN); the permissions case covers this user")
        done = _run("mount", "--bind", str(folder), str(folder))
        if done.returncode:
            pytest.skip(f"bind mounts are refused here: {done.stderr.strip()}")
        undo = ["umount", str(folder)]
        done = _run("mount", "-o", "remount,bind,ro", str(folder))
        if done.returncode:
            _run(*undo)
            pytest.skip(f"a bind mount cannot be made read-only here: {done.stderr.strip()}")
    try:
        if _writable(folder):
            pytest.skip(f"{how}: the folder stayed writable on this machine")
        yield
    finally:
        if how == "permissions" and not ROOT:
            folder.chmod(0o755)
        else:
            _run(*undo)


@contextlib.contextmanager
def nearly_full_disk(folder: Path, room: int) -> Iterator[Callable[[], None]]:
    """A 1 MiB tmpfs at *folder*; yields `fill()`, which fills it but for *room* bytes."""
    if not ROOT:
        pytest.skip("mounting a small tmpfs to fill up needs root (CAP_SYS_ADMIN)")
    folder.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(folder))
    if done.returncode:
        pytest.skip(f"a tmpfs cannot be mounted here: {done.stderr.strip()}")
    filler = folder / ".filler"

    def fill() -> None:
        filler.mkdir()
        chunks: list[Path] = []
        while True:
            chunk = filler / str(len(chunks))
            try:
                chunk.write_bytes(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                chunk.unlink(missing_ok=True)
                break
            chunks.append(chunk)
        for chunk in chunks[: room // 4096]:
            chunk.unlink()

    try:
        yield fill
    finally:
        _run("umount", str(folder))


# ---------------------------------------------------------------------------
# the three writers, each writing into a folder `out` of the project


def _calendars(folder: Path, out: Path) -> Result:
    return run_cli(folder, "calendars", "--out", str(out), "--as-of", "2020-06-01")


def _agenda(folder: Path, out: Path) -> Result:
    return run_cli(folder, "agenda", "--format", "html", "-o", str(out / "agenda.html"), "--as-of", "2020-06-01")


def _digest(folder: Path, out: Path) -> Result:
    return run_cli(folder, "digest", "--all", "--out", str(out), "--as-of", "2020-06-01")


WRITERS = {"calendars": (_calendars, "the feeds into"), "agenda": (_agenda, "agenda.html"),
           "digest": (_digest, "the digests into")}
# titles long enough that the new set of files needs more room than a nearly full disk has
LONG = "Provide the matrix " + "with every figure requested " * 40


def _project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p", MINIMAL.replace("title: First action", f"title: {LONG}"))


def _change_everything(folder: Path) -> None:
    path = folder / "actions.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(LONG, LONG.upper()).replace("title: Second action", f"title: {LONG[::-1]}"),
                    encoding="utf-8")
    assert run_cli(folder, "sync", "-q").code == 0


def _assert_failed_cleanly(result: Result, writer: str, reason: tuple[str, ...]) -> None:
    assert result.code == 1, result
    assert result.err.count("\n") == 1 and result.err.startswith("workplan: cannot write "), result.err
    assert WRITERS[writer][1] in result.err
    assert any(r in result.err for r in reason), result.err
    assert "Traceback" not in result.err + result.out


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("how", ["permissions", "mount"])
def test_read_only_folder_keeps_the_previous_files(tmp_path: Path, writer: str, how: str) -> None:
    folder = _project(tmp_path)
    out = tmp_path / "out"
    run = WRITERS[writer][0]
    assert run(folder, out).code == 0
    before = _snapshot(out)
    assert any(before.values())
    _change_everything(folder)
    with read_only(out, how):
        result = run(folder, out)
        assert _snapshot(out) == before
    _assert_failed_cleanly(result, writer, ("Permission denied", "Operation not permitted", "Read-only file system"))
    # the folder writable again, the same command goes through: there was something to write
    assert run(folder, out).code == 0
    after = _snapshot(out)
    assert after.keys() == before.keys() and after != before


@pytest.mark.parametrize("writer", WRITERS)
def test_full_disk_keeps_the_previous_files(tmp_path: Path, writer: str) -> None:
    folder = _project(tmp_path)
    out = tmp_path / "small"
    run = WRITERS[writer][0]
    with nearly_full_disk(out, room=8192) as fill:
        assert run(folder, out).code == 0
        before = _snapshot(out)
        fill()
        before_fill = {k: v for k, v in _snapshot(out).items() if not k.startswith(".filler")}
        assert before_fill == before
        _change_everything(folder)
        result = run(folder, out)
        _assert_failed_cleanly(result, writer, ("No space left on device",))
        assert {k: v for k, v in _snapshot(out).items() if not k.startswith(".filler")} == before
        shutil.rmtree(out / ".filler")
        assert run(folder, out).code == 0
        after = _snapshot(out)
    assert after.keys() == before.keys() and after != before


def test_a_set_of_files_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """Room enough for the first new file but not the second: writing them one after the other
    would leave a new `a` beside an old `b`; staged, neither is replaced."""
    from workplan.errors import OutputError
    from workplan.files import write_files

    out = tmp_path / "small"
    with nearly_full_disk(out, room=4096) as fill:
        write_files(out, {"a.ics": b"old a", "b.ics": b"old b"})
        fill()
        with pytest.raises(OutputError, match="No space left on device"):
            write_files(out, {"a.ics": b"new a", "b.ics": b"new b" * 4000})
        assert (out / "a.ics").read_bytes() == b"old a" and (out / "b.ics").read_bytes() == b"old b"
        assert sorted(p.name for p in out.iterdir()) == [".filler", "a.ics", "b.ics"]


MEMBERS = ["BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"]


def workplan_of(n: int) -> str:
    lines = [
        "workplan: 1",
        "group: {id: g, name: Scale Group, timezone: America/Panama, domain: scale.example.org}",
        "parties:",
        "  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}",
        *[f"  - {{id: {m}, name: Country {m}, kind: member, email: [{m.lower()}@example.org]}}" for m in MEMBERS],
        "sets:",
        f"  members: [{', '.join(MEMBERS)}]",
        "meetings:",
        "  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}",
        "cadence:",
        "  - {kind: virtual, per: semester, at_least: 1, from: 2020-03-11}",
        "actions:",
    ]
    dues = ["2020-04-01", "2020-06-20", "{next: virtual, after: m1}", "{next: virtual, after: m1, offset: -14d}"]
    for i in range(n):
        lines += [f"  - id: a{i}", f"    title: Action {i}", f"    source: {{meeting: m1, ref: \"{i}\"}}",
                  f"    owners: [{'members' if i % 3 == 0 else MEMBERS[i % len(MEMBERS)]}]",
                  f"    due: {dues[i % len(dues)]}", "    with: [TS]"]
        if i > 0 and i % 4 == 1:
            lines.append(f"    depends_on: [a{i - 1}]")
        if i % 3 == 0:
            lines += ["    progress:", "      - {party: CR, status: done, on: 2020-04-15}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def count_queries() -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", before)
    yield seen
    event.remove(Engine, "before_cursor_execute", before)


@pytest.mark.parametrize("args", [
    ("agenda", "--next-virtual", "--as-of", "2020-05-01"),
    ("agenda", "--next-virtual", "--as-of", "2020-04-10"),  # before the last event: statuses from the log
    ("digest", "--all", "--as-of", "2020-05-01", "--out", "OUT"),
    ("digest", "--party", "CR", "--as-of", "2020-05-01", "--out", "OUT"),
    ("graph", "--as-of", "2020-05-01"),
])
def test_query_count_does_not_grow_with_the_workplan(tmp_path: Path, count_queries: list[str],
                                                      args: tuple[str, ...]) -> None:
    counts = []
    for n in (8, 80):
        folder = write_project(tmp_path / f"p{n}", workplan_of(n))
        argv = [str(tmp_path / f"out{n}") if a == "OUT" else a for a in args]
        assert run_cli(folder, "sync").code == 0
        count_queries.clear()
        result = run_cli(folder, *argv)
        assert result.code == 0, result.err
        counts.append(len(count_queries))
    assert counts[0] > 3, "the listener saw no queries"
    assert counts[0] == counts[1], f"{args[0]}: {counts[0]} queries for 8 actions, {counts[1]} for 80"


@pytest.mark.parametrize("args", [
    ("agenda", "--next-virtual", "--as-of", "2020-05-01"),
    ("digest", "--all", "--as-of", "2020-04-20", "--out", "OUT"),  # CR's closings of the past week
    ("digest", "--party", "CR", "--as-of", "2020-04-20", "--out", "OUT"),
    ("graph", "--as-of", "2020-05-01"),
])
def test_documents_read_in_small_batches_say_the_same(tmp_path: Path, args: tuple[str, ...],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists of actions go to the database in IN lists of 500 (one statement cannot carry 65,535
    on PostgreSQL); with lists of 3, a document comes out the same, byte for byte."""
    folder = write_project(tmp_path / "p", workplan_of(80))
    assert run_cli(folder, "sync").code == 0
    outputs = []
    for few in (500, 3):
        monkeypatch.setattr(queries, "_FEW", few)
        out = tmp_path / f"out{few}"
        result = run_cli(folder, *[str(out) if a == "OUT" else a for a in args])
        assert result.code == 0, result.err
        files = {p.name: p.read_bytes() for p in sorted(out.rglob("*"))} if out.exists() else {}
        outputs.append((result.out.replace(str(out), "OUT"), files))
    assert outputs[0] == outputs[1]
    text, files = outputs[0]
    assert "Action" in text or files
    if "CR.eml" in files:  # titles of the past week's closings, read in batches too
        assert b"done on 2020-04-15: Action 0\r\n" in files["CR.eml"]
