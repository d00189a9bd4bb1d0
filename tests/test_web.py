"""`workplan serve` over real HTTP: feeds with validators and 304s, private feeds, the status
board (with the open commitments that have no deadline, issue 18), and a server that keeps
answering whatever it is sent (issues 5 and 8); at the edges of what it accepts (issue 18), an as-of
day outside the calendar workplan plans in is a 400 with a sentence, and every address under
/feeds/ that is not a live token gets the same 404, whatever is wrong with it.

Each test starts the real command as a subprocess on a free loopback port and talks to it
with http.client (raw sockets where the request must be malformed)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
from commitments import AS_OF, _project

from conftest import MINIMAL, Result, database_url, dump_database, run_cli, scalar, write_project


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Server:
    host: str
    port: int
    log: Path

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
        finally:
            conn.close()

    def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Send bytes as they are; what came back before the server closed (or the timeout)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            chunks = []
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            return b"".join(chunks)

    def healthy(self) -> bool:
        reply = self.request("/healthz")
        return reply.status == 200 and reply.body == b"ok\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(folder: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    port = _free_port()
    log = folder / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workplan.cli", "serve", "--port", str(port), "--no-scheduler", *args],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = Server("127.0.0.1", port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"workplan serve exited with {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if server.healthy():
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"workplan serve did not answer /healthz:\n{log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


# ---------------------------------------------------------------------------
# feeds: validators, 304, HEAD, and a new ETag once the data changes


def test_feed_answers_conditional_requests_and_changes_with_the_data(project: Path) -> None:
    with serving(project, "--as-of", "2019-01-15") as server:
        first = server.request("/calendars/BZ.ics")
        assert first.status == 200
        assert first.headers["content-type"] == "text/calendar; charset=utf-8"
        assert first.body.startswith(b"BEGIN:VCALENDAR\r\n") and b"statistics-matrix-2018" in first.body
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert re.fullmatch(r'"[0-9a-f]{40}"', etag)
        assert int(first.headers["content-length"]) == len(first.body)
        # the same bytes as `workplan calendars` writes for that day
        assert run_cli(project, "calendars", "--as-of", "2019-01-15", "--out", "cal").code == 0
        assert first.body == (project / "cal" / "BZ.ics").read_bytes()

        again = server.request("/calendars/BZ.ics", headers={"If-None-Match": etag})
        assert (again.status, again.body) == (304, b"")
        assert again.headers["etag"] == etag
        assert server.request("/calendars/BZ.ics", headers={"If-None-Match": f'"x", W/{etag}'}).status == 304
        since = server.request("/calendars/BZ.ics", headers={"If-Modified-Since": modified})
        assert (since.status, since.body) == (304, b"")
        earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
        assert server.request("/calendars/BZ.ics", headers={"If-Modified-Since": earlier}).status == 200
        # If-None-Match decides alone when both are sent
        assert server.request("/calendars/BZ.ics", headers={"If-None-Match": '"other"',
                                                              "If-Modified-Since": modified}).status == 200
        assert server.request("/calendars/BZ.ics", headers={"If-Modified-Since": "not a date"}).status == 200

        head = server.request("/calendars/BZ.ics", method="HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.headers["etag"] == etag and head.headers["content-length"] == str(len(first.body))

        result = run_cli(project, "done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-10")
        assert result.code == 0, result.err
        changed = server.request("/calendars/BZ.ics", headers={"If-None-Match": etag})
        assert changed.status == 200 and changed.body != first.body
        assert changed.headers["etag"] != etag
        assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(modified)
        assert server.request("/calendars/BZ.ics", headers={"If-Modified-Since": modified}).status == 200
        assert server.request("/calendars/BZ.ics",
                              headers={"If-None-Match": changed.headers["etag"]}).status == 304
        # a feed the change does not touch keeps its ETag: nothing re-downloads for nothing
        meetings = server.request("/calendars/meetings.ics")
        assert meetings.status == 200


def _big(n: int) -> str:
    head = MINIMAL.split("actions:")[0] + "actions:\n"
    return head + "".join(f"  - {{id: b{i}, title: Deliverable {i}, owners: [members], due: 2020-05-{1 + i % 28:02d}}}\n"
                          for i in range(n))


def test_feeds_are_rendered_once_per_change_not_per_request(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", _big(3000))
    with serving(folder, "--as-of", "2020-06-01") as server:
        started = time.perf_counter()
        first = server.request("/calendars/all.ics")
        render = time.perf_counter() - started
        assert first.status == 200 and first.body.count(b"BEGIN:VEVENT") == 3001
        started = time.perf_counter()
        for _ in range(100):
            reply = server.request("/calendars/CR.ics", headers={"If-None-Match": first.headers["etag"]})
            assert reply.status == 200
            assert server.request("/calendars/all.ics", headers={"If-None-Match": first.headers["etag"]}).status == 304
        served = time.perf_counter() - started
        # 200 requests answered from what was rendered once: far less than rendering even 20 times
        assert served < max(5.0, 20 * render) / 4, (served, render)
        # the board stays a page to read: the most overdue 25 per owner, and how many more
        board = server.request("/").text
        assert board.count("<code>b") == 2 * 25 and board.count("… and 2975 more, less late") == 2
        assert '<span class="big">6000</span>' in board


# ---------------------------------------------------------------------------
# private feeds and restricted actions

RESTRICTED = MINIMAL + """\
  - id: secret-talks
    title: "Confidential démarche on returns"
    owners: [CR]
    visibility: restricted
    due: 2020-05-01
  - id: a3
    title: Public follow-up
    owners: [PA]
    depends_on: [secret-talks]
    due: 2020-05-20
