"""The shipped actions.yaml answers the questions the secretariat asks of it (issue 2, done-when)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

from conftest import MINIMAL, REPO, Runner, run_cli, write_project
from workplan import planning

SOURCES = REPO / "docs" / "sources"  # the meeting documents actions.yaml quotes, shipped
MATRIX_MISSING = {"BZ", "US", "NI", "DO"}
MATRIX_RECEIVED = {"CA", "CR", "HN", "GT", "SV", "MX", "PA"}


def test_overdue_2019_lists_missing_matrices_only(wp: Runner) -> None:
    result = wp("overdue", "--as-of", "2019-01-15", "--format", "json")
    assert result.code == 0, result.err
    rows = result.json()
    matrix = {r["party"] for r in rows if r["action"] == "statistics-matrix-2018"}
    assert matrix == MATRIX_MISSING
    row = next(r for r in rows if r["action"] == "statistics-matrix-2018")
    assert row["due"] == "2018-12-31"
    assert row["due_kind"] == "expected"
    assert row["days_overdue"] == 15
    assert row["source"] == {"meeting": "ahg-2018-05", "ref": "Systematization of information matrices of extra-regional migratory flows"}
    for key in ("action", "title", "party", "due", "due_kind", "status", "days_overdue", "blocked_by", "source"):
        assert key in row


def test_overdue_is_most_overdue_first(wp: Runner) -> None:
    rows = wp("overdue", "--as-of", "2019-01-15", "--format", "json").json()
    late = [r["days_overdue"] for r in rows]
    assert late == sorted(late, reverse=True)
    assert all(isinstance(n, int) and n > 0 for n in late)


def test_done_removes_party_and_is_logged(wp: Runner) -> None:
    done = wp("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-10", "--by", "ts-officer")
    assert done.code == 0, done.err
    assert "BZ: open → done" in done.out
    rows = wp("overdue", "--as-of", "2019-01-15", "--format", "json").json()
    assert {r["party"] for r in rows if r["action"] == "statistics-matrix-2018"} == MATRIX_MISSING - {"BZ"}
    # before the recorded date, BZ was still late
    rows = wp("overdue", "--as-of", "2019-01-09", "--format", "json").json()
    assert "BZ" in {r["party"] for r in rows if r["action"] == "statistics-matrix-2018"}
    log = wp("log", "statistics-matrix-2018", "--format", "json").json()
    bz = [e for e in log if e["party"] == "BZ"]
    assert len(bz) == 1
    assert bz[0]["from"] == "open" and bz[0]["to"] == "done" and bz[0]["by"] == "ts-officer"
    assert bz[0]["on"].startswith("2019-01-10")
    assert bz[0]["origin"] == "cli"
    table = wp("log", "statistics-matrix-2018")
    assert re.search(r"2019-01-10\s+statistics-matrix-2018\s+BZ\s+open → done", table.out)


def test_discussion_not_overdue_right_after_the_meeting(wp: Runner) -> None:
    rows = wp("overdue", "--as-of", "2018-06-02", "--format", "json").json()
    assert "workplan-v2-discussion" not in {r["action"] for r in rows}
    listing = wp("list", "--as-of", "2018-06-02", "--format", "json").json()
    discussion = next(r for r in listing if r["action"] == "workplan-v2-discussion")
    assert discussion["due"] == "2018-12-31" and discussion["due_kind"] == "expected"
    assert discussion["blocked_by"] == ["workplan-v2-draft"]


def test_list_by_tag_or_theme(wp: Runner) -> None:
    """``--tag`` keeps the actions carrying that tag, or of that theme, with all their assignments."""
    actions = yaml.safe_load((REPO / "actions.yaml").read_text(encoding="utf-8"))["actions"]
    theme = "Exchanging information and standardizing tools"
    for tag, expected in (("smuggling", {a["id"] for a in actions if "smuggling" in a.get("tags", [])}),
                          (theme, {a["id"] for a in actions if a.get("theme") == theme})):
        rows = wp("list", "--tag", tag, "--format", "json").json()
        assert {r["action"] for r in rows} == expected and len(expected) >= 3, tag
        if tag != theme:
            assert all(tag in r["tags"] for r in rows)
    matrix = wp("list", "--tag", "statistics", "--format", "json").json()
    assert {r["party"] for r in matrix if r["action"] == "statistics-matrix-2018"} == MATRIX_MISSING | MATRIX_RECEIVED
    assert wp("list", "--tag", "no-such-tag", "--format", "json").json() == []


def test_a_moment_past_the_planned_occurrences_says_so(wp: Runner, tmp_path: Path) -> None:
    """Recurring actions (the semester's virtual meeting, the year's face-to-face) are planned to
    the end of next year; a listing past that day says what it cannot show, and one before it
    says nothing."""
    horizon = f"{date.today().year + 1}-12-31"
    warning = f"workplan: warning: recurring actions are planned up to {horizon}; their occurrences due after"
    for args in (("overdue", "--as-of", "2040-01-01"), ("list", "--as-of", "2040-01-01"),
                 ("upcoming", "--days", "1200")):
        result = wp(*args)
        assert result.code in (0, 1) and result.err.count(warning) == 1, (args, result.err)
    for args in (("overdue", "--as-of", "2019-01-15"), ("upcoming", "--days", "30"), ("show", "focal-points")):
        result = wp(*args)
        assert "warning" not in result.err, (args, result.err)
    # a workplan without recurring actions has nothing to warn about
    plain = write_project(tmp_path / "plain", MINIMAL)
    assert run_cli(plain, "sync").code == 0
    assert "warning" not in run_cli(plain, "overdue", "--as-of", "2040-01-01").err


def test_show_approval_blocked_by_discussion(wp: Runner) -> None:
    result = wp("show", "workplan-v2-approval")
    assert result.code == 0, result.err
    assert "BLOCKED by: workplan-v2-discussion" in result.out
    data = wp("show", "workplan-v2-approval", "--format", "json").json()
    assert data["blocked_by"] == ["workplan-v2-discussion"]
    assert data["depends_on"] == ["workplan-v2-discussion"]


def test_meetings_reports_cadence_per_semester(wp: Runner) -> None:
    data = wp("meetings", "--as-of", "2019-07-15", "--format", "json").json()
    virtual = {p["period"]: p["verdict"] for p in data["cadence"] if p["kind"] == "virtual"}
    assert virtual == {"2018-S1": "partial", "2018-S2": "missed", "2019-S1": "missed", "2019-S2": "pending"}
    face = {p["period"]: p for p in data["cadence"] if p["kind"] == "face-to-face"}
    assert face["2018"]["verdict"] == "met" and face["2018"]["held"] == ["ahg-2018-05"]
    table = wp("meetings", "--as-of", "2019-07-15").out
    assert "2018-S2  MISSED" in table


def test_shipped_file_encodes_both_seeds() -> None:
    doc = yaml.safe_load((REPO / "actions.yaml").read_text(encoding="utf-8"))
    actions = {a["id"]: a for a in doc["actions"]}
    for aid in ("focal-points", "statistics-matrix-2018", "workplan-v2-draft", "workplan-v2-discussion",
                "workplan-v2-approval"):
        assert aid in actions
    meetings = {m["id"]: m for m in doc["meetings"]}
    assert str(meetings["ahg-2016-07"]["start"]) == "2016-07-13"
    assert str(meetings["ahg-2018-05"]["start"]) == "2018-05-31"
    assert str(actions["focal-points"]["due"]) == "2016-07-28"
    assert actions["workplan-v2-approval"]["depends_on"] == ["workplan-v2-discussion"]
    assert actions["workplan-v2-discussion"]["depends_on"] == ["workplan-v2-draft"]
    done = {p["party"] for p in actions["statistics-matrix-2018"]["progress"] if p["status"] == "done"}
    assert done == MATRIX_RECEIVED
    cadence = {(c["kind"], c["per"]) for c in doc["cadence"]}
    assert {("face-to-face", "year"), ("virtual", "semester")} <= cadence


def test_every_quoted_source_is_in_its_seed() -> None:
    """The one verbatim rule (planning.quote_in_document), which `workplan check` also applies
    to every quote when docs/sources holds the meeting's document."""
    texts = {meeting: (SOURCES / f"{meeting}.en.txt").read_text(encoding="utf-8")
             for meeting in ("ahg-2016-07", "ahg-2018-05")}
    doc = yaml.safe_load((REPO / "actions.yaml").read_text(encoding="utf-8"))
    checked = 0
    for item in (*doc["actions"], *doc["conclusions"]):
        source = item.get("source") or {}
        if source.get("meeting") in texts and source.get("text"):
            assert planning.quote_in_document(source["text"], texts[source["meeting"]]), item["id"]
            checked += 1
    assert checked >= 25 + 31


