"""The served pages in a real browser (issue 20): the board and the next virtual meeting's agenda
of the shipped workplan, `workplan serve` on loopback, opened by headless Chromium at a desktop's
width and a phone's, in English and in Spanish. Each has its heading, fits a phone's width without
scrolling sideways, leaves nothing in the console (a violation of the page's Content-Security-Policy
would be there) and asks nothing of another host."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import (
    DESKTOP,
    PHONE,
    browser,  # noqa: F401  (the fixture)
    console_errors,
    foreign,
    no_horizontal_overflow,
    open_page,
    overflow_culprits,
    requested_urls,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from test_web import Server, serving

from conftest import REPO, SHIPPED_ACTIONS

AS_OF = "2019-01-15"  # the day README's description of the board is of
PAGES = {"board": "/", "agenda": "/agenda/next-virtual"}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
LANGUAGES = ("en", "es")
HEADINGS = {("board", "en"): "Status board", ("board", "es"): "Tablero de estado",
            ("agenda", "en"): "Draft agenda", ("agenda", "es"): "Proyecto de agenda"}


@contextlib.contextmanager
def shipped_server(folder: Path) -> Iterator[Server]:
    """The shipped project (actions.yaml, and its letterhead in templates/), served on loopback as
    of AS_OF (on SQLite, in *folder*)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    shutil.copytree(REPO / "templates", folder / "templates")
    with serving(folder, "--as-of", AS_OF) as server:
        yield server


def page_url(server: Server, page: str, lang: str) -> str:
    return f"http://{server.host}:{server.port}{PAGES[page]}?lang={lang}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory.mktemp("shipped") / "rcm") as served:
        yield served


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_reads_in_a_browser(browser: WebDriver, server: Server, page: str, lang: str,  # noqa: F811
                                 width: str) -> None:
    url = page_url(server, page, lang)
    open_page(browser, url, WIDTHS[width])
    assert browser.execute_script("return window.innerWidth") == WIDTHS[width]
    heading = HEADINGS[page, lang]
    assert heading in browser.title, browser.title
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(heading)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert no_horizontal_overflow(browser), overflow_culprits(browser)
    assert console_errors(browser) == []
    urls = requested_urls(browser)
    assert url in urls  # the network events were read: an empty list would prove nothing
    assert foreign(urls, f"http://{server.host}:{server.port}") == []


def test_a_page_that_breaks_the_rules_is_caught(browser: WebDriver, server: Server) -> None:  # noqa: F811
    """The checks above can fail: a page too wide, a style from another host (refused by no CSP
    here, so asked for), and a script the served page's CSP refuses, all seen."""
    origin = f"http://{server.host}:{server.port}"
    wide = ("data:text/html,<meta name=viewport content='width=device-width'>"
            "<link rel=stylesheet href='http://example.invalid/x.css'><div style='width:2000px'>x</div>")
    open_page(browser, wide, PHONE)
    assert not no_horizontal_overflow(browser)
    assert "http://example.invalid/x.css" in foreign(requested_urls(browser), origin)
    # the board's own policy (default-src 'none') refuses a script run in it: the console says so
    open_page(browser, page_url(server, "board", "en"), DESKTOP)
    browser.execute_script("const s = document.createElement('script'); s.src = 'x.js'; document.head.append(s);")
    assert any("Content Security Policy" in message for message in console_errors(browser))
