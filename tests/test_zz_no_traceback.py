"""The last test of the run: no command run by any other test printed a traceback (issue 8).

`run_cli` (conftest.py) appends the output of every failed run, and of every run that wrote
to stderr, to one file per session; this test greps it. `--debug` runs are left out: showing
the traceback is what that flag is for.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.mark.last
def test_no_command_printed_a_traceback(captured_output: Path) -> None:
    runs = captured_output / "runs.txt"
    if not runs.exists():
        pytest.skip("no other test ran a failing command in this session")
    grep = shutil.which("grep")
    if grep:
        found = subprocess.run([grep, "-rn", "-e", "Traceback", "-e", "internal error", "-e", "error interno", str(captured_output)],
                               capture_output=True, text=True, check=False)
        assert found.returncode == 1, f"tracebacks in {runs}:\n{found.stdout[:5000]}"
    text = runs.read_text(encoding="utf-8")
    assert not any(sign in text for sign in ("Traceback", "internal error", "error interno"))
