"""Golden files: generated documents compared with a stored copy under tests/golden/.

A difference fails the test. To accept new output on purpose, run the tests with
WORKPLAN_UPDATE_GOLDEN=1: the stored copies are rewritten (and the tests pass), and the
change shows up in `git diff` for review. Nothing is ever refreshed silently.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("WORKPLAN_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: bytes | str) -> None:
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"{path} is missing; run the tests with WORKPLAN_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    if expected != data:
        diff = "".join(difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(keepends=True),
            data.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"golden/{name}", tofile="actual", n=2,
        ))
        raise AssertionError(f"{name} differs from its golden copy "
                             f"(WORKPLAN_UPDATE_GOLDEN=1 accepts the new output):\n{diff[:6000]}")
