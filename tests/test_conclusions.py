"""The register of conclusions (issue 21): `conclusions:` and `requested_by` in actions.yaml, what
sync keeps of them, the roll-up of a conclusion from its actions, and `workplan conclusions` in
every format, on SQLite and PostgreSQL; both seed documents encoded completely."""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from golden import check_golden

from conftest import REPO, Runner, database_url, dump_database, run_cli, write_project
from workplan import planning, spec

SOURCES = REPO / "docs" / "sources"

BASE = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [cr@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
  - {id: NI, name: Nicaragua, kind: member, email: [ni@example.org]}
sets:
  members: [CR, PA]
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}
conclusions:
  - id: noted
    kind: took-note
    source: {meeting: m1, ref: "1", text: "The meeting took note of the report of the secretariat."}
  - id: asked
    kind: requested
    source: {meeting: m1, ref: "2", text: "At the request of Nicaragua, each country will send its data."}
    requested_by: [NI]
    addressed_to: [members]
  - id: agreed
    kind: agreed
    source: {meeting: m1, ref: "3", text: "The secretariat will circulate the minutes."}
actions:
  - id: data
    title: Send the data
    source: {meeting: m1, ref: "2", text: "each country will send its data"}
    conclusion: asked
    requested_by: [NI]
    owners: [members]
    with: [TS]
    due: 2020-04-01
  - id: minutes
    title: Circulate the minutes
    conclusion: agreed
    owners: [TS]
    due: 2020-05-01
"""
DOCUMENT = """\
REPORT OF THE FIRST MEETING

1. The meeting took note of the
report of the secretariat.

2. At the request of Nicaragua, each country will send its data.

