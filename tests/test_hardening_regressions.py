"""Failures that the property-based tests and the bad-input catalogue found, kept fixed (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, run_cli, write_project


def test_a_huge_number_of_meetings_is_a_validation_error(tmp_path: Path) -> None:
    # int() of more than 4300 digits raises ValueError inside Python itself
    folder = write_project(tmp_path / "p", MINIMAL.replace("at_least: 1", "at_least: " + "9" * 5000))
    result = run_cli(folder, "check")
    assert result.code == 2
    assert result.err.startswith("actions.yaml:12:46: at_least must be a whole number of meetings, at least 1, not '999")
    assert len(result.err) < 400  # the value is not quoted back whole


@pytest.mark.parametrize(("written", "column"), [
    ("10000-04-01", 10), ("0000-04-01", 10), ("0001-01-01T00:00+14:00", 10), ("9999-12", 10), ("1899-12-31", 10),
])
def test_dates_outside_the_planning_years_are_refused(tmp_path: Path, written: str, column: int) -> None:
    folder = write_project(tmp_path / "p", MINIMAL.replace("due: 2020-04-01", f"due: {written}"))
    result = run_cli(folder, "check")
    assert result.code == 2, result
    assert f"actions.yaml:18:{column}: due of action a1: '{written}' " in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


@pytest.mark.usefixtures("db_backend")
@pytest.mark.parametrize(("meeting", "offset"), [("2199-03-10", "+9999w"), ("1900-01-01", "-9999w")])
def test_the_first_and_last_planning_years_do_not_overflow(tmp_path: Path, meeting: str, offset: str) -> None:
    """A meeting at either end of the accepted years, a deadline the largest offset away from it,
    and reads at moments as far east and west as time zones go: every command answers."""
    text = MINIMAL.replace("start: 2020-03-10, end: 2020-03-11", f"start: {meeting}, end: {meeting}").replace(
        "due: {next: virtual, after: m1}", f"due: {{meeting: m1, offset: {offset}}}")
    folder = write_project(tmp_path / "p", text)
    for args in (("sync",), ("overdue",), ("list", "--format", "json"), ("calendars",), ("agenda",),
                 ("agenda", "--next-virtual"), ("meetings",), ("digest", "--all", "--out", "d"), ("graph",),
                 ("overdue", "--as-of", "2199-12-31T23:59-12:00"), ("overdue", "--as-of", "1900-01-01T00:00+14:00"),
                 ("done", "a2", "--on", "1900-01-01T00:00+14:00"), ("log",)):
        result = run_cli(folder, *args)
        assert result.code == 0, (args, result)
        assert "internal error" not in result.err


@pytest.mark.parametrize("url", ["::::", "postgresql://user:s3cret@host:port/db"])
def test_a_database_url_that_does_not_parse_is_a_usage_error(tmp_path: Path, url: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "--db", url, "list")
    assert result.code == 2
    assert result.err == ("workplan: the database URL (database.url, WORKPLAN_DATABASE_URL or --db) does not parse; "
                          "write sqlite:///FILE or postgresql://USER@HOST/DATABASE\n")


@pytest.mark.parametrize("name", ["x" * 5000, "America", "../../etc/passwd", "."])
def test_a_time_zone_that_is_no_file_name_is_a_validation_error(tmp_path: Path, name: str) -> None:
    # a 5000-character zone name made ZoneInfo raise "File name too long" (OSError)
    folder = write_project(tmp_path / "p", MINIMAL.replace("timezone: America/Panama", f"timezone: '{name}'"))
    result = run_cli(folder, "check")
    assert result.code == 2, result
    assert result.err.startswith("actions.yaml:2:") and "group timezone: unknown time zone" in result.err
    assert len(result.err) < 300


@pytest.mark.parametrize(("old", "new"), [("name: Test Group", 'name: "Test\\r\\nBcc: x@example.org"'),
                                          ("domain: test.example.org", 'domain: "example.org\\nBcc: x"')])
def test_the_group_name_and_domain_cannot_carry_a_header(tmp_path: Path, old: str, new: str) -> None:
    # both reach the headers of every digest (Subject, From, Message-ID)
    folder = write_project(tmp_path / "p", MINIMAL.replace(old, new))
    result = run_cli(folder, "check")
    assert result.code == 2, result
    assert result.err.startswith("actions.yaml:2:")
    assert "the group's name or domain contains a line break or control character" in result.err
