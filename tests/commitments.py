"""A project whose parties hold open commitments without a deadline (issue 18), for the digest's and
the board's tests: never overdue and never due soon, they used to appear in no digest and on no
board. Read on the day AS_OF."""

from __future__ import annotations

from pathlib import Path

from conftest import MINIMAL, run_cli, write_project

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


def _project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "p", PROJECT)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "done", "a6", "--on", "2020-04-01").code == 0
    return folder
