"""Headless Chromium for the tests that look at the served pages as a reader does: Debian's
/usr/bin/chromium driven by its /usr/bin/chromedriver through Selenium 4 (never a driver Selenium
Manager would download), in a fresh profile, with nothing of its own on the network.

`browser` is a session-scoped fixture (import it into the test module, as `smtp_env`); it skips,
with the reason, only when Debian's binaries are missing. The helpers set the viewport's width in
CSS pixels (DESKTOP, PHONE), tell whether the page scrolls sideways, what the console said, which
URLs were requested, and take a screenshot of the whole height of a page."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = 1280  # CSS pixels
PHONE = 360
HEIGHT = 900  # of the viewport, until a screenshot asks for the whole page
ARGUMENTS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars")  # the last: none drawn over the screenshots


def missing() -> str | None:
    """Why there can be no browser here, or None."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if absent:
        return (f"Debian's chromium and chromium-driver are not installed ({', '.join(absent)} missing); "
                "apt-get install chromium chromium-driver")
    return None


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile in *profile*, closed on the way out."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={profile}")
    # the console (CSP violations land there) and the network events, read by the helpers below
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        set_width(driver, DESKTOP)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the whole run (it takes seconds to start)."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def set_width(driver: WebDriver, width: int, height: int = HEIGHT) -> None:
    """Make the viewport *width* CSS pixels wide (and *height* tall). The window itself cannot be
    made that narrow (Chromium keeps it 500 px wide at least), so the device metrics are set
    instead, and as a desktop's: a phone's emulation would zoom out to fit a page too wide, which
    widens `window.innerWidth` with it and hides the very overflow `no_horizontal_overflow` looks for."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def no_horizontal_overflow(driver: WebDriver) -> bool:
    """The page fits the viewport's width: nothing to scroll sideways to."""
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def overflow_culprits(driver: WebDriver) -> list[str]:
    """The elements that reach past the right edge of the viewport (to say what overflows)."""
    found = driver.execute_script("""
        const out = [];
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 0.5)
                out.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' + Math.round(r.right));
        }
        return out.slice(0, 20);""")
    return [str(x) for x in found]


def console_errors(driver: WebDriver) -> list[str]:
    """What the console said at level SEVERE (errors, CSP violations) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the page asked for since the last call (from Chromium's network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def foreign(urls: list[str], origin: str) -> list[str]:
    """The URLs among *urls* that are not on *origin* (``http://127.0.0.1:PORT``), nor inline."""
    home = urlsplit(origin)
    return [url for url in urls if urlsplit(url).scheme not in ("data", "about", "blob")
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (home.scheme, home.netloc)]


def open_page(driver: WebDriver, url: str, width: int) -> None:
    """Load *url* at *width* with the logs drained first, so that what they hold next is this page's."""
    set_width(driver, width)
    console_errors(driver)
    requested_urls(driver)
    driver.get(url)


def screenshot(driver: WebDriver, url: str, width: int, path: Path) -> None:
    """A PNG of *url*, *width* CSS pixels wide and as tall as the whole page."""
    open_page(driver, url, width)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_width(driver, width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not driver.save_screenshot(str(path)):
        raise RuntimeError(f"Chromium took no screenshot of {url}")
    set_width(driver, width)


@contextlib.contextmanager
def scratch_browser() -> Iterator[WebDriver]:
    """Outside pytest (tests/screenshots.py): a browser with its profile in a temporary folder."""
    reason = missing()
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, chromium(Path(profile)) as driver:
        yield driver
