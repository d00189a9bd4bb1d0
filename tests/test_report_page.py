"""The report page behind the link in each party digest (issue 20), over real HTTP on loopback:
`workplan serve` started as a subprocess (waitress), on SQLite and PostgreSQL. A digest is sent
through a real SMTP server (aiosmtpd) and the key taken from the sent message; the page lists
the party's own assignments, takes a report through a form with a token (Post/Redirect/Get),
its preferences, and the one-click pause of RFC 8058. Every bad input gets one sentence, its
status, and nothing written; unknown keys and failed tokens are rate-limited per address.
And a real browser (headless Chromium) opens the link from a sent digest and reports with it."""

from __future__ import annotations

import contextlib
import html
import http.client
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

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
from mailserver import Recorder, smtp_server
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy.orm import Session
from test_reporting import KEY, mailbox, sent_to, text_of  # noqa: F401  (mailbox: the fixture)
from test_web import Reply, Server, serving

from conftest import MINIMAL, REPO, SHIPPED_ACTIONS, Runner, database_url, dump_database, run_cli, scalar, write_project
from workplan import reporting
from workplan.db import make_engine

AS_OF = "2019-01-15"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def post(server: Server, path: str, fields: dict[str, str] | bytes, headers: dict[str, str] | None = None) -> Reply:
    body = fields if isinstance(fields, bytes) else urlencode(fields).encode("ascii")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def sent_key(wp: Runner, recorder: Recorder, party: str = "CR", address: str = "focal.cr@example.org") -> str:
    result = wp("digest", "--party", party, "--send", "--as-of", AS_OF)
    assert result.code == 0, result.err
    found = KEY.search(text_of(sent_to(recorder, address)))
    assert found is not None
    return found[1]


def token_of(reply: Reply) -> str:
    found = TOKEN.search(reply.text)
    assert found is not None, reply.text[:500]
    return found[1]


def events(project: Path) -> int:
    return int(scalar(database_url(project), "SELECT count(*) FROM event"))


@pytest.fixture
def page(project: Path, wp: Runner, mailbox: Recorder) -> Iterator[tuple[Server, str]]:  # noqa: F811
    """The server (today's data, no --as-of: reports are dated now) and CR's key from its digest."""
    key = sent_key(wp, mailbox)
    with serving(project) as server:
        yield server, key


def test_the_page_lists_the_partys_own_assignments_with_the_headers_of_a_personal_page(
        page: tuple[Server, str], project: Path) -> None:
    server, key = page
    reply = server.request(f"/report/{key}?lang=en")
    assert reply.status == 200, reply.text
    h = reply.headers
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["cache-control"] == "no-store"
    assert "form-action 'self'" in h["content-security-policy"]
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "default-src 'none'" in h["content-security-policy"]
    assert (h["referrer-policy"], h["x-robots-tag"], h["x-content-type-options"], h["x-frame-options"]) == (
        "no-referrer", "noindex", "nosniff", "DENY")
    page_html = reply.text
    assert '<html lang="en">' in page_html and '<link rel="icon" href="data:,">' in page_html
    assert "Report page: Costa Rica" in page_html
    engine = make_engine(database_url(project))
    try:
        with Session(engine) as session:
            grant = reporting.resolve(session, key, datetime.now(UTC))
            assert grant is not None
            numbered = reporting.numbered_items(session, grant)
    finally:
        engine.dispose()
    assert numbered
    for n, item in numbered.items():  # each with the number the digest the key came with gave it
        assert f'<span class="num">[{n}]</span>' in page_html, n
        assert f'name="action" value="{item.action}"' in page_html
    assert "focal-points" in page_html and "Source" in page_html and "Deadline" in page_html
    assert page_html.count('method="post"') >= page_html.count('<article class="item') + 2  # a form each, and the preferences
    assert 'href="/report/' + key + '?lang=es"' in page_html  # the switch to the other language
    assert "<script" not in page_html and "http://" not in page_html.replace("http://www.w3.org", "")
    # the page is in the party's language by default (CR reads Spanish by the actions file)
    spanish = server.request(f"/report/{key}")
    assert '<html lang="es">' in spanish.text and "Página de informe: Costa Rica" in spanish.text
    # HEAD answers as GET does, without the body; other methods are refused with a sentence
    head = server.request(f"/report/{key}", method="HEAD")
    assert head.status == 200 and head.body == b""
    refused = server.request(f"/report/{key}", method="DELETE")
    assert refused.status == 405 and refused.headers["allow"] == "GET, HEAD, POST"


