"""Take the screenshots in docs/screenshots/: the board and the next virtual meeting's agenda of
the shipped workplan, and Costa Rica's report page (opened from the link of a digest sent to it
through a loopback SMTP server), as `workplan serve --as-of 2019-01-15` shows them to headless Chromium, at
a desktop's width (1280 CSS px) and a phone's (360), in English and Spanish, each the whole height
of its page. docs/board.png, which README shows, is the top of the English board on a desktop.

    .venv/bin/python -m tests.screenshots

Run it from the repository root after a change to how the pages look, then look at the pictures
before committing them: the suite never takes them by itself.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# the test modules import each other as top-level modules, as pytest does
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import DESKTOP, scratch_browser, screenshot, set_width  # noqa: E402
from test_report_page import report_page_served  # noqa: E402
from test_web_browser import AS_OF, LANGUAGES, PAGES, WIDTHS, page_url, shipped_server  # noqa: E402

from conftest import REPO  # noqa: E402

FOLDER = REPO / "docs" / "screenshots"
README_PICTURE = REPO / "docs" / "board.png"  # the top of the English board, 1280 x 1600
README_HEIGHT = 1600


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, shipped_server(Path(tmp) / "rcm") as server, \
            scratch_browser() as driver:
        for page in PAGES:
            for lang in LANGUAGES:
                for name, width in WIDTHS.items():
                    path = FOLDER / f"{page}-{lang}-{name}.png"
                    screenshot(driver, page_url(server, page, lang), width, path)
                    print(path.relative_to(REPO))
        # the report page (report-LANG-WIDTH.png): Costa Rica's, through the link of a digest sent to it
        with report_page_served(Path(tmp) / "report", "--as-of", AS_OF) as (_server, link):
            for lang in LANGUAGES:
                for name, width in WIDTHS.items():
                    path = FOLDER / f"report-{lang}-{name}.png"
                    screenshot(driver, f"{link}?lang={lang}", width, path)
                    print(path.relative_to(REPO))
        set_width(driver, DESKTOP, README_HEIGHT)
        driver.get(page_url(server, "board", "en"))
        driver.save_screenshot(str(README_PICTURE))
        print(README_PICTURE.relative_to(REPO))


if __name__ == "__main__":
    main()
