"""Validation: every error at once, as FILE:LINE:COL: message, exit 2, database untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, database_url, dump_database, run_cli, write_project

pytestmark = pytest.mark.usefixtures("db_backend")


def check(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "check")
    return result.code, [line for line in result.err.splitlines() if line.startswith("actions.yaml:")]


def test_minimal_file_is_valid(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "check")
    assert result.code == 0, result.err
    assert "ok (2 actions" in result.out


def broken(original: str, new: str, base: str = MINIMAL) -> str:
    assert original in base
    return base.replace(original, new)


CASES = [
    ("unknown key", broken("    due: 2020-04-01\n", "    due: 2020-04-01\n    deadline: 2020-05-01\n"),
     19, "unknown key 'deadline' in an action"),
    ("unknown party", broken("owners: [TS]", "owners: [TS, XX]"), 21, "unknown party or set 'XX' in owners"),
    ("unknown set member", broken("members: [CR, PA]", "members: [CR, PA, ZZ]"), 8, "set 'members' names unknown party 'ZZ'"),
    ("unknown meeting in source", broken("source: {meeting: m1,", "source: {meeting: m9,"), 16,
     "source names unknown meeting 'm9'"),
    ("unknown meeting in due", broken("due: {next: virtual, after: m1}", "due: {meeting: m7}"), 23,
     "due at unknown meeting 'm7'"),
    ("unknown dependency", broken("depends_on: [a1]", "depends_on: [a9]"), 22, "depends on unknown action 'a9'"),
    ("self dependency", broken("depends_on: [a1]", "depends_on: [a2]"), 22, "action 'a2' depends on itself"),
    ("duplicate id", broken("  - id: a2\n", "  - id: a1\n"), 19, "action id 'a1' is used twice (first on line 14)"),
    ("bad date", broken("due: 2020-04-01", "due: 2020-02-30"), 18, "'2020-02-30' is not a valid date"),
    ("bad time", broken("due: 2020-04-01", "due: 2020-04-01T25:00"), 18, "is not a date"),
    ("bad zone", broken("timezone: America/Panama", "timezone: Mars/Olympus"), 2, "unknown time zone 'Mars/Olympus'"),
    ("bad offset", broken("due: {next: virtual, after: m1}", "due: {meeting: m1, offset: two weeks}"), 23,
     "offset 'two weeks' does not parse"),
    ("waived without note", broken("    due: 2020-04-01\n", "    due: 2020-04-01\n    progress:\n"
                                   "      - {party: CR, status: waived, on: 2020-03-20}\n"), 20,
     "CR waived without a note"),
    ("duplicate key", broken("    due: 2020-04-01\n", "    due: 2020-04-01\n    due: 2020-05-01\n"), 19,
     "has the key 'due' twice"),
    ("python tag", broken("title: First action", "title: !!python/object:os.system x"), 15,
     "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_error_is_reported_with_its_position(tmp_path: Path, name: str, text: str, line: int,
                                                   message: str) -> None:
    code, lines = check(tmp_path, text)
    assert code == 2
    matching = [entry for entry in lines if message in entry]
    assert matching, lines
    assert matching[0].startswith(f"actions.yaml:{line}:"), matching[0]


def test_cycle_is_printed(tmp_path: Path) -> None:
    text = broken("    due: 2020-04-01\n", "    due: 2020-04-01\n    depends_on: [a2]\n")
    code, lines = check(tmp_path, text)
    assert code == 2
    assert any("dependency cycle: a1 → a2 → a1" in entry for entry in lines), lines


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    code, lines = check(tmp_path, MINIMAL.replace("owners: [TS]", "owners: [TS"))
    assert code == 2
    assert len(lines) == 1 and "YAML syntax error" in lines[0]


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    text = broken("    owners: [TS]\n", "").replace("due: 2020-04-01", "due: 2019-01-01")
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "check")
    assert result.code == 0
    assert "warning: action a2 has no owner" in result.err
    assert "warning: action a1 is due (2019-01-01) before the meeting that created it" in result.err


ALL_AT_ONCE = (
    MINIMAL.replace("owners: [TS]", "owners: [TS, XX]")  # unknown party
    .replace("due: 2020-04-01", "due: 2020-13-01\n    depends_on: [a2]")  # bad date + cycle
    + "  - id: a1\n    title: Duplicate\n    owners: [TS]\n"  # duplicate id
)


def test_broken_file_reports_everything_and_leaves_database_unchanged(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    first = run_cli(folder, "sync")
    assert first.code == 0, first.err
    url = database_url(folder)
    before = dump_database(url)
    (folder / "actions.yaml").write_text(ALL_AT_ONCE, encoding="utf-8")
    for command in (("check",), ("sync",), ("overdue",), ("list",)):
        result = run_cli(folder, *command)
        assert result.code == 2, command
        messages = result.err
        assert "unknown party or set 'XX'" in messages
        assert "'2020-13-01' is not a valid date" in messages
        assert "dependency cycle: a1 → a2 → a1" in messages
        assert "action id 'a1' is used twice" in messages
        assert "Traceback" not in messages
        for line in messages.strip().splitlines():
            assert line.startswith(("actions.yaml:", "workplan: actions.yaml:")), line
    assert dump_database(url) == before


def test_missing_project_is_one_sentence(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "overdue")
    assert result.code == 2
    assert result.err.startswith("workplan: no actions.yaml or workplan.toml in")
    assert result.err.count("\n") == 1
