"""Open commitments without a deadline (issue 18): never overdue and never due soon, they used
to appear in no digest and on no board; a country whose only open task had no deadline got a
digest saying nothing was pending. Now the party's digest (text and HTML, both languages) and the
board list them in a section of their own, the oldest first, each with its age: the days since
the last day of the meeting that agreed it (its source). On both databases; the board over real
HTTP."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from test_digest import html_rows, parts, read_eml, text_section
from test_web import serving

from conftest import MINIMAL, run_cli, write_project
from workplan import planning

AS_OF = "2020-06-01"  # m1 ended on 2020-03-11: 82 days before
PROJECT = MINIMAL.replace(
    "  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}\n",
    "  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}\n"
    "  - {id: GT, name: Guatemala, kind: member, email: [gt@example.org]}\n",
) + """\
  - id: a3
    title: Keep the focal points informed
    source: {meeting: m1, ref: "2", text: "keep them informed"}
    owners: [GT]
  - id: a4
    title: Share good practices
    owners: [CR]
  - id: a5
    title: Confidential follow-up
    source: {meeting: m1, ref: "3", text: "follow up"}
    owners: [CR]
    visibility: restricted
  - id: a6
    title: Already delivered
    source: {meeting: m1, ref: "4", text: "deliver"}
    owners: [CR]
"""


def test_the_rule_and_the_age() -> None:
    assert planning.open_without_deadline("open", None) and planning.open_without_deadline("in_progress", None)
    assert not planning.open_without_deadline("open", date(2020, 1, 1))
    for closed in ("done", "waived", "cancelled"):
        assert not planning.open_without_deadline(closed, None)
    today = date(2020, 6, 1)
    assert planning.commitment_age(date(2020, 3, 11), today) == 82
    assert planning.commitment_age(today, today) == 0
    assert planning.commitment_age(None, today) is None
    assert planning.commitment_age(date(2020, 6, 2), today) is None  # agreed after the day asked about


def _project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "p", PROJECT)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "done", "a6", "--on", "2020-04-01").code == 0
    return folder


@pytest.mark.usefixtures("db_backend")
def test_a_party_whose_only_open_task_has_no_deadline_reads_it_in_its_digest(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    out = tmp_path / "out"
    assert run_cli(folder, "digest", "--all", "--as-of", AS_OF, "--out", str(out), "--lang", "en").code == 0
    text, html = parts(read_eml(out / "GT.eml"))
    section = " ".join(text_section(text, "OPEN, NO DEADLINE (").split())
    assert section.startswith("OPEN, NO DEADLINE (1) * agreed 82 days ago: Keep the focal points informed"), section
    assert "[a3] GT · no deadline" in section and 'Source: First, "2"' in section
    assert [(r["data-action"], r["data-parties"], r["data-age-days"]) for r in html_rows(html, "no-deadline")] \
        == [("a3", "GT", "82")]
    assert "agreed 82 days ago" in html
    assert "No open commitment is without a deadline." in " ".join(text_section(
        parts(read_eml(out / "PA.eml"))[0], "OPEN, NO DEADLINE (0)").split())

    # the secretariat's group-wide digest: every open one, the oldest first, the unknown age last;
    # a closed one is not open any more
    ts_text, ts_html = parts(read_eml(out / "TS.eml"))
    rows = [(r["data-action"], r["data-parties"], r.get("data-age-days")) for r in html_rows(ts_html, "no-deadline")]
    assert rows == [("a3", "GT", "82"), ("a5", "CR", "82"), ("a4", "CR", None)]
    ts_section = text_section(ts_text, "OPEN, NO DEADLINE (3)")
    assert "a6" not in ts_section and "[a4] CR · no deadline" in " ".join(ts_section.split())

    # in Spanish
    es = tmp_path / "es"
    assert run_cli(folder, "digest", "--party", "GT", "--as-of", AS_OF, "--out", str(es), "--lang", "es").code == 0
    es_text, es_html = parts(read_eml(es / "GT.eml"))
    es_section = " ".join(text_section(es_text, "ABIERTO, SIN PLAZO (").split())
    assert es_section.startswith("ABIERTO, SIN PLAZO (1) * acordado hace 82 días: Keep the focal points"), es_section
    assert "Abierto, sin plazo (1)" in es_html and "acordado hace 82 días" in es_html


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