def test_a_report_is_recorded_as_an_event_of_origin_web_and_the_page_confirms_it(
        page: tuple[Server, str], project: Path, wp: Runner) -> None:
    server, key = page
    form = server.request(f"/report/{key}?lang=en")
    fields = {"csrf_token": token_of(form), "kind": "report", "action": "focal-points", "occurrence": "",
              "status": "done", "note": "sent by courier", "evidence": "https://example.org/list.pdf", "on": ""}
    done = post(server, f"/report/{key}?lang=en", fields)
    assert done.status == 303, done.text
    assert done.headers["location"].startswith(f"/report/{key}?lang=en&reported=focal-points&status=done")
    assert done.headers["cache-control"] == "no-store"
    back = server.request(done.headers["location"])
    assert back.status == 200 and "Recorded: focal-points is now done." in back.text
    assert "focal.cr@example.org (web)" in back.text  # the latest event, who and how
    # the page as the link opens it is kept rendered, but never past a change of the data
    plain = server.request(f"/report/{key}?lang=en")
    assert "focal.cr@example.org (web)" in plain.text and "sent by courier" in plain.text
    assert token_of(plain) != "" and "csrf-" not in plain.text
    log = [e for e in wp("log", "focal-points", "--format", "json").json() if e["party"] == "CR"]
    assert (log[-1]["to"], log[-1]["origin"], log[-1]["by"], log[-1]["note"], log[-1]["evidence"]) == (
        "done", "web", "focal.cr@example.org", "sent by courier", "https://example.org/list.pdf")
    # a correction is new events, logged (reopen, start), never a rewrite
    again = post(server, f"/report/{key}", {**fields, "status": "in_progress", "note": "one page missing",
                                               "evidence": ""})
    assert again.status == 303, again.text
    log = [e for e in wp("log", "focal-points", "--format", "json").json() if e["party"] == "CR"]
    assert [e["to"] for e in log[-3:]] == ["done", "open", "in_progress"]
    assert all(e["origin"] == "web" for e in log[-3:])


