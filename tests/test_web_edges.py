"""The server's answers at the edges of what it accepts (issue 18), over real HTTP to
`workplan serve` on loopback, on both databases: an as-of day outside the calendar workplan plans
in is a 400 with a sentence, and every address under /feeds/ that is not a live token gets the same
404, whatever is wrong with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_web import serving

from conftest import MINIMAL, run_cli, write_project


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
