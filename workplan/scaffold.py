"""`workplan init`: a new project folder with a commented example."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError

ACTIONS_EXAMPLE = """\
# actions.yaml: what the meeting concluded (conclusions:), and the actions that carry it out.
# Statuses live in the database (`workplan done ID --party P`); only facts recorded
# in the minutes go under `progress:`. Check this file with `workplan check`.
workplan: 1
group:
  id: my-group
  name: My Working Group
  timezone: America/Panama        # IANA zone: dates and deadlines are read in it
  domain: example.org             # used to build stable calendar UIDs
  # languages: [es, en]           # texts may then be given per language: title: {es: …, en: …}

parties:                          # anyone who can own an action
  - {id: TS, name: Technical Secretariat, kind: secretariat, email: [ts@example.org]}
  - {id: CR, name: Costa Rica, kind: member, email: [focal.cr@example.org]}
  - {id: PA, name: Panama, kind: member, email: [focal.pa@example.org]}   # lang: es|en: its digests' language

sets:                             # a set used as an owner fans out: one assignment per party
  members: [CR, PA]

roles:                            # a role that rotates: whoever holds it on a date gets its items
  - id: PPT
    name: Presidency Pro-Tempore
    holders:                      # periods may not overlap; a day nobody holds it, the TS gets them
      - {party: PA, from: 2026-01-01, to: 2026-12-31}
      - {party: CR, from: 2027-01-01}
  - {id: TROIKA, name: Troika, derived_from: PPT}   # the previous, current and next PPT

meetings:                         # start/end: a date, a local datetime, or a month ("2026-09")
  - {id: m-2026-03, title: First meeting, kind: face-to-face, start: 2026-03-10, end: 2026-03-11,
     location: Panama City, status: held}

cadence:                          # at least N meetings of a kind per year|semester|quarter
  - {kind: virtual, per: semester, at_least: 1, from: 2026-03-11}

conclusions:                      # every paragraph the meeting concluded, task or not, in its order
  - id: c-1a
    kind: decided                 # agreed, decided, took-note, requested, recommended, thanked, other
    source: {meeting: m-2026-03, ref: "1.a", text: "The names of the focal points will be submitted to the TS."}
    requested_by: [PA]            # who asked, where the text says so ("at the request of Panama")
    addressed_to: [members]       # who is asked, where the text says so
  - id: c-2                       # a conclusion no action names: the meeting only recorded it
    kind: took-note
    source: {meeting: m-2026-03, ref: "2", text: "The meeting took note of the report of the TS."}
  # `workplan check` compares each source text with docs/sources/MEETING.txt when that file exists

actions:
  - id: focal-points
    title: Send the names of the focal points to the TS
    source: {meeting: m-2026-03, ref: "1.a", text: "The names of the focal points will be submitted"}
    conclusion: c-1a              # the conclusion it carries out (`workplan conclusions`)
    requested_by: [PA]            # who asked for it, apart from `with` (who takes part)
    owners: [members]             # each member country gets its own assignment
    due: 2026-03-31               # or {meeting: ID, offset: -14d}, or {next: virtual, after: ID}
    progress:
      - {party: CR, status: done, on: 2026-03-20}
  - id: report-draft
    title: Circulate the draft report
    owners: [TS]
    with: [members, PPT]          # take part without owning; a role resolves by date
    depends_on: [focal-points]
    due: {next: virtual, after: m-2026-03}
"""

TOML_EXAMPLE = """\
# workplan.toml: every key can be overridden by WORKPLAN_SECTION_KEY in the environment.
[actions]
file = "actions.yaml"

# [database]
# url = "postgresql+psycopg://user@host/workplan"   # a shared database: syncing becomes explicit

[digest]
lookahead_days = 14
"""

TEMPLATES_README = """\
Templates placed here override the packaged ones file by file (same name).
"""


def scaffold(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        directory / "actions.yaml": ACTIONS_EXAMPLE,
        directory / "workplan.toml": TOML_EXAMPLE,
        directory / "templates" / "README.txt": TEMPLATES_README,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise UsageError(f"{', '.join(existing)} already exists; init writes only into a new project")
    out = []
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(f"created {path}")
    return out
