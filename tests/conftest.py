"""Fixtures: a project folder in tmp_path, and the command line run in-process."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workplan.cli import main

REPO = Path(__file__).resolve().parent.parent
SHIPPED_ACTIONS = REPO / "actions.yaml"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(cwd: Path, *args: str) -> Result:
    """Run `workplan ARGS` in *cwd*, in this process, capturing stdout, stderr and the exit code."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    code = 0
    try:
        import os

        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(previous)
    return Result(code, out.getvalue(), err.getvalue())


Runner = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shipped RCM project (actions.yaml only) in a fresh folder."""
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    return folder


@pytest.fixture
def wp(project: Path) -> Runner:
    """`wp("overdue", "--as-of", "2019-01-15")` runs workplan in the copied project."""

    def runner(*args: str) -> Result:
        return run_cli(project, *args)

    return runner


def write_project(folder: Path, actions_yaml: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "actions.yaml").write_text(actions_yaml, encoding="utf-8")
    return folder


MINIMAL = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [cr@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
sets:
  members: [CR, PA]
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}
cadence:
  - {kind: virtual, per: semester, at_least: 1, from: 2020-03-11}
actions:
  - id: a1
    title: First action
    source: {meeting: m1, ref: "1", text: "do it"}
    owners: [members]
    due: 2020-04-01
  - id: a2
    title: Second action
    owners: [TS]
    depends_on: [a1]
    due: {next: virtual, after: m1}
"""