3. The secretariat will circulate the minutes.
"""


def _project(folder: Path, text: str = BASE, document: str | None = DOCUMENT) -> Path:
    write_project(folder, text)
    if document is not None:
        (folder / "docs" / "sources").mkdir(parents=True, exist_ok=True)
        (folder / "docs" / "sources" / "m1.en.txt").write_text(document, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------
# bad input: FILE:LINE:COL, exit 2, nothing written


@dataclass(frozen=True)
class Bad:
    original: str
    new: str
    position: str
    message: str


BAD = {
    "unknown kind": Bad("kind: took-note", "kind: noted", "actions.yaml:14:11",
                        "kind of conclusion noted 'noted' is not one of: agreed, decided, took-note, requested, "
                        "recommended, thanked, other"),
    "quote not in its source": Bad("text: \"The secretariat will circulate the minutes.\"",
                                   "text: \"The secretariat will circulate the agenda.\"", "actions.yaml:23:43",
                                   "conclusion agreed: its source text is not in docs/sources/m1.en.txt; copy the "
                                   "paragraph verbatim (line breaks and spaces may differ)"),
    "action's quote not in its source": Bad("text: \"each country will send its data\"",
                                            "text: \"each country will send its numbers\"", "actions.yaml:27:43",
                                            "action data: its source text is not in docs/sources/m1.en.txt"),
    "unknown conclusion": Bad("conclusion: agreed\n", "conclusion: agred\n", "actions.yaml:35:17",
                              "action minutes names unknown conclusion 'agred'"),
    "unknown requested_by of a conclusion": Bad("requested_by: [NI]\n    addressed_to",
                                                "requested_by: [XX]\n    addressed_to", "actions.yaml:19:20",
                                                "conclusion asked: unknown party or set 'XX' in requested_by"),
    "unknown requested_by of an action": Bad("    requested_by: [NI]\n    owners", "    requested_by: [NIC]\n    owners",
                                             "actions.yaml:29:20",
                                             "action data: unknown party or set 'NIC' in requested_by"),
    "unknown addressed_to": Bad("addressed_to: [members]", "addressed_to: [everyone]", "actions.yaml:20:20",
                                "conclusion asked: unknown party or set 'everyone' in addressed_to"),
    "duplicate id": Bad("  - id: agreed\n", "  - id: noted\n", "actions.yaml:21:9",
                        "conclusion 'noted' is defined twice (first on line 13)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_error_has_its_position_exit_2_and_nothing_is_written(tmp_path: Path, name: str,
                                                                   db_backend: str) -> None:
    bad = BAD[name]
    folder = _project(tmp_path / "p")
    assert run_cli(folder, "sync", "-q").code == 0
    before = dump_database(database_url(folder))
    assert BASE.count(bad.original) == 1
    (folder / "actions.yaml").write_text(BASE.replace(bad.original, bad.new), encoding="utf-8")
    for command in (("check",), ("sync",), ("conclusions",)):
        result = run_cli(folder, *command)
        assert result.code == 2, (command, result.err)
        assert f"{bad.position}: {bad.message}" in result.err, result.err
        assert "Traceback" not in result.err
    assert dump_database(database_url(folder)) == before


def test_quotes_are_not_checked_without_a_document(tmp_path: Path) -> None:
    folder = _project(tmp_path / "p", BASE.replace("circulate the minutes.\"", "circulate them.\""), document=None)
    assert run_cli(folder, "check").code == 0


def test_the_verbatim_rule_folds_white_space_only() -> None:
    assert planning.quote_in_document("took note of the report", "took note of the\n  report.")
    assert not planning.quote_in_document("took note of the reports", "took note of the report.")
    assert not planning.quote_in_document("Took note", "took note")


def test_parsed_fields() -> None:
    doc = spec.loads(BASE)
    assert list(doc.conclusions) == ["noted", "asked", "agreed"]
    asked = doc.conclusions["asked"]
    assert (asked.kind, asked.requested_by, asked.addressed_to) == ("requested", ("NI",), ("members",))
    assert asked.source.ref == "2"
    assert doc.actions["data"].conclusion == "asked" and doc.actions["data"].requested_by == ("NI",)
    assert doc.actions["data"].with_ == ("TS",)  # who asked is not who takes part
    assert doc.actions["minutes"].requested_by == ()


# ---------------------------------------------------------------------------
# sync


@pytest.mark.usefixtures("db_backend")
def test_sync_stores_withdraws_and_restores(tmp_path: Path) -> None:
    folder = _project(tmp_path / "p")
    first = run_cli(folder, "sync")
    assert first.code == 0, first.err
    rows = run_cli(folder, "conclusions", "--format", "json", "--as-of", "2020-03-20").json()
    assert [c["id"] for c in rows["conclusions"]] == ["noted", "asked", "agreed"]
    assert rows["conclusions"][1]["requested_by"] == ["NI"]
    assert rows["conclusions"][1]["actions"][0]["requested_by"] == ["NI"]
    # a conclusion taken out of the file is withdrawn; its action no longer names it
    without = BASE.replace("""  - id: noted
    kind: took-note
    source: {meeting: m1, ref: "1", text: "The meeting took note of the report of the secretariat."}
