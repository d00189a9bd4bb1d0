"""The shape of the feed server's Flask application (issue 20), over real HTTP on loopback: one
factory, the security headers on every response, a page with forms allowed to post to the server
by its own policy, blueprints mounted through the registry, and errors answered as one sentence
of text/plain wherever they come from. And flask stays out of the command line.

The application is made with :func:`workplan.web.create_app` and served by waitress, in this
process, on a free loopback port; the blueprint below is mounted as ``test_web_app:blueprint``,
as a report page would be through ``workplan.web.BLUEPRINTS``."""

from __future__ import annotations

import contextlib
import http.client
import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, request

from conftest import MINIMAL, write_project
from workplan.web import HTTPError, content_security_policy, create_app, current_server, form_action

blueprint = Blueprint("probe", __name__)


@blueprint.route("/probe/form", methods=["GET", "POST"])
@form_action("'self'")
def probe_form() -> str:
    if request.method == "POST":
        return f"posted {request.form.get('note', '')}"
    return '<form method="post"><input name="note"><button>Send</button></form>'


@blueprint.route("/probe/state")
def probe_state() -> str:
    return current_server().settings.database_url.split(":", 1)[0]


@blueprint.route("/probe/refused")
def probe_refused() -> str:
    raise HTTPError("409 Conflict", "Somebody changed it first.")


@blueprint.route("/probe/broken")
def probe_broken() -> str:
    raise RuntimeError("a bug")


SECURITY = {"referrer-policy": "no-referrer", "x-robots-tag": "noindex", "x-content-type-options": "nosniff",
            "x-frame-options": "DENY"}


@contextlib.contextmanager
def served(folder: Path, log: io.StringIO) -> Iterator[tuple[str, int]]:
    from waitress import wasyncore
    from waitress.server import create_server

    from workplan.project import Project

    project = Project(folder)
    project.group()  # syncs the actions file, as `workplan serve` does
    app = create_app(project.settings, project.engine, as_of="2020-06-01", log=log,
                     blueprints=("test_web_app:blueprint",))
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=2)
    stopping = threading.Event()

    def run() -> None:  # waitress's loop, a step at a time, so that it stops before its socket closes
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", int(server.effective_port)
    finally:
        stopping.set()
        thread.join(timeout=10)
        server.close()
        project.engine.dispose()


def ask(where: tuple[str, int], path: str, method: str = "GET", body: str | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*where, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_every_response_carries_the_security_headers_and_errors_are_one_sentence(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    log = io.StringIO()
    with served(folder, log) as where:
        status, headers, _body = ask(where, "/calendars/all.ics")
        assert status == 200
        etag = headers["etag"]
        board_etag = ask(where, "/")[1]["etag"]
        answers = {
            "feed": (ask(where, "/calendars/all.ics"), 200),
            "304": (ask(where, "/calendars/all.ics", headers={"If-None-Match": etag}), 304),
            "board": (ask(where, "/"), 200),
            "board 304": (ask(where, "/", headers={"If-None-Match": board_etag}), 304),  # through the routes
            "HEAD 304": (ask(where, "/calendars/all.ics", "HEAD", headers={"If-None-Match": etag}), 304),
            "healthz": (ask(where, "/healthz"), 200),
            "404": (ask(where, "/nothing"), 404),
            "feeds 404": (ask(where, "/feeds/x"), 404),
            "405": (ask(where, "/calendars/all.ics", "POST"), 405),
            "400": (ask(where, "/?lang=fr"), 400),
            "409 of a view": (ask(where, "/probe/refused"), 409),
            "500": (ask(where, "/probe/broken"), 500),
            "blueprint": (ask(where, "/probe/state"), 200),
        }
        for name, ((status, headers, body), expected) in answers.items():
            assert status == expected, (name, status, body)
            for header, value in SECURITY.items():
                assert headers.get(header) == value, (name, header, headers)
            assert headers["content-security-policy"] == content_security_policy(), name
            assert "form-action 'none'" in headers["content-security-policy"], name
            if status >= 400:
                assert headers["content-type"] == "text/plain; charset=utf-8", name
                assert body.endswith(b"\n") and body.count(b"\n") == 1 and b"<" not in body, (name, body)
        for name, tag in (("304", etag), ("HEAD 304", etag), ("board 304", board_etag)):
            (_s, not_modified, empty), _e = answers[name]
            assert empty == b"" and "content-type" not in not_modified and not_modified["etag"] == tag, name
            assert not_modified["cache-control"] == "no-cache" and "last-modified" in not_modified, name
        assert answers["409 of a view"][0][2] == b"Somebody changed it first.\n"
        assert answers["500"][0][2] == b"The server met an unexpected error; it has been logged.\n"
        assert answers["blueprint"][0][2] == b"sqlite"  # the view reached the server's state
        # no address is redirected (werkzeug would add or merge slashes): it is served or it is a 404
        for path in ("/healthz/", "/calendars/all.ics/", "/agenda/next-virtual/", "/feeds"):
            status, headers, body = ask(where, path)
            assert (status, "location" in headers) == (404, False), (path, status, headers)
            assert body.startswith(b"Nothing here"), path
    assert "workplan serve: GET /probe/broken: internal error: RuntimeError: a bug" in log.getvalue()


def test_a_page_with_forms_may_post_to_the_server_and_no_other_page_may(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    with served(folder, io.StringIO()) as where:
        status, headers, body = ask(where, "/probe/form")
        assert status == 200 and b"<form" in body
        assert headers["content-security-policy"] == content_security_policy("'self'")
        assert "form-action 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
        status, headers, body = ask(where, "/probe/form", "POST", "note=hi",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert (status, body) == (200, b"posted hi")
        assert "form-action 'self'" in headers["content-security-policy"]
        # the methods a route names are the ones allowed; the feeds' routes stay GET and HEAD
        status, headers, body = ask(where, "/probe/form", "PUT")
        assert status == 405 and headers["allow"] == "GET, HEAD, POST"
        assert body == b"PUT is not allowed here; use GET, HEAD, POST.\n"
        assert ask(where, "/probe/form", "OPTIONS")[0] == 405
        assert ask(where, "/", "POST")[1]["allow"] == "GET, HEAD"
        assert "form-action 'none'" in ask(where, "/")[1]["content-security-policy"]


def test_the_command_line_never_imports_flask(tmp_path: Path) -> None:
    """flask is the server's alone: a command that reads the database does without it."""
    folder = write_project(tmp_path / "p", MINIMAL)
    code = (
        "import sys\n"
        "from workplan.cli import main\n"
        "for argv in (['sync', '-q'], ['overdue', '--as-of', '2020-06-01'], ['calendars', '--out', 'cal']):\n"
        "    try:\n        main(argv)\n    except SystemExit as exc:\n        assert not exc.code, (argv, exc.code)\n"
        "print('LOADED:' + ','.join(m for m in ('flask', 'werkzeug', 'waitress', 'wtforms', 'workplan.reportpage') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED:"