def test_each_bad_form_gets_one_sentence_its_status_and_nothing_written(
        page: tuple[Server, str], project: Path, wp: Runner) -> None:
    server, key = page
    form = server.request(f"/report/{key}?lang=en")
    token = token_of(form)
    good = {"csrf_token": token, "kind": "report", "action": "focal-points", "occurrence": "", "status": "done",
            "note": "", "evidence": "", "on": ""}
    assert post(server, f"/report/{key}", {**good, "action": "iom-mapping-information", "status": "in_progress"}
                ).status == 303  # an event to date the next ones against
    assert wp("cancel", "consulates-embassies-list", "--party", "CR", "--note", "not needed").code == 0
    url = database_url(project)
    secret = bytes.fromhex(scalar(url, "SELECT value FROM meta WHERE key = 'report.csrf_secret'"))
    old = reporting.csrf_token(secret, reporting.key_hash(key), datetime.now(UTC) - timedelta(hours=25))
    other = reporting.csrf_token(secret, reporting.key_hash("a" * 32), datetime.now(UTC))  # another key's page
    stamp = token.split(".")[0]
    cases = [
        ({**good, "csrf_token": ""}, 400, "The form carries no security token"),
        ({k: v for k, v in good.items() if k != "csrf_token"}, 400, "The form carries no security token"),
        ({**good, "csrf_token": f"{stamp}.{'0' * 64}"}, 400, "is not one this page issued"),
        ({**good, "csrf_token": other}, 400, "is not one this page issued"),
        ({**good, "csrf_token": old}, 400, "The form has expired"),
        ({**good, "action": "consulates-embassies-list"}, 409, "only the secretariat can change it"),
        ({**good, "action": "iom-mapping-information", "on": "2019-01-02"}, 422,
         "before the assignment's latest event"),
        ({**good, "on": "2999-01-02"}, 422, "the date must be a day"),
        ({**good, "on": (datetime.now(UTC) + timedelta(days=3)).date().isoformat()}, 422, "is in the future"),
        ({**good, "status": "waived"}, 422, "needs a note saying why"),
        ({**good, "evidence": "javascript:alert(1)"}, 422, "must be an http or https address"),
        ({**good, "status": "cancelled"}, 400, "Choose what to report"),
        ({**good, "action": ""}, 400, "does not say which assignment"),
        ({**good, "action": "a2-of-nobody"}, 422, "CR has no assignment a2-of-nobody"),
        ({**good, "note": "x" * 1_000_000}, 413, "The form is too large"),
    ]
    before = dump_database(url)
    for fields, status, sentence in cases:
        reply = post(server, f"/report/{key}?lang=en", fields)
        assert reply.status == status, (fields.get("action"), reply.status, reply.text[-1500:])
        assert reply.headers["cache-control"] == "no-store"
        found = [html.unescape(x) for x in re.findall(r'role="alert">([^<]*)<', reply.text)]
        assert len(found) == 1 and found[0].endswith("."), found  # one sentence, next to its form
        assert sentence in found[0], (sentence, found)
    assert dump_database(url) == before


def test_an_unknown_expired_revoked_or_malformed_key_gets_the_same_404(
        page: tuple[Server, str], project: Path, wp: Runner, mailbox: Recorder) -> None:  # noqa: F811
    server, key = page
    expired = sent_key(wp, mailbox, "BZ", "focal.bz@example.org") if False else None  # noqa: F841
    answers = [server.request(path) for path in (
        f"/report/{'a' * 32}", f"/report/{key[:-1]}", f"/report/{key.upper()}", f"/report/{key}x",
        f"/report/{key}/other", "/report/", f"/report/{key}/unsubscribe/x")]
    url = database_url(project)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            from sqlalchemy import text
            session.execute(text("UPDATE report_key SET expires_at = :t"), {"t": datetime(2020, 1, 1)})
            session.commit()
        answers.append(server.request(f"/report/{key}"))
        answers.append(post(server, f"/report/{key}", {"kind": "report"}))
        with Session(engine) as session:
            session.execute(text("UPDATE report_key SET expires_at = :t"), {"t": datetime(2999, 1, 1)})
            session.commit()
    finally:
        engine.dispose()
    assert server.request(f"/report/{key}").status == 200  # live again
    assert wp("report", "revoke", "CR").code == 0
    answers.append(server.request(f"/report/{key}"))
    assert {a.status for a in answers} == {404}
    assert len({a.body for a in answers}) == 1, {a.body for a in answers}
    assert b"There is no report page at this address" in answers[0].body
    assert all(a.headers["cache-control"] == "no-store" for a in answers)


def test_failed_tokens_and_unknown_keys_are_rate_limited_per_client_address(page: tuple[Server, str]) -> None:
    server, key = page
    form = server.request(f"/report/{key}")
    for n in range(19):  # with the 404 of each below: 20 failures in ten minutes
        assert server.request(f"/report/{'b' * 32}").status == 404, n
    reply = post(server, f"/report/{key}", {"kind": "report", "csrf_token": "forged", "action": "focal-points",
                                            "status": "done"})
    assert reply.status == 400
    limited = server.request(f"/report/{key}?lang=en")  # even the live key, from this address
    assert limited.status == 429
    assert 500 <= int(limited.headers["retry-after"]) <= 601
    assert limited.text.startswith("Too many failed attempts from this address; try again in 10 minutes.")
    assert token_of(form)  # the page served before the limit was a page