"""


def _token(output: str) -> str:
    found = re.findall(r"/feeds/([A-Za-z0-9_-]{43})\.ics", output)
    assert len(found) == 2, output  # the webcal:// and the http(s):// forms
    assert found[0] == found[1]
    return found[0]


@pytest.mark.usefixtures("db_backend")
def test_private_feed_token_issue_rotate_revoke(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", RESTRICTED)
    env = {"WORKPLAN_SERVER_BASE_URL": "https://workplan.example.org/rcm/"}
    with serving(folder, "--as-of", "2020-06-01") as server:
        issued = run_cli(folder, "feeds", "token", "CR")
        assert issued.code == 0, issued.err
        token = _token(issued.out)
        # only the hash is kept
        url = database_url(folder)
        assert scalar(url, "select token_hash from feed_token") == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(dump_database(url))

        private = server.request(f"/feeds/{token}.ics")
        assert private.status == 200 and private.headers["content-type"] == "text/calendar; charset=utf-8"
        assert b"secret-talks" in private.body and b"Confidential" in private.body
        assert "private" in private.headers["cache-control"]
        etag = private.headers["etag"]
        assert server.request(f"/feeds/{token}.ics", headers={"If-None-Match": etag}).status == 304
        assert server.request(f"/feeds/{token}.ics", method="HEAD").body == b""

        # the public feeds and the board never show it, nor name it where a public action waits on it
        for path in ("/calendars/all.ics", "/calendars/CR.ics", "/calendars/PA.ics", "/calendars/meetings.ics",
                     "/", "/?as_of=2020-06-01", "/agenda/next-virtual"):
            reply = server.request(path)
            assert reply.status == 200, path
            assert b"secret-talks" not in reply.body and b"Confidential" not in reply.body, path
        assert b"a3" in server.request("/calendars/PA.ics").body
        # another party's token does not open CR's feed
        pa = _token(run_cli(folder, "feeds", "token", "PA").out)
        assert b"Confidential" not in server.request(f"/feeds/{pa}.ics").body

        again = run_cli(folder, "feeds", "token", "CR")
        assert again.code == 2 and "--rotate" in again.err and "Traceback" not in again.err

        rotated = run_cli(folder, "feeds", "token", "CR", "--rotate")
        assert rotated.code == 0, rotated.err
        new = _token(rotated.out)
        assert new != token
        assert server.request(f"/feeds/{token}.ics").status == 404
        assert server.request(f"/feeds/{token}.ics", headers={"If-None-Match": etag}).status == 404
        assert server.request(f"/feeds/{new}.ics").status == 200

        revoked = run_cli(folder, "feeds", "token", "CR", "--revoke")
        assert revoked.code == 0 and "revoked" in revoked.out
        assert server.request(f"/feeds/{new}.ics").status == 404
        assert server.request(f"/feeds/{pa}.ics").status == 200  # PA's is untouched
        # a near miss is no better than nothing
        assert server.request(f"/feeds/{pa[:-1]}{'A' if pa[-1] != 'A' else 'B'}.ics").status == 404

    urls = run_cli(folder, "feeds", "token", "CR")
    assert urls.code == 0
    assert "webcal://localhost:8080/feeds/" in urls.out and "http://localhost:8080/feeds/" in urls.out
    configured = run_cli_env(folder, env, "feeds", "token", "CR", "--rotate")
    assert "webcal://workplan.example.org/rcm/feeds/" in configured.out
    assert "https://workplan.example.org/rcm/feeds/" in configured.out


def run_cli_env(folder: Path, env: dict[str, str], *args: str) -> Result:
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli(folder, *args)
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_feed_token_for_unknown_party_or_a_set_is_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    for name in ("XX", "members"):
        result = run_cli(folder, "feeds", "token", name)
        assert result.code == 2 and result.out == ""
        assert f"there is no party {name!r}" in result.err and "Traceback" not in result.err
    both = run_cli(folder, "feeds", "token", "CR", "--rotate", "--revoke")
    assert both.code == 2


# ---------------------------------------------------------------------------
# names outside the feed set, methods, malformed requests, floods

TRAVERSALS = [
    "/calendars/../actions.yaml", "/calendars/..%2factions.yaml", "/calendars/..%2Factions.yaml",
    "/calendars/%2e%2e%2factions.yaml", "/calendars/%2e%2e/actions.yaml", "/calendars/..%5cactions.yaml",
    "/calendars/%2e%2e%2f.workplan%2fworkplan.db", "/calendars/../../etc/passwd", "/calendars/nope.ics",
    "/calendars/ALL.ics", "/calendars/all.ics/..", "/calendars/all", "/calendars/", "/calendars/todo/all.ics",
    "/calendars/%00.ics", "/calendars/all.ics%00", "/calendars/actions.yaml", "/calendars/.workplan.ics",
    "/feeds/../actions.yaml", "/feeds/..%2factions.yaml.ics", "/feeds/%2e%2e%2fworkplan.toml.ics",
    "/feeds/" + "A" * 43 + ".ics", "/agenda/../actions.yaml", "/agenda/next-virtual/../../actions.yaml",
    "/actions.yaml", "/.workplan/workplan.db", "//etc/passwd", "/%2e%2e/actions.yaml", "/healthz/../actions.yaml",
    "/calendars/" + "a" * 5000 + ".ics",
]


def test_names_outside_the_feed_set_are_404(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    secret = (folder / "actions.yaml").read_bytes()
    with serving(folder, "--as-of", "2020-06-01") as server:
        assert server.request("/calendars/CR.ics").status == 200
        for path in TRAVERSALS:
            reply = server.request(path)
            assert reply.status == 404, (path, reply.status)
            assert b"workplan: 1" not in reply.body and b"SQLite" not in reply.body, path
            assert reply.headers["content-type"] == "text/plain; charset=utf-8"
        # the same through a raw socket, where no client library tidies the path up
        for path in ("/calendars/../actions.yaml", "/calendars/..\\actions.yaml", "/calendars/\x00.ics"):
            answer = server.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
            assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"), answer
            assert secret not in answer


def test_wrong_methods_are_405_with_allow(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    with serving(folder, "--as-of", "2020-06-01") as server:
        for path in ("/", "/calendars/all.ics", "/agenda/next-virtual", "/healthz"):
            for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"):
                reply = server.request(path, method=method)
                assert reply.status == 405, (path, method)
                assert reply.headers["allow"] == "GET, HEAD"
        assert server.request("/nothing", method="POST").status == 404
        assert server.request("/calendars/all.ics", method="HEAD").status == 200


def test_malformed_requests_huge_headers_and_a_flood_leave_it_answering(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    with serving(folder, "--as-of", "2020-06-01") as server:
        garbage = [
            b"\x00\xff\xfe garbage \x01\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost x\r\nNo colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
            b"POST /calendars/all.ics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc",
            b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
        ]
        for data in garbage:
            answer = server.raw(data, timeout=5)
            status = answer.split(b"\r\n", 1)[0]
            # refused (4xx), or read as the HTTP/1.0 request it resembles; never a server error
            assert not status or re.match(rb"HTTP/1\.[01] (200|4\d\d|505) ", status), (data[:60], status)
            assert b"Traceback" not in answer
            assert server.healthy()
        # a connection that sends half a request and waits holds no one else up
        with socket.create_connection((server.host, server.port)) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert server.healthy()

        paths = ["/healthz", "/calendars/all.ics", "/calendars/CR.ics", "/", "/calendars/nope.ics",
                 "/feeds/" + "B" * 43 + ".ics"]
        etag = server.request("/calendars/all.ics").headers["etag"]

        def hit(i: int) -> tuple[str, int]:
            path = paths[i % len(paths)]
            headers = {"If-None-Match": etag} if i % 2 and path == "/calendars/all.ics" else {}
            for attempt in range(3):
                try:
                    return path, server.request(path, headers=headers).status
                except (ConnectionError, http.client.HTTPException):  # beyond the server's connection limit
                    time.sleep(0.05 * (attempt + 1))
            return path, -1

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=64) as pool:
            answers = list(pool.map(hit, range(500)))
        elapsed = time.monotonic() - started
        assert elapsed < 60, elapsed
        for path, status in answers:
            assert status == (404 if "nope" in path or "/feeds/" in path else 304 if path == "/calendars/all.ics"
                              and status == 304 else 200), (path, status)
        assert server.healthy()


# ---------------------------------------------------------------------------
# the status board and the agenda

HOSTILE = MINIMAL.replace("name: Costa Rica", 'name: "Costa <b>Rica</b> & \\"Co\\""').replace(
    "title: First action", 'title: "<script>alert(\'x\')</script> \\"quoted\\" & \\r\\nX-Injected: yes"').replace(
    "title: First,", "title: '<img src=x onerror=alert(1)>',")


@pytest.mark.usefixtures("db_backend")
def test_board_shows_overdue_by_owner_and_escapes_every_value(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", HOSTILE)
    assert run_cli(folder, "check").code == 0, run_cli(folder, "check").err
    with serving(folder, "--as-of", "2020-06-01") as server:
        board = server.request("/")
        assert board.status == 200 and board.headers["content-type"] == "text/html; charset=utf-8"
        policy = board.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        html = board.text
        assert "<script" not in html and "<img" not in html and "<b>Rica" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &#34;quoted&#34; &amp;" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html and "Costa &lt;b&gt;Rica&lt;/b&gt; &amp;" in html
        # overdue by owner: a1 (due 2020-04-01) is late for CR and for PA, 61 days
        assert html.count("<code>a1</code>") >= 2 and "61 d" in html
        assert 'href="calendars/CR.ics"' in html and 'href="agenda/next-virtual"' in html
        # an earlier day on request; a malformed one is refused with a sentence
        before = server.request("/?as_of=2020-03-15")
        assert before.status == 200 and "Nothing is overdue" in before.text
        assert "15 March 2020" in before.text
        for bad in ("2020-02-30", "tomorrow", "2020-06-01%0d%0aX:1", "<script>"):
            reply = server.request(f"/?as_of={bad}")
            assert reply.status == 400 and b"<" not in reply.body
        assert server.request("/?" + "&".join(f"x{i}=1" for i in range(50))).status == 400
        assert server.request("/?utm_source=mail").status == 200
        assert server.request("/", headers={"If-None-Match": board.headers["etag"]}).status == 304

        agenda = server.request("/agenda/next-virtual")
        assert agenda.status == 200 and agenda.headers["content-type"] == "text/html; charset=utf-8"
        assert "Draft agenda" in agenda.text and "<script>alert" not in agenda.text
        assert server.request("/agenda/next-virtual", method="HEAD").body == b""


def test_board_of_the_shipped_workplan(tmp_path: Path) -> None:
    import shutil

    from conftest import SHIPPED_ACTIONS

    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    with serving(folder, "--as-of", "2019-01-15") as server:
        html = server.request("/?lang=en").text  # its group writes Spanish first: the board's default
    assert "15 January 2019" in html
    assert "901 d" in html  # focal-points, late since 28 July 2016
    assert "statistics-matrix-2018" in html
    assert "2018-S2" in html and "missed" in html  # no virtual meeting in the second semester of 2018


# ---------------------------------------------------------------------------
# a database that fails: a sentence and 503, and the server goes on


@pytest.mark.usefixtures("db_backend")
def test_database_gone_is_503_with_a_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    url = database_url(folder)
    if not url.startswith("postgresql"):
        pytest.skip("a SQLite file cannot be taken away from a running server's open handles; "
                    "see test_serve_on_a_corrupt_database_is_one_sentence")
    with serving(folder, "--as-of", "2020-06-01") as server:
        assert server.request("/calendars/all.ics").status == 200
        schema = re.search(r"search_path%3D(\w+)", url)
        assert schema is not None
        import sqlalchemy

        engine = sqlalchemy.create_engine(url.split("?")[0])
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema.group(1)}" CASCADE'))
        engine.dispose()
        for path in ("/calendars/all.ics", "/", "/agenda/next-virtual", f"/feeds/{'C' * 43}.ics"):
            reply = server.request(path)
            assert reply.status == 503, (path, reply.status, reply.body)
            assert reply.headers["retry-after"] == "30"
            assert reply.text == "The workplan database cannot be read right now; try again in a minute.\n"
        assert server.healthy()
    log = server.log.read_text()
    assert "workplan serve: GET /calendars/all.ics: " in log and "Traceback" not in log


def test_serve_on_a_corrupt_database_is_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    db = folder / ".workplan" / "workplan.db"
    for f in db.parent.glob("workplan.db-*"):
        f.unlink()
    db.write_bytes(b"\x00not a database\x00" * 256)
    done = subprocess.run([sys.executable, "-m", "workplan.cli", "serve", "--port", str(_free_port())],
                          cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("workplan: ") and str(db) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_upgrade_brings_the_token_table_and_a_data_revision(tmp_path: Path, db_backend: str) -> None:
    """A database from before the feed server gains feed_token and the revision the server reads,
    so that status changes only ever update that row (never race to insert it)."""
    from sqlalchemy import inspect, text

    from conftest import new_postgres_url
    from workplan import db as wpdb

    url = f"sqlite:///{tmp_path / 'old.db'}" if db_backend == "sqlite" else new_postgres_url()
    engine = wpdb.make_engine(url)
    wpdb.migrate_to(engine, "0002")
    assert "feed_token" not in inspect(engine).get_table_names()
    wpdb.upgrade(engine, url)
    assert "feed_token" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM meta WHERE key = 'data_revision'")).scalar() == "upgraded"
    engine.dispose()
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "--db", url, "sync").code == 0
    before = scalar(url, "SELECT value FROM meta WHERE key = 'data_revision'")
    assert run_cli(folder, "--db", url, "done", "a1", "--party", "CR").code == 0
    assert scalar(url, "SELECT value FROM meta WHERE key = 'data_revision'") not in (before, "upgraded")
    assert run_cli(folder, "--db", url, "sync").code == 0  # nothing changed: the revision stays
    after = scalar(url, "SELECT value FROM meta WHERE key = 'data_revision'")
    assert run_cli(folder, "--db", url, "sync").code == 0
    assert scalar(url, "SELECT value FROM meta WHERE key = 'data_revision'") == after


def test_requests_during_a_render_are_answered_from_the_snapshot_before(tmp_path: Path) -> None:
    """After a change, the first request renders the feeds again; requests meanwhile get what was
    rendered before at once (calendar clients polling a large workplan would otherwise all wait
    for the render, seconds at 10,000 actions), and the change shows as soon as it is rendered."""
    folder = write_project(tmp_path / "p", _big(8000))
    with serving(folder, "--as-of", "2020-06-01") as server:
        started = time.perf_counter()
        first = server.request("/calendars/all.ics")
        render = time.perf_counter() - started
        etag = first.headers["etag"]
        assert run_cli(folder, "done", "b1", "--party", "CR", "--on", "2020-05-02").code == 0
        with ThreadPoolExecutor(1) as pool:
            renderer = pool.submit(server.request, "/calendars/all.ics")
            time.sleep(min(0.5, render / 4))  # its request has reached the server and is rendering
            started = time.perf_counter()
            during = server.request("/calendars/all.ics", headers={"If-None-Match": etag})
            waited = time.perf_counter() - started
            also = server.request("/calendars/CR.ics")
            changed = renderer.result()
        assert (during.status, during.headers["etag"]) == (304, etag)  # the snapshot before
        assert waited < render / 3, (waited, render)
        assert also.status == 200 and b"b1" in also.body
        assert changed.status == 200 and changed.headers["etag"] != etag
        after = server.request("/calendars/all.ics", headers={"If-None-Match": etag})
        assert after.status == 200 and after.headers["etag"] == changed.headers["etag"]


@pytest.mark.usefixtures("db_backend")
def test_board_as_of_outside_the_planned_years_is_400_with_a_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    with serving(folder, "--as-of", "2020-06-01") as server:
        for day, years in (("1800-01-01", True), ("0001-01-01", True), ("9999-12-31", True),
                           ("2300-06-01", True), ("2020-02-30", False), ("2020-13-01", False)):
            reply = server.request(f"/?as_of={day}")
            assert reply.status == 400, (day, reply.status, reply.text)
            assert reply.headers["content-type"] == "text/plain; charset=utf-8"
            assert day in reply.text and reply.text.count("\n") == 1, reply.text
            if years:  # the sentence of the one rule the command line uses too
                assert "1900" in reply.text and "2199" in reply.text, reply.text
        spanish = server.request("/?as_of=1800-01-01&lang=es")
        assert spanish.status == 400 and "años" in spanish.text, spanish.text
        # the command line says the same about the same day
        cli = run_cli(folder, "overdue", "--as-of", "1800-01-01")
        assert cli.code == 2 and "1900" in cli.err
        # the edges of the range still answer
        assert server.request("/?as_of=1900-01-01").status == 200
        assert server.request("/?as_of=2199-12-31").status == 200
        assert server.healthy()


@pytest.mark.usefixtures("db_backend")
def test_every_address_that_is_no_live_token_gets_the_same_404(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    issued = run_cli(folder, "feeds", "token", "CR")
    assert issued.code == 0, issued.err

    token = re.findall(r"/feeds/([A-Za-z0-9_-]{43})\.ics", issued.out)[0]
    with serving(folder, "--as-of", "2020-06-01") as server:
        assert server.request(f"/feeds/{token}.ics").status == 200
        unknown = server.request("/feeds/" + "A" * 43 + ".ics")
        assert unknown.status == 404
        malformed = [
            "/feeds/" + "A" * 42 + ".ics",  # one short
            "/feeds/" + "A" * 44 + ".ics",  # one long
            "/feeds/" + "A" * 101 + ".ics",  # past the old limit of the route
            "/feeds/" + "A" * 5000 + ".ics",
            "/feeds/" + token + "A" * 100 + ".ics",  # a live token with more after it
            "/feeds/.ics", "/feeds/", "/feeds/" + token, "/feeds/" + token + ".ics/x",
            "/feeds/a/b.ics", "/feeds/%00.ics", "/feeds/" + "%C3%A9" * 43 + ".ics",
            "/feeds/" + "A" * 42 + "=.ics", "/feeds/" + "A" * 43 + ".ICS",
        ]
        for path in malformed:
            reply = server.request(path)
            assert (reply.status, reply.body) == (404, unknown.body), (path[:80], reply.status, reply.text)
            assert reply.headers["content-type"] == unknown.headers["content-type"], path[:80]
            head = server.request(path, method="HEAD")
            assert (head.status, head.body) == (404, b""), path[:80]
        assert server.healthy()


@pytest.mark.usefixtures("db_backend")
def test_the_board_lists_open_commitments_without_a_deadline_with_their_age(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    with serving(folder, "--as-of", AS_OF) as server:
        html = server.request("/?lang=en").text
        es = server.request("/?lang=es").text
        before = server.request("/?as_of=2020-03-01&lang=en").text
    section = html[html.index('<h2 id="no-deadline">'):html.index('<h2 id="meetings">')]
    assert 'Open, no deadline <span class="count">2</span>' in section
    rows = re.findall(r'<tr(?: data-age-days="(\d+)")?><td class="date">([^<]*)</td>.*?<code>(\w+)</code>.*?'
                      r'</td><td>([^<]*)</td>', section)
    # public only: a5 is restricted; a6 is done
    assert rows == [("82", "82 days ago", "a3", "GT"), ("", "—", "a4", "CR")], section
    assert "Abierto, sin plazo" in es and "hace 82 días" in es
    # before the meeting that agreed a3 ended, its age is not known
    early = before[before.index('<h2 id="no-deadline">'):before.index('<h2 id="meetings">')]
    assert "<code>a3</code>" in early and "data-age-days" not in early