def test_first_run_syncs_then_reads(wp: Runner, project: Path, db_backend: str) -> None:
    result = wp("overdue", "--as-of", "2019-01-15")
    assert result.code == 0
    # the embedded default lives beside the actions file
    assert (project / ".workplan" / "workplan.db").is_file() == (db_backend == "sqlite")
    assert "synced actions.yaml" in result.err
    assert re.search(r"15d\s+2018-12-31\*\s+BZ\s+statistics-matrix-2018", result.out)
    again = wp("overdue", "--as-of", "2019-01-15")
    assert again.err == ""  # nothing changed: no second sync
    assert again.out == result.out


def test_meetings_as_of_a_day_before_a_meeting_shows_it_planned(wp: Runner) -> None:
    """The V meeting (31 May 2018) is recorded as held; on 1 May 2018 it had not been yet."""
    data = wp("meetings", "--as-of", "2018-05-01", "--format", "json").json()
    status = {m["id"]: m["status"] for m in data["meetings"]}
    assert status["ahg-2018-05"] == "planned" and status["ahg-2016-07"] == "held"
    face = next(p for p in data["cadence"] if p["kind"] == "face-to-face" and p["period"] == "2018")
    assert (face["verdict"], face["held"], face["scheduled"]) == ("scheduled", [], ["ahg-2018-05"])
    table = wp("meetings", "--as-of", "2018-05-01").out
    assert re.search(r"^ahg-2018-05 .* planned ", table, re.M), table
    after = wp("meetings", "--as-of", "2018-05-31", "--format", "json").json()
    assert {m["id"]: m["status"] for m in after["meetings"]}["ahg-2018-05"] == "held"
    agenda = wp("agenda", "--meeting", "ahg-2018-05", "--as-of", "2018-05-01").out
    assert "- Meeting: ahg-2018-05 (face-to-face, planned)" in agenda
