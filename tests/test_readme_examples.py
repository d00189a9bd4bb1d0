"""Every command example of README.md is run, and its output compared with what the README shows.

An example is a code block with lines that begin with ``$ `` (the prompt): each such line is a command,
the lines after it, up to the next prompt, what it prints (standard output, then standard error).
A line holding only ``…`` stands for one or more lines left out; any other line must be printed
exactly (trailing spaces aside). Each example runs in its own fresh copy of the shipped
``actions.yaml``, already synced (as after the tour's ``workplan sync``) unless the example itself
runs ``workplan sync``, through a real shell and this interpreter's ``workplan``, in English, with no
``WORKPLAN_*`` setting from the machine. Dates that matter are pinned by the ``--as-of`` the README
shows.

An example that cannot be run so is marked in README.md, on the line before its block, with
``<!-- readme-example: not run: REASON -->``; :data:`NOT_RUN` lists the same ones and why, so that
a mark is never added (or lost) silently. A block that shows a ``workplan`` command without the
prompt is a synopsis and must not show output (a block may open with synopsis lines before its
first prompt).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mailserver import Recorder, smtp_server

from conftest import REPO, SHIPPED_ACTIONS
from workplan.cli import cli

README = REPO / "README.md"
ELLIPSIS = "…"
NOT_RUN_MARK = re.compile(r"<!--\s*readme-example:\s*not run:\s*(.+?)\s*-->")

# the first command of each example marked "not run" in README.md, and why it cannot be run here
NOT_RUN = {
    "WORKPLAN_SERVER_BASE_URL=https://workplan.example.org workplan feeds token CR":
        "the token is random by design; tests/test_web.py checks issuing, rotating and revoking one",
    "LANG=es_ES.UTF-8 workplan check":
        "it checks a broken file shown in part, not the shipped actions.yaml; "
        "tests/test_i18n.py::test_check_speaks_spanish_under_lang checks these sentences",
    "workplan digest --party BZ --send --as-of 2019-01-15":
        "the whole loop needs its settings and a mail server; tests/test_readme_loop.py runs it",
    "workplan inbox receive < reply.eml":
        "the reply names the key of the digest just sent; tests/test_readme_loop.py runs it",
    "workplan log --party BZ --format csv":
        "the reply's changes are dated when they are applied; tests/test_readme_loop.py runs it",
    "workplan log focal-points --party CR":
        "it shows a report made on the report page, dated when it was made; tests/test_report_page.py "
        "makes one in a browser and checks this log",
}
# examples that need a server beside the project: an SMTP server on loopback that accepts all
NEEDS_SMTP = ("workplan digest --all --send",)


@dataclass
class Example:
    line: int  # where its block begins in README.md (1-based)
    commands: list[tuple[str, list[str]]]  # (command, expected output lines)
    not_run: str | None = None

    @property
    def first(self) -> str:
        return self.commands[0][0]


def code_blocks(text: str) -> list[tuple[int, list[str], str | None]]:
    """(first line number, lines without their indentation, not-run reason) of every code block:
    fenced ones, and indented ones after a blank line."""
    lines = text.splitlines()
    blocks: list[tuple[int, list[str], str | None]] = []
    i = 0

    def mark_before(index: int) -> str | None:
        j = index - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        found = NOT_RUN_MARK.search(lines[j]) if j >= 0 else None
        return found.group(1) if found else None

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start = i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, body, mark_before(start)))
            i += 1
            continue
        if line.startswith("    ") and line.strip() and (i == 0 or not lines[i - 1].strip()):
            start = i
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            blocks.append((start + 1, body, mark_before(start)))
            continue
        i += 1
    return blocks


def examples() -> list[Example]:
    out = []
    for line, body, reason in code_blocks(README.read_text(encoding="utf-8")):
        first = next((n for n, text in enumerate(body) if text.startswith("$ ")), None)
        if first is None:
            continue
        commands: list[tuple[str, list[str]]] = []
        for text in body[first:]:
            if text.startswith("$ "):
                commands.append((text[2:].strip(), []))
            else:
                commands[-1][1].append(text.rstrip())
        out.append(Example(line, commands, reason))
    return out


EXAMPLES = examples()


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line, where a line "…" stands for one or more lines of *actual*."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == ELLIPSIS:
        return any(matches(rest, actual[n:]) for n in range(1, len(actual) + 1))
    return bool(actual) and actual[0] == head and matches(rest, actual[1:])


def _environment(home: Path) -> dict[str, str]:
    """English, no WORKPLAN_* setting of this machine, and `workplan` the one of this interpreter."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WORKPLAN_") and k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "workplan"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m workplan "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["COLUMNS"] = "80"
    return env


def _run(command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]


def test_readme_has_examples() -> None:
    firsts = [e.first for e in EXAMPLES]
    assert len(EXAMPLES) >= 10, firsts
    for needed in ("workplan check", "workplan sync -q", "workplan meetings --as-of 2019-07-15"):
        assert needed in firsts, needed
    assert any(f.startswith("workplan digest --all --as-of") for f in firsts)
    assert any(f.startswith("workplan init") for f in firsts)


def test_not_run_examples_are_the_listed_ones() -> None:
    marked = {e.first: e.not_run for e in EXAMPLES if e.not_run}
    assert set(marked) == set(NOT_RUN), "a README example is marked 'not run' without being listed, or the reverse"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.not_run], ids=lambda e: f"README.md:{e.line}")
def test_readme_example(example: Example, tmp_path: Path) -> None:
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    env = _environment(tmp_path)
    if not any(re.search(r"\bworkplan sync\b", command) for command, _ in example.commands):
        _run("workplan sync -q", folder, env)
    server = None
    if any(example.first.startswith(prefix) for prefix in NEEDS_SMTP):
        server = smtp_server(Recorder())
        env.update(WORKPLAN_SMTP_HOST="127.0.0.1", WORKPLAN_SMTP_PORT=str(server.__enter__()))
    try:
        for command, expected in example.commands:
            actual = _run(command, folder, env)
            assert matches(expected, actual), (
                f"README.md:{example.line}: `{command}` printed\n" + "\n".join(actual)
                + "\n\nwhere the README shows\n" + "\n".join(expected))
    finally:
        if server is not None:
            server.__exit__(None, None, None)


SHELL_WORDS = ("workplan", ".venv/", "python", "pip", "export", "cd ", "WORKPLAN_", "LANG=", "#", "waitress-serve")


def test_synopses_show_no_output_and_name_real_commands() -> None:
    """A block that shows `workplan …` without the prompt is a synopsis: only command lines, and
    each names a command that exists (output belongs in an example, which is run)."""
    for line, body, _reason in code_blocks(README.read_text(encoding="utf-8")):
        body = list(itertools.takewhile(lambda text: not text.startswith("$ "), body))
        if not any(re.search(r"(^|\s)workplan \w", text) for text in body):
            continue
        for text in body:
            if not text.strip():
                continue
            assert text.lstrip().startswith(SHELL_WORDS), (
                f"README.md:{line}: {text!r} looks like output in a block without a `$` prompt; "
                "write the block as an example (`$ workplan …` and its output) so that it is run")
            for name in re.findall(r"(?:^|\s|&& |/)workplan (\w[\w-]*)", text):
                assert name in cli.commands, f"README.md:{line}: `workplan {name}` is not a command"


def test_matches_understands_the_ellipsis() -> None:
    assert matches(["a", "…", "d"], ["a", "b", "c", "d"])
    assert not matches(["a", "…", "d"], ["a", "d"])
    assert not matches(["a", "b"], ["a", "b", "c"])
    assert matches(["a", "…"], ["a", "b"])
