"""`workplan meetings move` (issue 21): a what-if that writes nothing, on the shipped RCM file, on a
meeting that anchors deadlines and sits in a dependency chain (twg-2016-08: `twg-establish` is due
there and waits on `focal-points`, due 2016-07-28); bad input in one sentence, exit 2. On SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, database_url, dump_database


def test_moving_a_meeting_that_anchors_a_chain_says_what_would_change_and_writes_nothing(
        wp: Runner, project: Path) -> None:
    assert wp("sync").code == 0
    url = database_url(project)
    before = dump_database(url)
    text = (project / "actions.yaml").read_bytes()
    out = wp("meetings", "move", "twg-2016-08", "--to", "2016-07-20", "--as-of", "2016-07-15")
    assert out.code == 0, out.err
    assert out.out == (
        "meeting twg-2016-08: 2016-08-26 → 2016-07-20\n"
        "  deadline twg-establish (TS): 2016-08-26 (at twg-2016-08) → 2016-07-20 (at twg-2016-08)\n"
        "  deadline ts-online-folder (TS): 2016-08-26 (at twg-2016-08) → 2016-07-20 (at twg-2016-08)\n"
        "  deadline twg-first-meeting (TWG): 2016-08-26 (at twg-2016-08) → 2016-07-20 (at twg-2016-08)\n"
        "  twg-establish would fall due on 2016-07-20, before focal-points it waits on (2016-07-28)\n"
        "  twg-first-meeting would fall due on 2016-07-20, before focal-points it waits on (2016-07-28)\n")
    data = wp("meetings", "move", "twg-2016-08", "--to", "2016-07-20", "--as-of", "2016-07-15",
              "--format", "json").json()
    assert data["meetings"] == [{"id": "twg-2016-08", "from": {"start": "2016-08-26", "end": None},
                                 "to": {"start": "2016-07-20", "end": None}}]
    assert {"action": "twg-establish", "party": "TS", "occurrence": None,
            "old": {"due": "2016-08-26", "due_kind": "meeting", "due_meeting": "twg-2016-08"},
            "new": {"due": "2016-07-20", "due_kind": "meeting", "due_meeting": "twg-2016-08"}} in data["deadlines"]
    assert {"action": "twg-establish", "due": "2016-07-20", "waits_on": "focal-points",
            "waits_on_due": "2016-07-28"} in data["before_prerequisite"]
    assert dump_database(url) == before
    assert (project / "actions.yaml").read_bytes() == text


def test_moving_the_face_to_face_meeting_to_the_next_year_changes_the_cadence_verdicts(wp: Runner) -> None:
    # the rule counts face-to-face meetings from 2018-06-01: ahg-2018-05 (31 May) held 2018's
    out = wp("meetings", "move", "ahg-2018-05", "--to", "2019-02-01", "--as-of", "2019-03-01").out
    assert "  cadence of face-to-face meetings, 2018: met → not required (rule began mid-period)\n" in out
    assert "  cadence of face-to-face meetings, 2019: not yet (period in progress) → met\n" in out
    data = wp("meetings", "move", "ahg-2018-05", "--to", "2019-02-01", "--as-of", "2019-03-01",
              "--format", "json").json()
    assert {"kind": "face-to-face", "period": "2019", "old": "pending", "new": "met"} in data["cadence"]


def test_moving_a_meeting_deadlines_follow_through_next_and_offset(wp: Runner) -> None:
    # ahg-2018-05 anchors `{next: virtual, after: ahg-2018-05}` (and an offset of -14d): moved into
    # July, the next virtual meeting is expected in the following semester
    out = wp("meetings", "move", "ahg-2018-05", "--to", "2018-07-10", "--as-of", "2018-05-01").out
    assert out.startswith("meeting ahg-2018-05: 2018-05-31–2018-06-01 → 2018-07-10–2018-07-11\n")
    assert "  deadline workplan-v2-draft (TS): 2018-12-17 (expected) → 2019-06-16 (expected)\n" in out


def test_bad_input_is_one_sentence_exit_2_and_nothing_written(wp: Runner, project: Path) -> None:
    assert wp("sync").code == 0
    url = database_url(project)
    before = dump_database(url)
    unknown = wp("meetings", "move", "nope", "--to", "2018-07-10")
    assert unknown.code == 2 and unknown.out == ""
    assert unknown.err.startswith("workplan: there is no meeting 'nope' (known: ahg-2016-07,")
    assert len(unknown.err.strip().splitlines()) == 1
    backwards = wp("meetings", "move", "ahg-2018-05", "--to", "2018-07-10", "--end", "2018-07-01")
    assert (backwards.code, backwards.out, backwards.err) == (
        2, "", "workplan: meeting ahg-2018-05 would end (2018-07-01) before it starts (2018-07-10)\n")
    assert dump_database(url) == before


def test_sync_prints_the_same_summary_when_the_file_moves_the_meeting(wp: Runner, project: Path) -> None:
    assert wp("sync").code == 0
    what_if = wp("meetings", "move", "twg-2016-08", "--to", "2016-07-20", "--as-of", "2016-07-15").out
    path = project / "actions.yaml"
    text = path.read_text(encoding="utf-8")
    block = text.index("  - id: twg-2016-08")
    path.write_text(text[:block] + text[block:].replace("    start: 2016-08-26", "    start: 2016-07-20", 1),
                    encoding="utf-8")
    synced = wp("sync")
    assert synced.code == 0, synced.err
    assert what_if in synced.out
    listed = {(r["action"], r["party"]): r["due"] for r in wp("list", "--format", "json").json()}
    assert listed[("twg-establish", "TS")] == "2016-07-20"
    assert "meeting twg-2016-08" not in wp("sync").out  # nothing moved the second time
