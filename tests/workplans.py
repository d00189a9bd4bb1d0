"""Small generated workplans for the property-based tests of listings, sync and check: the group
and its parties, a day counter, a project folder without a database setting (SQLite), JSON output.

Example counts are bounded and the examples derandomised, so the suite is stable in CI."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from conftest import MINIMAL, run_cli

HEAD = MINIMAL[:MINIMAL.index("meetings:")]  # the group, its parties and the members set
CLOSED = {"done", "waived", "cancelled"}  # written here, not imported: the tests' own oracle
START = date(2020, 1, 1)
SLOW = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


def _project(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "actions.yaml").write_text(text, encoding="utf-8")
    return folder


def _json(folder: Path, *args: str) -> Any:
    result = run_cli(folder, *args, "--format", "json")
    assert result.code == 0, (args, result)
    return result.json()