""", "")
    (folder / "actions.yaml").write_text(without, encoding="utf-8")
    result = run_cli(folder, "sync")
    assert result.code == 0 and "1 withdrawn" in result.err + result.out, result.err + result.out
    later = run_cli(folder, "conclusions", "--format", "json", "--as-of", "2099-01-01").json()
    assert [c["id"] for c in later["conclusions"]] == ["asked", "agreed"]
    # put back, it is restored in its place
    (folder / "actions.yaml").write_text(BASE, encoding="utf-8")
    assert run_cli(folder, "sync").code == 0
    again = run_cli(folder, "conclusions", "--format", "json").json()
    assert [c["id"] for c in again["conclusions"]] == ["noted", "asked", "agreed"]


# ---------------------------------------------------------------------------
# the roll-up


@dataclass
class A:
    status: str
    overdue: bool = False
    blocked_by: tuple[str, ...] = ()
    at_risk: bool = False


@pytest.mark.parametrize(("actions", "state"), [
    ([], "no action needed"),
    ([[A("done")], [A("done"), A("waived")]], "done"),
    ([[A("done")], [A("open", overdue=True), A("done")]], "overdue"),
    ([[A("done")], [A("open")]], "in progress"),
    ([[A("in_progress")]], "in progress"),
    ([[A("open"), A("open")], [A("open", blocked_by=("x",))]], "not started"),
    ([[A("open", at_risk=True)]], "not started"),
])
def test_roll_up(actions: list[list[A]], state: str) -> None:
    assert planning.conclusion_state(actions) == state
    assert state in planning.CONCLUSION_STATES


@pytest.mark.usefixtures("db_backend")
def test_roll_up_as_of_a_moment(tmp_path: Path) -> None:
    folder = _project(tmp_path / "p")
    assert run_cli(folder, "sync", "-q").code == 0

    def states(as_of: str) -> dict[str, str]:
        data = run_cli(folder, "conclusions", "m1", "--format", "json", "--as-of", as_of).json()
        return {c["id"]: c["state"] for c in data["conclusions"]}

    assert states("2020-03-20") == {"noted": "no action needed", "asked": "not started", "agreed": "not started"}
    assert run_cli(folder, "done", "data", "--party", "CR", "--on", "2020-03-25").code == 0
    assert states("2020-03-26") == {"noted": "no action needed", "asked": "in progress", "agreed": "not started"}
    assert states("2020-04-02") == {"noted": "no action needed", "asked": "overdue", "agreed": "not started"}
    assert run_cli(folder, "done", "data", "--party", "PA", "--on", "2020-04-03").code == 0
    assert run_cli(folder, "done", "minutes", "--on", "2020-04-03").code == 0
    assert states("2020-04-04") == {"noted": "no action needed", "asked": "done", "agreed": "done"}
    assert states("2020-03-24")["asked"] == "not started"  # what was recorded later is not known before
    owners = run_cli(folder, "conclusions", "--format", "json", "--as-of", "2020-04-02").json()
    data = owners["conclusions"][1]["actions"][0]
    assert data["owners"] == [{"party": "CR", "state": "done", "status": "done"},
                              {"party": "PA", "state": "overdue", "status": "open"}]


# ---------------------------------------------------------------------------
# the command, on the shipped workplan


FORMATS = ("md", "html", "txt", "json", "csv")


@pytest.mark.parametrize("fmt", FORMATS)
def test_conclusions_golden(wp: Runner, fmt: str) -> None:
    result = wp("conclusions", "ahg-2018-05", "--as-of", "2019-01-15", "--format", fmt)
    assert result.code == 0, result.err
    check_golden(f"conclusions-ahg-2018-05-2019-01-15.{fmt}", result.out)


def test_conclusions_golden_in_spanish(wp: Runner) -> None:
    result = wp("conclusions", "ahg-2018-05", "--as-of", "2019-01-15", "--lang", "es")
    assert result.code == 0, result.err
    check_golden("conclusions-ahg-2018-05-2019-01-15.es.md", result.out)
    assert "Seguimiento de las conclusiones" in result.out and "sin acción requerida" in result.out


def test_every_meeting_in_document_order(wp: Runner) -> None:
    data = wp("conclusions", "--as-of", "2019-01-15", "--format", "json").json()
    assert data["meeting"] is None
    meetings = [c["meeting"] for c in data["conclusions"]]
    assert meetings == sorted(meetings, key=["ahg-2016-07", "ahg-2018-05"].index)
    assert sum(data["counts"].values()) == len(data["conclusions"]) == 31
    md = wp("conclusions", "--as-of", "2019-01-15").out
    assert md.index("## Meeting of the Ad Hoc Group") < md.index("## V Meeting of the Ad Hoc Group")
    txt = wp("conclusions", "--as-of", "2019-01-15", "--format", "txt").out
    assert all(len(line) <= 78 for line in txt.splitlines()), "the text report is wrapped"


def test_csv_and_html_and_output_file(wp: Runner, project: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(wp("conclusions", "ahg-2018-05", "--as-of", "2019-01-15",
                                              "--format", "csv").out)))
    assert len(rows) == 12
    meetings = next(r for r in rows if r["conclusion"] == "c2018-meetings")
    assert meetings["kind"] == "agreed" and meetings["state"] == "overdue"
    assert "at least one face-to-face meeting should be held per year" in meetings["text"]
    assert "convene-virtual-meeting: overdue" in meetings["actions"]
    result = wp("conclusions", "ahg-2018-05", "--format", "html", "-o", "out/conclusions.html")
    assert result.code == 0 and "wrote out/conclusions.html" in result.err
    html = (project / "out" / "conclusions.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<header class="letterhead">' in html


def test_unknown_meeting(wp: Runner) -> None:
    result = wp("conclusions", "nope")
    assert result.code == 2
    assert "there is no meeting 'nope'" in result.err and "Traceback" not in result.err


def test_the_agenda_follows_up_the_previous_meeting(wp: Runner) -> None:
    md = wp("agenda", "--next-virtual", "--as-of", "2018-06-02").out
    part = md.split("## 3. Follow-up of the conclusions of the previous meeting")[1].split("\n## ")[0]
    assert "`workplan conclusions ahg-2018-05`" in part
    assert len(re.findall(r"^\| \d+ \| `c2018-", part, re.M)) == 12
    assert "| `c2018-missing-matrices` | requested |" in part


def test_a_digest_names_the_conclusion_of_each_item(wp: Runner, project: Path) -> None:
    assert wp("digest", "--party", "PA", "--as-of", "2019-01-15", "--out", "out").code == 0
    import email

    message = email.message_from_bytes((project / "out" / "PA.eml").read_bytes())
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Conclusión: c2016-1a-i (decidió)" in text  # Panama reads Spanish


# ---------------------------------------------------------------------------
# both seeds, encoded completely


def _shipped() -> dict[str, object]:
    return yaml.safe_load((REPO / "actions.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_every_conclusion_of_both_seeds_is_encoded() -> None:
    doc = spec.load(REPO / "actions.yaml")  # the shipped documents are beside it: every quote is checked
    per_meeting: dict[str, int] = {}
    for c in doc.conclusions.values():
        per_meeting[c.source.meeting] = per_meeting.get(c.source.meeting, 0) + 1
    assert per_meeting == {"ahg-2016-07": 19, "ahg-2018-05": 12}
    kinds = {c.id: c.kind for c in doc.conclusions.values()}
    assert kinds["c2018-meetings"] == "agreed" and kinds["c2016-rcgm"] == "recommended"
    assert {kinds[c] for c in ("c2016-1b-i", "c2016-2c", "c2016-2d", "c2016-3b")} == {"requested"}
    # the 2016 items under "The delegations decided to carry out a range of actions"
    assert sum(1 for c in doc.conclusions.values() if c.kind == "decided") == 14
    # every lettered item and bullet of the 2016 conclusions is one conclusion
    refs = {c.source.ref for c in doc.conclusions.values() if c.source.meeting == "ahg-2016-07"}
    assert {"1.a", "1.a, first bullet", "1.a, second bullet", "1.a, third bullet", "1.b", "1.b, bullet", "2.a",
            "2.a, first bullet", "2.a, second bullet", "2.b", "2.c", "2.d", "2.e", "2.f", "3 (introduction)", "3.a",
            "3.b", "3.c", "Recommendation for the RCGM"} == refs
    texts = {c.source.text for c in doc.conclusions.values()}
    assert any("at least one face-to-face meeting should be held per year" in t for t in texts)
    assert any(t.startswith("It was recognized that") for t in texts)


def test_every_action_of_the_shipped_file_names_a_conclusion() -> None:
    doc = spec.load(REPO / "actions.yaml")
    assert [a.id for a in doc.actions.values() if not a.conclusion] == []
    for action in doc.actions.values():
        conclusion = doc.conclusions[action.conclusion]
        assert action.source is not None and action.source.meeting == conclusion.source.meeting, action.id
        # an action quotes its conclusion, or a part of it
        assert planning.quote_in_document(action.source.text, conclusion.source.text), action.id


def test_a_changed_seed_quote_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "rcm"
    folder.mkdir()
    text = (REPO / "actions.yaml").read_text(encoding="utf-8")
    shutil.copytree(SOURCES, folder / "docs" / "sources")
    quote = "agreed that at least one face-to-face meeting should be held per year as well as two virtual meetings"
    assert quote in text
    (folder / "actions.yaml").write_text(text.replace(quote, quote.replace("two", "three"), 1), encoding="utf-8")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert "conclusion c2018-meetings: its source text is not in docs/sources/ahg-2018-05.en.txt" in result.err


@pytest.mark.usefixtures("db_backend")
def test_show_names_the_conclusion_and_who_asked(tmp_path: Path) -> None:
    folder = _project(tmp_path / "p")
    shown = run_cli(folder, "show", "data")
    assert shown.code == 0, shown.err
    assert "  conclusion: asked\n" in shown.out and "  asked by:   NI\n" in shown.out
    assert "  with:       TS\n" in shown.out  # who takes part, apart from who asked
    data = run_cli(folder, "show", "data", "--format", "json").json()
    assert (data["conclusion"], data["requested_by"], data["with"]) == ("asked", ["NI"], ["TS"])
    minutes = run_cli(folder, "show", "minutes", "--format", "json").json()
    assert (minutes["conclusion"], minutes["requested_by"]) == ("agreed", [])


@pytest.mark.usefixtures("db_backend")
def test_a_restricted_action_counts_but_is_not_shown(tmp_path: Path) -> None:
    folder = _project(tmp_path / "p", BASE.replace("    conclusion: agreed\n", "    conclusion: agreed\n"
                                                   "    visibility: restricted\n"))
    data = run_cli(folder, "conclusions", "--format", "json", "--as-of", "2020-05-02").json()
    agreed = data["conclusions"][2]
    assert (agreed["state"], agreed["actions"], agreed["restricted_actions"]) == ("overdue", [], 1)
    md = run_cli(folder, "conclusions", "--as-of", "2020-05-02").out
    assert "Circulate the minutes" not in md and "minutes`" not in md
    assert "1 restricted action, not shown here, counts in its state." in md
    assert "No action: the meeting recorded it." in md.split("`noted`")[2]  # the one without any action


# ---------------------------------------------------------------------------
# the migration


def test_migration_0007_builds_the_schema_the_tables_declare_and_keeps_the_actions(tmp_path: Path,
                                                                                     db_backend: str) -> None:
    from sqlalchemy import text

    from conftest import database_at, schema_matches_tables
    from workplan import db as wpdb

    old_action = ("INSERT INTO action (id, title, description, theme, tags, owners, with_parties, source_meeting,"
                  " source_ref, source_text, due_spec, due_kind, visibility, position, sequence, content_hash,"
                  " updated_at) VALUES ('a1', 'Old action', '', '', '[]', '[\"CR\"]', '[]', '', '', '',"
                  " '{\"form\": \"none\"}', 'none', 'public', 0, 0, 'h', '2020-01-01 00:00:00')")
    with database_at(tmp_path, db_backend, "0006", old_action) as (engine, url):
        # up to the head, which later migrations (0008: meetings of other bodies) move on
        assert wpdb.upgrade(engine, url)[0] == "0006"
        assert schema_matches_tables(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT title, conclusion_id, requested_by FROM action")).one() == (
                "Old action", None, None)
            assert conn.execute(text("SELECT count(*) FROM conclusion")).scalar() == 0


@pytest.mark.usefixtures("db_backend")
def test_a_file_without_conclusions(tmp_path: Path) -> None:
    from conftest import MINIMAL

    folder = write_project(tmp_path / "p", MINIMAL)
    assert "No conclusion is recorded." in run_cli(folder, "conclusions", "m1").out
    assert run_cli(folder, "conclusions", "--format", "json").json()["conclusions"] == []
    assert run_cli(folder, "conclusions", "--format", "csv").out.count("\n") == 1  # the header only
    agenda = run_cli(folder, "agenda", "--next", "--as-of", "2020-03-20").out
    assert "No conclusion of the previous meeting is recorded." in agenda


def test_the_server_serves_the_follow_up_and_the_board_links_to_it(tmp_path: Path) -> None:
    import shutil as _shutil

    from test_web import serving

    folder = tmp_path / "rcm"
    folder.mkdir()
    _shutil.copy(REPO / "actions.yaml", folder / "actions.yaml")
    with serving(folder, "--as-of", "2019-01-15") as server:
        board = server.request("/")
        assert 'href="conclusions"' in board.text
        page = server.request("/conclusions?lang=en")
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert "ahg-2018-05" in page.text or "V Meeting" in page.text
        again = server.request("/conclusions?lang=en", headers={"If-None-Match": page.headers["etag"]})
        assert again.status == 304
        spanish = server.request("/conclusions?lang=es")
        assert '<html lang="es">' in spanish.text
        assert server.request("/conclusions?lang=fr").status == 400