def test_the_party_pauses_resumes_and_chooses_its_language_on_the_page(
        page: tuple[Server, str], project: Path, wp: Runner) -> None:
    server, key = page
    token = token_of(server.request(f"/report/{key}?lang=en"))
    paused = post(server, f"/report/{key}?lang=en", {"csrf_token": token, "kind": "preferences", "change": "pause"})
    assert paused.status == 303
    assert "Your digest is paused." in server.request(paused.headers["location"]).text
    assert "Resume my digest" in server.request(f"/report/{key}?lang=en").text  # not the page kept before
    status = {x["party"]: x for x in wp("digest", "--status", "--as-of", AS_OF, "--format", "json").json()}
    assert status["CR"]["digest_paused"] is True and status["CR"]["preference_set_by"] == "web"
    assert post(server, f"/report/{key}", {"csrf_token": token, "kind": "preferences", "change": "resume"}
                ).status == 303
    chosen = post(server, f"/report/{key}?lang=es", {"csrf_token": token, "kind": "preferences", "change": "lang",
                                                     "lang": "en"})
    assert chosen.status == 303 and "lang=" not in chosen.headers["location"]  # the choice is the page's now
    page_now = server.request(chosen.headers["location"])
    assert '<html lang="en">' in page_now.text and "Your language is saved." in page_now.text
    status = {x["party"]: x for x in wp("digest", "--status", "--as-of", AS_OF, "--format", "json").json()}
    assert status["CR"]["digest_paused"] is False
    before = dump_database(database_url(project))
    for fields in ({"kind": "preferences", "change": "pause"},
                   {"csrf_token": token, "kind": "preferences", "change": "lang", "lang": "fr"},
                   {"csrf_token": token, "kind": "preferences", "change": "stop"}):
        refused = post(server, f"/report/{key}?lang=en", fields)
        assert refused.status == 400, refused.text
    assert dump_database(database_url(project)) == before


def test_one_click_unsubscribe_pauses_at_once_and_a_get_never_does(
        page: tuple[Server, str], project: Path, wp: Runner) -> None:
    server, key = page

    def paused() -> bool:
        status = {x["party"]: x for x in wp("digest", "--status", "--as-of", AS_OF, "--format", "json").json()}
        return bool(status["CR"]["digest_paused"])

    shown = server.request(f"/report/{key}/unsubscribe?lang=en")  # a link scanner, a mail preview
    assert shown.status == 200 and "Pause my digest" in shown.text and 'method="post"' in shown.text
    assert "form-action 'self'" in shown.headers["content-security-policy"]
    assert not paused()
    wrong = post(server, f"/report/{key}/unsubscribe", {"List-Unsubscribe": "Yes"})
    assert wrong.status == 400 and "List-Unsubscribe=One-Click" in wrong.text
    assert not paused()
    # RFC 8058: what a mail provider posts, with no token
    done = post(server, f"/report/{key}/unsubscribe?lang=en", b"List-Unsubscribe=One-Click")
    assert done.status == 200 and "Your digest is paused." in done.text
    assert paused()
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n")
    again = post(server, f"/report/{key}/unsubscribe", multipart,
                 {"Content-Type": "multipart/form-data; boundary=b"})
    assert again.status == 200 and paused()


RESTRICTED = MINIMAL.replace("""  - id: a2
    title: Second action
    owners: [TS]
    depends_on: [a1]
    due: {next: virtual, after: m1}
""", """  - id: a2
    title: Second action
    owners: [TS]
    depends_on: [a1]
    due: {next: virtual, after: m1}
  - id: secret-pa
    title: What Panama prepares in confidence
    owners: [PA]
    visibility: restricted
    due: 2020-05-01
  - id: secret-cr
    title: What Costa Rica prepares in confidence
    owners: [CR]
    visibility: restricted
    depends_on: [secret-pa, a1]
    due: 2020-06-01
""")


