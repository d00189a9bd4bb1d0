"""Text for a terminal (issue 18): a title, description or note that carries control characters or
escape sequences (ESC [2J clears the screen, ESC ] 0; retitles the window, a CR overwrites
the line) reaches `show`, `list` and `log` as visible escapes, not as bytes the terminal acts on;
JSON keeps the exact data, and a multi-line description keeps its lines. On both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import MINIMAL, run_cli, write_project
from workplan.formatting import printable, table

EVIL_TITLE = "Evil \x1b[2J\x1b]0;owned\x07 title\rX\x9b31m\x7f"
EVIL_DESCRIPTION = "First line \x1b[31mred\x1b[0m\nsecond line\ttabbed\x05"
EVIL_NOTE = "sent \x1b[8mhidden\x1b[0m\x08\x08 ok\nsecond"
# every C0 control but the newline, DEL and every C1 control
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")

YAML = MINIMAL.replace(
    "    title: First action\n",
    '    title: "Evil \\e[2J\\e]0;owned\\a title\\rX\\x9b31m\\x7f"\n'
    '    description: "First line \\e[31mred\\e[0m\\nsecond line\\ttabbed\\x05"\n')


def test_printable_shows_controls_as_escapes_and_leaves_other_text_alone() -> None:
    assert printable("plain text, áéí ñ “quoted” 中文 — ok") == "plain text, áéí ñ “quoted” 中文 — ok"
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("a\rb\nc\td\x00e\x7ff\x85g\x9bh") == "a\\x0db\\x0ac\\x09d\\x00e\\x7ff\\x85g\\x9bh"
    shown = printable("".join(map(chr, range(0x100))))
    assert not UNSAFE.search(shown) and "\n" not in shown
    # a table measures the escaped text: its columns stay aligned
    out = table(("A", "B"), [("x\x1by", "1"), ("long cell", "2")])
    assert out.splitlines()[1] == "x\\x1by     1"
    assert out.splitlines()[2] == "long cell  2"


@pytest.mark.usefixtures("db_backend")
def test_show_list_and_log_never_print_control_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no title cut to the width of the terminal
    folder = write_project(tmp_path / "p", YAML)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-02", "--note", EVIL_NOTE).code == 0

    listed = run_cli(folder, "list", "--as-of", "2020-06-01")
    assert listed.code == 0 and "Evil \\x1b[2J\\x1b]0;owned\\x07 title\\x0dX\\x9b31m\\x7f" in listed.out
    shown = run_cli(folder, "show", "a1", "--as-of", "2020-06-01")
    assert shown.code == 0 and "a1: Evil \\x1b[2J" in shown.out
    # the description keeps its two lines; what is inside a line is escaped
    assert "  First line \\x1b[31mred\\x1b[0m\n  second line\\x09tabbed\\x05\n" in shown.out
    log = run_cli(folder, "log", "a1")
    assert log.code == 0 and "sent \\x1b[8mhidden\\x1b[0m\\x08\\x08 ok\\x0asecond" in log.out
    for result in (listed, shown, log):
        assert not UNSAFE.search(result.out), repr(result.out)
    assert len(log.out.splitlines()) == 2  # the header and one event: the note's newline is shown, not kept

    # scripts get the exact data
    data = run_cli(folder, "show", "a1", "--format", "json").json()
    assert data["title"] == EVIL_TITLE and data["description"] == EVIL_DESCRIPTION
    assert run_cli(folder, "list", "--format", "json").json()[0]["title"] == EVIL_TITLE
    assert run_cli(folder, "log", "a1", "--format", "json").json()[-1]["note"] == EVIL_NOTE
