"""Rebuild the committed feeds (calendars/) and the golden feeds (tests/golden/).

    .venv/bin/python -m tests.refresh_golden

Run it from the repository root after a deliberate change to the feeds, then read the diff
before committing it: the suite never refreshes these files by itself.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

# the test modules import each other as top-level modules, as pytest does
sys.path.insert(0, str(Path(__file__).resolve().parent))

from golden_feeds import GOLDEN_DIR, GOLDEN_FEEDS, SHIPPED_CALENDARS, build_golden, build_shipped  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # over the committed feeds: their SEQUENCEs continue and what they showed stays, cancelled
        built = build_shipped(Path(tmp), over=SHIPPED_CALENDARS)
        SHIPPED_CALENDARS.mkdir(exist_ok=True)
        for feed in sorted(built.glob("*.ics")):
            shutil.copy(feed, SHIPPED_CALENDARS / feed.name)
        golden = build_golden(Path(tmp))
        GOLDEN_DIR.mkdir(exist_ok=True)
        for name in GOLDEN_FEEDS:
            shutil.copy(golden / name, GOLDEN_DIR / name)
    print(f"refreshed {SHIPPED_CALENDARS} and {GOLDEN_DIR}; review the diff before committing")


if __name__ == "__main__":
    main()
