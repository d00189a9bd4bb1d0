"""Agendas, digests and the graph run a fixed number of queries whatever the number of actions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from conftest import run_cli, write_project
from workplan import queries

MEMBERS = ["BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"]


def workplan_of(n: int) -> str:
    lines = [
        "workplan: 1",
        "group: {id: g, name: Scale Group, timezone: America/Panama, domain: scale.example.org}",
        "parties:",
        "  - {id: TS, name: Secretariat, kind: secretariat, email: [ts@example.org]}",
        *[f"  - {{id: {m}, name: Country {m}, kind: member, email: [{m.lower()}@example.org]}}" for m in MEMBERS],
        "sets:",
        f"  members: [{', '.join(MEMBERS)}]",
        "meetings:",
        "  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, end: 2020-03-11, status: held}",
        "cadence:",
        "  - {kind: virtual, per: semester, at_least: 1, from: 2020-03-11}",
        "actions:",
    ]
    dues = ["2020-04-01", "2020-06-20", "{next: virtual, after: m1}", "{next: virtual, after: m1, offset: -14d}"]
    for i in range(n):
        lines += [f"  - id: a{i}", f"    title: Action {i}", f"    source: {{meeting: m1, ref: \"{i}\"}}",
                  f"    owners: [{'members' if i % 3 == 0 else MEMBERS[i % len(MEMBERS)]}]",
                  f"    due: {dues[i % len(dues)]}", "    with: [TS]"]
        if i > 0 and i % 4 == 1:
            lines.append(f"    depends_on: [a{i - 1}]")
        if i % 3 == 0:
            lines += ["    progress:", "      - {party: CR, status: done, on: 2020-04-15}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def count_queries() -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", before)
    yield seen
    event.remove(Engine, "before_cursor_execute", before)


@pytest.mark.parametrize("args", [
    ("agenda", "--next-virtual", "--as-of", "2020-05-01"),
    ("agenda", "--next-virtual", "--as-of", "2020-04-10"),  # before the last event: statuses from the log
    ("digest", "--all", "--as-of", "2020-05-01", "--out", "OUT"),
    ("digest", "--party", "CR", "--as-of", "2020-05-01", "--out", "OUT"),
    ("graph", "--as-of", "2020-05-01"),
])
def test_query_count_does_not_grow_with_the_workplan(tmp_path: Path, count_queries: list[str],
                                                      args: tuple[str, ...]) -> None:
    counts = []
    for n in (8, 80):
        folder = write_project(tmp_path / f"p{n}", workplan_of(n))
        argv = [str(tmp_path / f"out{n}") if a == "OUT" else a for a in args]
        assert run_cli(folder, "sync").code == 0
        count_queries.clear()
        result = run_cli(folder, *argv)
        assert result.code == 0, result.err
        counts.append(len(count_queries))
    assert counts[0] > 3, "the listener saw no queries"
    assert counts[0] == counts[1], f"{args[0]}: {counts[0]} queries for 8 actions, {counts[1]} for 80"


@pytest.mark.parametrize("args", [
    ("agenda", "--next-virtual", "--as-of", "2020-05-01"),
    ("digest", "--all", "--as-of", "2020-04-20", "--out", "OUT"),  # CR's closings of the past week
    ("digest", "--party", "CR", "--as-of", "2020-04-20", "--out", "OUT"),
    ("graph", "--as-of", "2020-05-01"),
])
def test_documents_read_in_small_batches_say_the_same(tmp_path: Path, args: tuple[str, ...],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists of actions go to the database in IN lists of 500 (one statement cannot carry 65,535
    on PostgreSQL); with lists of 3, a document comes out the same, byte for byte."""
    folder = write_project(tmp_path / "p", workplan_of(80))
    assert run_cli(folder, "sync").code == 0
    outputs = []
    for few in (500, 3):
        monkeypatch.setattr(queries, "_FEW", few)
        out = tmp_path / f"out{few}"
        result = run_cli(folder, *[str(out) if a == "OUT" else a for a in args])
        assert result.code == 0, result.err
        files = {p.name: p.read_bytes() for p in sorted(out.rglob("*"))} if out.exists() else {}
        outputs.append((result.out.replace(str(out), "OUT"), files))
    assert outputs[0] == outputs[1]
    text, files = outputs[0]
    assert "Action" in text or files
    if "CR.eml" in files:  # titles of the past week's closings, read in batches too
        assert b"done on 2020-04-15: Action 0\r\n" in files["CR.eml"]
