"""Errors: every kind of bad input, run through the real command line as a separate process (issue 8).

Each case is a project folder (an actions file, sometimes a workplan.toml, a template or a
damaged database) and a command line. Each must fail with a usage or operation error (exit 2
or 1) and something on stderr, and the combined output of the whole catalogue, written to one
file, must not hold a single traceback or "internal error": that is what `grep -rn Traceback`
over it checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conftest import MINIMAL

Setup = Callable[[Path], None]


@dataclass
class Case:
    name: str
    args: tuple[str, ...]
    actions: str | bytes | None = MINIMAL
    setup: Setup | None = None
    env: dict[str, str] = field(default_factory=dict)
    codes: tuple[int, ...] = (2,)


def _replace(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new)


def _toml(text: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / "workplan.toml").write_text(text, encoding="utf-8")
    return setup


def _template(name: str, text: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / "templates").mkdir()
        (folder / "templates" / name).write_text(text, encoding="utf-8")
    return setup


def _database(data: bytes) -> Setup:
    def setup(folder: Path) -> None:
        (folder / ".workplan").mkdir()
        (folder / ".workplan" / "workplan.db").write_bytes(data)
    return setup


def _a_file_named(name: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / name).write_text("not a folder", encoding="utf-8")
    return setup


def _a_folder_named(name: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / name).mkdir()
    return setup


BOMB = "workplan: 1\ngroup: {id: g, name: G, timezone: UTC}\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else '0'] * 9)}]\n" for i in range(9)) + "actions: *l8\n"

CATALOGUE = [
    # the actions file: YAML that is broken, hostile or merely wrong
    Case("empty file", ("check",), ""),
    Case("not a mapping", ("check",), "- just\n- a list\n"),
    Case("syntax error", ("check",), MINIMAL + "  - {id: broken\n"),
    Case("tab indentation", ("check",), MINIMAL.replace("  - id: a2", "\t- id: a2")),
    Case("not utf-8", ("check",), MINIMAL.replace("Costa Rica", "Costa Rica \xe9").encode("latin-1")),
    Case("control character", ("check",), MINIMAL.replace("First action", "First\x1baction")),
    Case("NUL byte", ("check",), MINIMAL.replace("First action", "First\x00action")),
    Case("python tag", ("check",), _replace("title: First action", "title: !!python/object/apply:os.system [id]")),
    Case("unknown local tag", ("check",), _replace("title: First action", "title: !secret First action")),
    Case("binary tag", ("check",), _replace("title: First action", "title: !!binary aGVsbG8=")),
    Case("set tag", ("check",), _replace("owners: [members]", "owners: !!set {CR, PA}")),
    Case("billion laughs", ("check",), BOMB),
    Case("self-referencing alias", ("check",), _replace("owners: [members]", "owners: &o [*o]")),
    Case("undefined alias", ("check",), _replace("owners: [members]", "owners: *nowhere")),
    Case("merge key", ("check",), _replace("  - id: a2\n", "  - <<: {due: 2020-01-01}\n    id: a2\n")),
    Case("duplicate key", ("check",), _replace("    title: First action\n", "    title: First action\n    title: Again\n")),
    Case("duplicate action id", ("check",), _replace("  - id: a2", "  - id: a1")),
    Case("deep nesting", ("check",), MINIMAL + "extra: " + "[" * 20000 + "]" * 20000 + "\n"),
    Case("deep mapping nesting", ("check",), _replace("title: First action", "title: " + "{a: " * 3000 + "1" + "}" * 3000)),
    Case("huge file", ("check",), MINIMAL + "# " + "x" * (21 * 1024 * 1024) + "\n"),
    Case("huge number", ("check",), _replace("at_least: 1", "at_least: " + "9" * 5000)),
    Case("huge offset", ("check",), _replace("due: {next: virtual, after: m1}", "due: {meeting: m1, offset: -99999999999999d}")),
    Case("year 10000", ("check",), _replace("due: 2020-04-01", "due: 10000-04-01")),
    Case("year 0", ("check",), _replace("due: 2020-04-01", "due: 0000-04-01")),
    Case("year 1 east of Greenwich", ("check",), _replace("due: 2020-04-01", "due: 0001-01-01T00:00+14:00")),
    Case("meeting at the end of time", ("sync",), _replace("start: 2020-03-10, end: 2020-03-11", "start: 9999-12-30, end: 9999-12-31")),
    Case("wrong type for title", ("check",), _replace("title: First action", "title: [a, list]")),
    Case("wrong type for owners", ("check",), _replace("owners: [members]", "owners: {a: b}")),
    Case("wrong type for group", ("check",), MINIMAL.replace("group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}", "group: [g]")),
    Case("missing group", ("check",), "workplan: 1\nactions: []\n"),
    Case("empty title", ("check",), _replace("title: First action", "title: ''")),
    Case("unknown time zone", ("check",), _replace("timezone: America/Panama", "timezone: Mars/Olympus")),
    Case("bad date", ("check",), _replace("due: 2020-04-01", "due: 2020-02-30")),
    Case("unknown key", ("check",), _replace("    due: 2020-04-01\n", "    due: 2020-04-01\n    owner: TS\n")),
    Case("dependency cycle", ("check",), _replace("    due: 2020-04-01\n", "    due: 2020-04-01\n    depends_on: [a2]\n")),
    Case("header injection in a party name", ("check",), _replace("name: Costa Rica,", 'name: "Costa Rica\\r\\nBcc: x@example.org",')),
    Case("header injection in an address", ("check",), _replace("email: [cr@example.org]", 'email: ["cr@example.org\\r\\nBcc: x@example.org"]')),
    Case("bad rrule", ("check",), _replace("    due: 2020-04-01\n", "    rrule: FREQ=SOMETIMES\n    from: 2020-01-01\n")),
    Case("broken file seen by a read command", ("overdue",), MINIMAL + "  - {id: broken\n"),
    Case("no actions file", ("list",), None),
    # the command line
    Case("as-of that is not a date", ("overdue", "--as-of", "yesterday")),
    Case("as-of on 30 February", ("list", "--as-of", "2020-02-30")),
    Case("as-of a month", ("list", "--as-of", "2020-02")),
    Case("on that is not a date", ("done", "a1", "--party", "CR", "--on", "soon")),
    Case("unknown action", ("done", "nope", "--party", "CR")),
    Case("unknown party", ("done", "a1", "--party", "XX")),
    Case("waive without a note", ("waive", "a1", "--party", "CR")),
    Case("reopen what is open", ("reopen", "a1", "--party", "CR")),
    Case("show unknown action", ("show", "../../etc/passwd")),
    Case("unknown format", ("list", "--format", "xml")),
    Case("unknown status filter", ("list", "--status", "finished")),
    Case("negative days", ("upcoming", "--days", "-5")),
    Case("agenda for an unknown meeting", ("agenda", "--meeting", "nope")),
    Case("agenda with two choices", ("agenda", "--meeting", "m1", "--next-virtual")),
    Case("digest for nobody", ("digest", "--out", "d")),
    Case("digest for an unknown party", ("digest", "--party", "XX", "--out", "d")),
    Case("unknown command", ("frobnicate",)),
    # where output goes
    Case("calendars onto a file", ("calendars", "--out", "taken"), setup=_a_file_named("taken"), codes=(1, 2)),
    Case("agenda onto a folder", ("agenda", "-o", "taken"), setup=_a_folder_named("taken"), codes=(1, 2)),
    Case("digest into a file", ("digest", "--all", "--out", "taken"), setup=_a_file_named("taken"), codes=(1, 2)),
    Case("agenda below a file", ("agenda", "-o", "taken/agenda.md"), setup=_a_file_named("taken"), codes=(1,)),
    # settings and templates
    Case("broken workplan.toml", ("list",), setup=_toml("[database\nurl = 1\n")),
    Case("unknown setting", ("list",), setup=_toml("[database]\nhost = 'x'\n")),
    Case("password in a file", ("list",), setup=_toml("[smtp]\npassword = 'hunter2'\n")),
    Case("number setting that is not one", ("upcoming",), env={"WORKPLAN_DIGEST_LOOKAHEAD_DAYS": "soon"}),
    Case("unknown database scheme", ("--db", "mysql://x/y", "list")),
    Case("database URL that is not one", ("--db", "::::", "list")),
    Case("unreachable database", ("--db", "postgresql://postgres@127.0.0.1:9/x?connect_timeout=2", "list"), codes=(1,)),
    Case("corrupt database", ("list",), setup=_database(b"SQLite format 3\x00" + b"\x07" * 4096), codes=(1,)),
    Case("a database that is not SQLite", ("list",), setup=_database(b"hello" * 1000), codes=(1,)),
    Case("broken template", ("agenda",), setup=_template("agenda.md", "{% for x in %}\n")),
    Case("template failing while rendering", ("agenda",), setup=_template("agenda.md", "{{ nothing.at.all }}\n")),
]


def _prepare(root: Path, index: int, case: Case) -> Path:
    folder = root / f"case{index:03d}"
    folder.mkdir()
    if isinstance(case.actions, bytes):
        (folder / "actions.yaml").write_bytes(case.actions)
    elif case.actions is not None:
        (folder / "actions.yaml").write_text(case.actions, encoding="utf-8")
    if case.setup is not None:
        case.setup(folder)
    return folder


def test_every_bad_input_fails_in_one_sentence_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKPLAN_")}
    captured = tmp_path / "captured"
    captured.mkdir()
    parallel = max(2, os.cpu_count() or 2)
    running: list[tuple[Case, subprocess.Popen[bytes], Path]] = []
    for index, case in enumerate(CATALOGUE):
        folder = _prepare(tmp_path, index, case)
        log = captured / f"{index:03d}.txt"
        with log.open("wb") as fh:
            fh.write(f"$ workplan {' '.join(case.args)}   # {case.name}\n".encode())
            fh.flush()
            # stderr into a file too: a pipe nobody reads could fill up and stall the process
            err = folder.parent / f"{index:03d}.err"
            with err.open("wb") as eh:
                proc = subprocess.Popen([sys.executable, "-m", "workplan.cli", *case.args], cwd=folder,
                                        env={**env, **case.env}, stdout=fh, stderr=eh)
        running.append((case, proc, err))
        if len(running) >= parallel:
            running[-parallel][1].wait(timeout=120)
    wrong = []
    for index, (case, proc, err) in enumerate(running):
        proc.wait(timeout=120)
        text = err.read_text(encoding="utf-8", errors="replace")
        with (captured / f"{index:03d}.txt").open("a", encoding="utf-8") as fh:
            fh.write(text + f"(exit {proc.returncode})\n")
        if proc.returncode not in case.codes or not text.strip() or "internal error" in text or "error interno" in text:
            wrong.append(f"{case.name}: exit {proc.returncode}, stderr {text[-600:]!r}")
        elif case.codes == (2,) and "Usage:" not in text and not any(
                line.startswith(("workplan: ", "actions.yaml:", "Error:")) for line in text.splitlines()):
            wrong.append(f"{case.name}: stderr does not say what is wrong: {text[-600:]!r}")
    assert not wrong, "\n".join(wrong)
    grep = shutil.which("grep")
    if grep:
        found = subprocess.run([grep, "-rn", "-e", "Traceback", "-e", "internal error", "-e", "error interno", str(captured)],
                               capture_output=True, text=True, check=False)
        assert found.returncode == 1, found.stdout  # 1: grep found nothing
    combined = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(captured.iterdir()))
    assert "Traceback" not in combined
    assert combined.count("$ workplan ") == len(CATALOGUE)
