"""The benchmark's generator and runner, at a tiny size, so that neither rots.

Speed is measured by `bench/run.py`, never here: these tests only check that the generated
workplan is valid and that one pass of the bench produces its results and its table, whose
counts, ratios and verdicts agree with what they are computed from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, database_url, run_cli, scalar, write_project

sys.path.insert(0, str(REPO / "bench"))

import generate  # noqa: E402
import run  # noqa: E402


def test_the_generated_workplan_is_valid_and_reproducible(tmp_path: Path) -> None:
    text = generate.generate(60, seed=3)
    assert text == generate.generate(60, seed=3)
    assert text != generate.generate(60, seed=4)
    folder = write_project(tmp_path / "p", text)
    result = run_cli(folder, "check")
    assert result.code == 0, result.err
    assert "ok (60 actions" in result.out
    # every form the issue asks for is there
    for needle in ("owners: [members]", "due: {meeting:", "due: {next: virtual", "repeat:", "depends_on:",
                   "progress:", "status: waived", "visibility: restricted", "offset: -"):
        assert needle in text, needle


def test_one_pass_of_the_bench_writes_results_and_the_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Bench\n\nbefore\n<!-- results:start -->\nold table\n<!-- results:end -->\nafter\n",
                      encoding="utf-8")
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "30", "--runs", "1", "--work",
         str(tmp_path / "work"), "--results", str(results), "--readme", str(readme), "--no-install",
         "--wrk-seconds", "1", "--task-timeout", "60"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(results.read_text(encoding="utf-8"))
    size = data["sizes"]["30"]
    assert size["actions"] == 30 and size["assignments"] >= 30
    # the counts are those of the same generated file synced here
    text = generate.generate(30, seed=size["seed"])
    assert size["file_bytes"] == len(text.encode("utf-8"))
    folder = write_project(tmp_path / "same", text)
    assert run_cli(folder, "sync").code == 0
    url = database_url(folder)
    assert (size["assignments"], size["events"]) == (scalar(url, "select count(*) from assignment"),
                                                     scalar(url, "select count(*) from event"))
    for name in ("workplan --help", "sync (first)", "sync (nothing changed)", "overdue --format json",
                 "calendars --out DIR", "digest --all --out DIR"):
        command = size["commands"][name]
        assert command["ok"], name
        assert command["median"] > 0 and command["peak_rss_mb"] > 0
    assert set(data["floors"]) == {"python -c pass", "python -c 'import click'", "python -c 'import sqlalchemy.orm'"}
    assert all(floor["median"] > 0 for floor in data["floors"].values())
    assert data["ratios"]["ours_over_floor"]["30"]["workplan --help"] > 0
    # each ratio is its command's median over its floor's
    floors = size.get("floors", data["floors"])
    assert data["ratios"]["ours_over_floor"]["30"] == {
        name: round(size["commands"][name]["median"] / floors[floor]["median"], 2)
        for name, (_args, floor) in run.COMMANDS.items()}
    assert size["taskwarrior"]["available"] is (shutil.which("task") is not None)
    if size["taskwarrior"]["available"]:
        assert size["commands"]["task overdue"]["ok"]
        assert data["ratios"]["taskwarrior_over_ours"]["30"]["task overdue"] > 0
    else:
        assert size["taskwarrior"]["reason"] == "taskwarrior is not installed"
    assert "available" in size["server"]  # measured, or said why not
    server = size["server"]
    assert server["available"] is (shutil.which("wrk") is not None)
    if server["available"]:
        for kind in ("full", "not_modified"):
            assert server[kind]["requests_per_second"] > 0 and server[kind]["non_2xx_3xx"] == 0, kind
    else:
        assert server["reason"] == "wrk is not installed"
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text and text.startswith("# Bench\n\nbefore\n") and text.endswith("after\n")
    assert "| `workplan --help` |" in text and "| `workplan overdue --format json` |" in text
    assert any(t["target"].startswith("workplan --help") for t in data["targets"])
    # the --help target is its median over `import click`'s, judged against its limit
    help_target = next(t for t in data["targets"] if t["target"].startswith("workplan --help"))
    expected = round(size["commands"]["workplan --help"]["median"] / floors["python -c 'import click'"]["median"], 2)
    assert (help_target["value"], help_target["limit"]) == (expected, 1.5)
    assert help_target["met"] is (expected <= 1.5)