@pytest.mark.usefixtures("db_backend")
def test_the_page_shows_only_the_partys_own_items_and_names_a_restricted_blocker_only_as_restricted(
        tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", RESTRICTED)
    assert run_cli(folder, "sync").code == 0
    engine = make_engine(database_url(folder))
    try:
        with Session(engine) as session:
            key = reporting.issue(session, "CR", "2020-W20", [], datetime.now(UTC), 30)
            session.commit()
    finally:
        engine.dispose()
    with serving(folder, "--as-of", "2020-05-20") as server:
        page_html = server.request(f"/report/{key}?lang=en").text
    assert "What Costa Rica prepares in confidence" in page_html  # its own restricted action, to its owner
    assert "secret-cr" in page_html and "restricted" in page_html
    assert "(restricted), a1" in page_html or "a1, (restricted)" in page_html  # what it waits on
    assert "secret-pa" not in page_html and "Panama prepares" not in page_html
    assert "pa@example.org" not in page_html and "Panama" not in page_html
    assert page_html.count('<article class="item') == 2  # a1 and secret-cr: CR's own, nobody else's



# ---------------------------------------------------------------------------------------------
# in a real browser: headless Chromium, the link taken from a digest sent through aiosmtpd


@contextlib.contextmanager
def report_page_served(folder: Path, *args: str) -> Iterator[tuple[Server, str]]:
    """The shipped project on SQLite in *folder*, `workplan serve` on loopback (with *args*), and
    the report page link of the digest CR was sent through a real SMTP server whose base URL is
    that server's: the link as a focal point finds it in the message. tests/screenshots.py uses
    it too."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "actions.yaml").exists():
        shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
        shutil.copytree(REPO / "templates", folder / "templates")
    recorder = Recorder()
    with serving(folder, *args) as server, smtp_server(recorder) as port:
        env = {"WORKPLAN_SMTP_HOST": "127.0.0.1", "WORKPLAN_SMTP_PORT": str(port), "WORKPLAN_SMTP_SECURITY": "none",
               "WORKPLAN_SMTP_TIMEOUT": "5", "WORKPLAN_SERVER_BASE_URL": f"http://{server.host}:{server.port}/"}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            sent = run_cli(folder, "digest", "--party", "CR", "--send", "--as-of", AS_OF)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        assert sent.code == 0, sent.err
        link = re.search(r"http://\S+/report/[a-z2-7]{32}", text_of(sent_to(recorder, "focal.cr@example.org")))
        assert link is not None
        yield server, link[0]


@pytest.fixture(scope="module")
def browsed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    with report_page_served(tmp_path_factory.mktemp("report") / "rcm") as served:
        yield served


def test_a_focal_point_opens_the_link_from_its_digest_and_reports_done_in_a_browser(
        browser: WebDriver, browsed: tuple[Server, str]) -> None:  # noqa: F811
    server, link = browsed
    open_page(browser, link + "?lang=en", PHONE)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Report page: Costa Rica"
    item = browser.find_element(By.CSS_SELECTOR, "article.item")
    action = item.find_element(By.CSS_SELECTOR, "input[name=action]").get_attribute("value")
    assert action
    item.find_element(By.CSS_SELECTOR, "input[name=status][value=done]").click()
    item.find_element(By.CSS_SELECTOR, "textarea[name=note]").send_keys("Sent to the TS by courier")
    item.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "confirmation"))
    assert browser.find_element(By.ID, "confirmation").text == f"Recorded: {action} is now done."
    assert "reported=" in browser.current_url  # Post/Redirect/Get: a reload posts nothing again
    assert no_horizontal_overflow(browser), overflow_culprits(browser)
    assert console_errors(browser) == []
    log = run_cli(Path(str(server.log)).parent, "log", action, "--format", "json").json()
    mine = [e for e in log if e["party"] == "CR"]
    assert (mine[-1]["to"], mine[-1]["origin"], mine[-1]["by"], mine[-1]["note"]) == (
        "done", "web", "focal.cr@example.org", "Sent to the TS by courier")
    assert "focal.cr@example.org (web)" in run_cli(Path(str(server.log)).parent, "log", action).out


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_report_page_reads_in_a_browser(browser: WebDriver, browsed: tuple[Server, str], lang: str,  # noqa: F811
                                            width: int) -> None:
    server, link = browsed
    for url in (f"{link}?lang={lang}", f"{link}/unsubscribe?lang={lang}"):
        open_page(browser, url, width)
        assert browser.execute_script("return window.innerWidth") == width
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        assert no_horizontal_overflow(browser), overflow_culprits(browser)
        assert console_errors(browser) == []
        urls = requested_urls(browser)
        assert url in urls
        assert foreign(urls, f"http://{server.host}:{server.port}") == []


def test_the_failure_limit_is_a_sliding_window_per_address() -> None:
    from workplan.reportpage import FailureLimit

    limit = FailureLimit(allowed=3, window=600)
    for second in (0, 100, 200):
        assert limit.retry_after("192.0.2.1", second) is None
        limit.fail("192.0.2.1", second)
    assert limit.retry_after("192.0.2.1", 300) == 301  # the first failure leaves the window at 600
    assert limit.retry_after("192.0.2.2", 300) is None  # another address is not held back
    assert limit.retry_after("192.0.2.1", 600.5) is None  # the window slid past the first failure
    limit.fail("192.0.2.1", 601)
    assert limit.retry_after("192.0.2.1", 602) == 99  # three in the window again: until the second leaves


def test_a_party_that_owns_many_assignments_gets_them_a_page_at_a_time(
        tmp_path: Path, mailbox: Recorder) -> None:  # noqa: F811
    from workplan.reports import REPORT_PAGE_SIZE

    many = REPORT_PAGE_SIZE * 2 + 20
    actions = "".join(f"  - {{id: x{i:03d}, title: Task {i}, owners: [CR], due: 2020-04-01, "
                      f"source: {{meeting: m1, ref: '1', text: do it}}}}\n" for i in range(many))
    folder = write_project(tmp_path / "many", MINIMAL.split("actions:\n")[0] + "actions:\n" + actions)
    assert run_cli(folder, "digest", "--party", "CR", "--send", "--as-of", "2020-05-01").code == 0
    found = KEY.search(text_of(sent_to(mailbox, "cr@example.org")))
    assert found is not None
    key = found[1]
    forms = re.compile(r'name="action" value="(x\d+)"')
    with serving(folder) as server:
        first = server.request(f"/report/{key}?lang=en")
        assert first.status == 200
        shown = forms.findall(first.text)
        assert len(shown) == REPORT_PAGE_SIZE
        assert f"1–{REPORT_PAGE_SIZE} of {many}" in first.text and 'rel="next"' in first.text
        assert 'rel="prev"' not in first.text
        # the digest's numbered items come first, by number
        assert "[1]</span>" in first.text.split('name="action"')[0]
        last = server.request(f"/report/{key}?lang=en&page=3")
        on_last = forms.findall(last.text)
        assert len(on_last) == many - 2 * REPORT_PAGE_SIZE and not set(on_last) & set(shown)
        assert 'rel="prev"' in last.text and 'rel="next"' not in last.text
        assert forms.findall(server.request(f"/report/{key}?lang=en&page=99").text) == on_last  # kept in range
        assert forms.findall(server.request(f"/report/{key}?lang=en&page=x").text) == shown
        # a report from page 3 comes back to page 3, and says what was recorded
        reply = post(server, f"/report/{key}?lang=en&page=3", {
            "csrf_token": token_of(last), "kind": "report", "action": on_last[0], "occurrence": "",
            "status": "done", "note": "", "evidence": "", "on": ""})
        assert reply.status == 303, reply.text
        assert "page=3" in reply.headers["location"]
        after = server.request(reply.headers["location"])
        assert f"Recorded: {on_last[0]} is now done." in html.unescape(after.text)
