"""`workplan agenda`: the sections of SPEC §4 from the shipped workplan, in three formats."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from golden import check_golden

from conftest import MINIMAL, Runner, run_cli, write_project

MISSING = ["BZ", "DO", "NI", "US"]
RECEIVED = ["CA", "CR", "HN", "GT", "SV", "MX", "PA"]
CHAIN = "workplan-v2-draft → workplan-v2-discussion → workplan-v2-approval"
HOSTILE = '<script>alert(1)</script> & "quotes"'
SECTIONS = [
    "Opening of the meeting", "Adoption of the agenda", "Follow-up of the conclusions of the previous meeting",
    "Items due at this meeting",
    "Follow-up of overdue actions, by owner", "Status of fanned-out deliverables, by country",
    "Completed since the previous meeting", "Deadlines before the following meeting", "Blocked chains",
    "Date of the next meeting", "Any other business",
]


def section(text: str, title: str) -> str:
    """The text of one numbered section of a Markdown agenda."""
    start = text.index(title)
    nxt = text.find("\n## ", start)
    return text[start: nxt if nxt != -1 else len(text)]


def test_next_virtual_2018_md(wp: Runner) -> None:
    result = wp("agenda", "--next-virtual", "--as-of", "2018-06-02")
    assert result.code == 0, result.err
    md = result.out
    positions = [md.index(f"## {n}. {title}") for n, title in enumerate(SECTIONS, 1)]
    assert positions == sorted(positions)
    assert "expected, not yet scheduled" in md.lower()
    assert "Proposed slot: 1 July – 31 December 2018" in md
    due = section(md, "Items due at this meeting")
    assert "Discuss the Work Plan v2.0 at the next virtual meeting" in due
    assert "`workplan-v2-discussion`" in due
    # the draft is due two weeks before the meeting, not at it
    assert "workplan-v2-draft`" not in due.split("waits on")[0]
    matrix = section(md, "### Send the updated statistical information matrix")
    rows = dict(re.findall(r"^\| (\w\w) [^|]+\| (\w+)", matrix, re.M))
    assert sorted(p for p, s in rows.items() if s == "missing") == MISSING
    assert sorted(p for p, s in rows.items() if s == "received") == sorted(RECEIVED)
    assert CHAIN in section(md, "Blocked chains")
    nxt = section(md, "Date of the next meeting")
    assert "Next virtual meeting" in nxt and "first semester of 2019" in nxt


def test_next_virtual_2018_html_and_txt(wp: Runner) -> None:
    html = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", "html").out
    text = " ".join(_html_text(html).split())
    assert "Expected, not yet scheduled." in text
    assert "Discuss the Work Plan v2.0 at the next virtual meeting" in text
    assert CHAIN in text
    for party in MISSING:
        assert re.search(rf'class="cell-missing"><td><strong>{party}</strong>', html)
    for party in RECEIVED:
        assert re.search(rf'class="cell-received"><td><strong>{party}</strong>', html)
    txt = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", "txt").out
    assert "EXPECTED, NOT YET SCHEDULED" in txt
    assert CHAIN in txt
    block = txt[txt.index("[statistics-matrix-2018]\n"):]
    for party in MISSING:
        assert re.search(rf"^     {party} .*\bmissing\b", block, re.M)
    assert all(len(line) <= 78 for line in txt.splitlines() if "→" not in line), "text agenda is wrapped"


@pytest.mark.parametrize("fmt", ["md", "html", "txt"])
def test_agenda_golden(wp: Runner, fmt: str) -> None:
    result = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", fmt)
    assert result.code == 0, result.err
    check_golden(f"agenda-next-virtual-2018-06-02.{fmt}", result.out)


def test_overdue_follow_up_after_missed_slot(wp: Runner) -> None:
    """In January 2019 the 2018-S2 slot passed without a meeting: the discussion is carried over
    to the next expected virtual meeting and is overdue."""
    md = wp("agenda", "--next-virtual", "--as-of", "2019-01-15").out
    assert "first semester of 2019" in md.split("## 1.")[0]
    due = section(md, "Items due at this meeting")
    assert "workplan-v2-discussion" in due and "carried over" in due
    overdue = section(md, "Follow-up of overdue actions")
    assert "**BZ** Belize" in overdue and "`statistics-matrix-2018`" in overdue


def test_agenda_for_a_scheduled_meeting(wp: Runner) -> None:
    result = wp("agenda", "--meeting", "ahg-2016-09", "--as-of", "2016-08-01")
    assert result.code == 0, result.err
    md = result.out
    assert "- Meeting: ahg-2016-09 (face-to-face, planned)" in md
    assert "September 2016 (day not fixed yet)" in md
    due = section(md, "Items due at this meeting")
    assert "`troika-invite-br-ec-co`" in due and "`ahg-2016-09-support`" in due
    assert "expected, not yet scheduled" not in md.lower().split("## 10.")[0]


def test_next_picks_the_earliest(wp: Runner) -> None:
    md = wp("agenda", "--next", "--as-of", "2016-08-01").out
    assert "First online meeting of the technical working group" in md.splitlines()[0]


def test_unknown_meeting_is_a_usage_error(wp: Runner) -> None:
    result = wp("agenda", "--meeting", "nope")
    assert result.code == 2
    assert "there is no meeting 'nope'" in result.err
    assert "Traceback" not in result.err


def test_output_file(wp: Runner, project: Path) -> None:
    result = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", "html", "-o", "out/agenda.html")
    assert result.code == 0, result.err
    assert result.out == ""
    assert (project / "out" / "agenda.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------------------
# hostile text


HOSTILE_PROJECT = MINIMAL.replace("title: First action", f"title: '{HOSTILE}'")


def _html_text(html: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.tags: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.append(tag)
            if tag in ("style", "script"):
                self.skip += 1

        def handle_endtag(self, tag: str) -> None:
            if tag in ("style", "script"):
                self.skip -= 1

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    assert "script" not in parser.tags, "a <script> element reached the HTML"
    return " ".join(parser.parts)


def hostile_project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "hostile", HOSTILE_PROJECT)
    waived = run_cli(folder, "waive", "a1", "--party", "PA", "--on", "2020-04-10", "--note", f"note {HOSTILE}")
    assert waived.code == 0, waived.err
    return folder


def test_hostile_title_escaped_in_html_verbatim_in_md_and_txt(tmp_path: Path) -> None:
    folder = hostile_project(tmp_path)
    args = ("agenda", "--next-virtual", "--as-of", "2020-04-15")
    md = run_cli(folder, *args).out
    assert md.count(HOSTILE) >= 4  # due soon, overdue, matrix, chain, completed…
    txt = " ".join(run_cli(folder, *args, "--format", "txt").out.split())
    assert HOSTILE in txt
    html = run_cli(folder, *args, "--format", "html").out
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    text = " ".join(_html_text(html).split())
    assert HOSTILE in text and f"note {HOSTILE}" in text


def test_two_meeting_choices_is_a_usage_error(wp: Runner) -> None:
    result = wp("agenda", "--meeting", "ahg-2018-05", "--next-virtual")
    assert result.code == 2
    assert "say which meeting once" in result.err


def test_no_meeting_and_no_cadence_says_so(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    result = run_cli(folder, "agenda", "--next-face-to-face", "--as-of", "2020-04-15")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == (
        "workplan: no face-to-face meeting is scheduled from 2020-04-15 on, and no cadence rule says when to "
        "expect one; use --meeting ID")


def test_deadlines_count_every_assignment_of_the_action(wp: Runner) -> None:
    """Section 7 lists a fanned-out action with how many of all its assignments are closed, not
    "0 of N" counted over the pending ones it lists (seven of eleven matrices were received)."""
    md = wp("agenda", "--next-face-to-face", "--as-of", "2018-06-02").out
    deadlines = section(md, "Deadlines before the following meeting")
    matrix = next(line for line in deadlines.splitlines() if "`statistics-matrix-2018`" in line)
    assert matrix.endswith("7 of 11 closed; pending: BZ, DO, NI, US"), matrix
    nationality = next(line for line in deadlines.splitlines() if "`nationality-statistics-2018`" in line)
    assert "1 of 11 closed; pending: BZ, CA, CR, DO, GT, HN, NI, PA, SV, US" in nationality
    txt = " ".join(wp("agenda", "--next-face-to-face", "--as-of", "2018-06-02", "--format", "txt").out.split())
    assert "[statistics-matrix-2018] 7 of 11 closed; pending: BZ, DO, NI, US" in txt
