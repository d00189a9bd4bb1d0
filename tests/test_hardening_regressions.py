"""Failures that the property-based tests and the bad-input catalogue found, kept fixed (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, run_cli, write_project


@pytest.mark.parametrize("url", ["::::", "postgresql://user:s3cret@host:port/db"])
def test_a_database_url_that_does_not_parse_is_a_usage_error(tmp_path: Path, url: str) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "--db", url, "list")
    assert result.code == 2
    assert result.err == ("workplan: the database URL (database.url, WORKPLAN_DATABASE_URL or --db) does not parse; "
                          "write sqlite:///FILE or postgresql://USER@HOST/DATABASE\n")


