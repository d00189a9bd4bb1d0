"""The generated artefacts the suite compares byte for byte or after normalising, and how to
build them. Refreshed only on purpose, with ``python -m tests.refresh_golden``.

* ``calendars/`` at the repository root: the feeds built from the shipped ``actions.yaml``
  with ``--as-of SHIPPED_AS_OF`` (a pinned moment, so a fresh clone rebuilds the same bytes in
  any year), over the committed folder itself, so that its SEQUENCEs continue and what it
  showed before stays, cancelled. The suite fails when the code or ``actions.yaml`` changes them.
* ``tests/golden/``: one feed of each kind (all, meetings, a party) built from GOLDEN_YAML, a
  small workplan holding every case the renderer distinguishes, with ``--as-of GOLDEN_AS_OF``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED_ACTIONS = REPO / "actions.yaml"
SHIPPED_CALENDARS = REPO / "calendars"
SHIPPED_AS_OF = "2026-11-23"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GOLDEN_AS_OF = "2021-03-01"
GOLDEN_FEEDS = ("all.ics", "meetings.ics", "CR.ics")

GOLDEN_YAML = """\
workplan: 1
group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}
parties:
  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [cr@example.org]}
  - {id: PA, name: Panama, kind: member, email: [pa@example.org]}
  - {id: IOM, name: International Organization for Migration, kind: organization}
sets:
  members: [CR, PA]
meetings:
  - {id: m1, title: "Reunión Técnica — Migración, año 2018; acción", kind: face-to-face,
     start: 2020-03-10, end: 2020-03-11, location: "San José, Costa Rica", status: held}
  - {id: v1, title: First virtual meeting, kind: virtual, start: "2020-06-15T10:00", end: "2020-06-15T12:30",
     url: "https://meet.example.org/v1", status: held}
  - {id: madrid, title: Meeting in Madrid, kind: other, start: "2020-10-26T09:00", end: "2020-10-27T13:00",
     timezone: Europe/Madrid, location: Madrid, status: planned}
  - {id: m2, title: Second face-to-face meeting, kind: face-to-face, start: "2021-04", status: planned}
  - {id: off, title: Called-off meeting, kind: other, start: 2020-12-01, status: cancelled}
cadence:
  - {kind: virtual, per: semester, at_least: 1, from: 2020-03-11}
actions:
  - id: matrix
    title: Send the statistics matrix
    source: {meeting: m1, ref: "2.a", text: "Each country will send its matrix; \\"in full\\"."}
    owners: [members]
    with: [IOM]
    due: 2020-04-01
    progress:
      - {party: CR, status: done, on: 2020-03-30, note: received}
      - {party: PA, status: waived, on: 2020-04-02, note: no data this year}
  - id: agenda
    title: Draft the agenda of the Madrid meeting
    source: {meeting: m1, ref: "2.b"}
    owners: [TS]
    with: [CR]
    due: {meeting: madrid, offset: -14d}
  - id: report
    title: Present the report at the next virtual meeting
    description: "Two lines:\\nthe second one."
    owners: [CR, PA]
    depends_on: [matrix, agenda]
    due: {next: virtual, after: v1}
    progress:
      - {party: PA, status: in_progress, on: 2020-07-01}
  - id: dropped
    title: A dropped idea
    owners: [CR]
    due: 2020-05-01
    progress:
      - {party: CR, status: cancelled, on: 2020-04-20, note: overtaken by events}
  - id: private
    title: Restricted follow-up
    owners: [PA]
    with: [TS]
    visibility: restricted
    due: {meeting: m1}
  - id: yearly
    title: Yearly report
    owners: [CR]
    repeat: year
    from: 2020-01-01
  - id: ongoing
    title: Ongoing commitment with no deadline
    owners: [members]
"""


def normalise(ics: bytes) -> list[str]:
    """A feed as sorted property lines per component: unfolded, order of properties ignored
    (the golden comparison is about content, not about the library's property order)."""
    text = ics.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "")
    out: list[str] = []
    stack: list[list[str]] = []
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("BEGIN:"):
            stack.append([line])
        elif line.startswith("END:"):
            block = stack.pop()
            lines = [block[0], *sorted(block[1:]), line]
            if stack:
                stack[-1].append("\n".join(lines))
            else:
                out.extend(lines)
        else:
            stack[-1].append(line)
    return out


def build(project: Path, as_of: str, out: Path) -> None:
    from conftest import run_cli

    result = run_cli(project, "calendars", "--as-of", as_of, "--out", str(out))
    if result.code != 0:
        raise RuntimeError(result.err)


def build_shipped(tmp: Path, over: Path | None = None) -> Path:
    """The feeds of the shipped actions.yaml, built in a fresh copy of the project under *tmp*
    (a fresh database), into an empty folder or over a copy of the feeds in *over*."""
    folder = tmp / "shipped"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    if over is not None and over.is_dir():
        shutil.copytree(over, folder / "calendars")
    build(folder, SHIPPED_AS_OF, folder / "calendars")
    return folder / "calendars"


def build_golden(tmp: Path) -> Path:
    folder = tmp / "golden"
    folder.mkdir()
    (folder / "actions.yaml").write_text(GOLDEN_YAML, encoding="utf-8")
    build(folder, GOLDEN_AS_OF, folder / "calendars")
    return folder / "calendars"


