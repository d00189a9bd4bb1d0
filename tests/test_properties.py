"""Property-based tests over generated workplans, through the real command line (issue 8).

- A blocked assignment waits exactly on its dependencies that are not closed.
- `--as-of` in the past never shows an event that happened after it, and statuses are those
  of the last event up to that moment.
- Moving a meeting moves exactly the deadlines anchored to it, by as much as it moved.

Example counts are bounded and the examples derandomised, so the suite is stable in CI.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workplans import HEAD, _project

from conftest import run_cli

# ---------------------------------------------------------------------------
# check agrees with sync (issue 18)
#
# Every piece of a generated file is drawn from a list that says whether it is valid (an oracle
# written here, not the validator's rules): check must exit 0 exactly when every piece is, sync
# must then succeed and withdraw nothing the file still holds, and otherwise both must exit 2
# and write nothing, so that read commands go on working from what was synced before.

AGREE = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

RRULES = [  # (rule, valid: it yields at least one occurrence, at most one a day)
    ("FREQ=MONTHLY;BYMONTHDAY=15", True), ("FREQ=WEEKLY;BYDAY=MO,TH", True), ("FREQ=DAILY;COUNT=3", True),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", True), ("FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20201231", True),
    ("RRULE:FREQ=MONTHLY;INTERVAL=2;UNTIL=20210101T000000Z", True),
    ("FREQ=HOURLY", False), ("FREQ=MINUTELY;COUNT=5", False), ("FREQ=SECONDLY;UNTIL=20200102", False),
    ("FREQ=DAILY;BYHOUR=3,4", False), ("FREQ=DAILY;INTERVAL=0", False), ("FREQ=YEARLY;BYMONTH=13", False),
    ("FREQ=MONTHLY;COUNT=0", False), ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", False),
    ("FREQ=MONTHLY;UNTIL=2021-12-31", False), ("FREQ=MONTHLY;UNTIL=20191231", False), ("FREQ=SOMETIMES", False),
    ("FREQ=MONTHLY;BYMONTHDAY=0", False), ("FREQ=MONTHLY;BYDAY=6FR", False),
]
REPEATS = [  # (repeat, from, until, valid)
    ("quarter", "2020-01-01", None, True), ("month", "2020-02-10", "2020-05-31", True),
    ("year", "2020-03-01", "2020-06-01", False), ("semester", "2020-02-01", "2020-06-30", False),
]
DUES = [("2020-04-01", True), ("2020-06-30T10:00", True), ('{meeting: m1, offset: "-7d"}', True),
        ("2020-02-30", False), ("2020-13-01", False), ("2020-04-01T25:00", False)]
OWNER_LISTS = [(["TS"], True), (["members"], True), (["CR", "PA"], True), ([], True), (["XX"], False)]
EXTRA_PARTIES = [(None, True), ("NI", True), ("cr", False), ("pA", False), ("ALL", False), ("meetings", False)]
M1_STARTS = [("2020-03-10", True), ("2020-02-30", False)]
M2_STARTS = [(None, True), ("2024-03-10T01:30", True), ("2024-03-10T03:30", True), ("2024-03-10T02:30", False)]


@st.composite
def mixed_files(draw: st.DrawFn) -> tuple[str, bool, dict[str, list[str]]]:
    """(actions.yaml, whether every piece is valid, each action's owners as party ids)."""
    valid: list[bool] = []

    def pick(options: list[Any]) -> Any:
        choice = draw(st.sampled_from(options))
        valid.append(choice[-1])
        return choice[0] if len(choice) == 2 else choice[:-1]

    extra = pick(EXTRA_PARTIES)
    m1, m2 = pick(M1_STARTS), pick(M2_STARTS)
    lines = [HEAD.replace("sets:", (f"  - {{id: {extra}, name: Extra, kind: member}}\n" if extra else "") + "sets:"),
             "meetings:\n", f"  - {{id: m1, title: First, kind: face-to-face, start: {m1}, status: held}}\n"]
    if m2:
        lines.append(f"  - {{id: m2, title: Late, kind: virtual, start: {m2}, timezone: America/New_York}}\n")
    lines.append("actions:\n")
    owners_of: dict[str, list[str]] = {}
    for i in sorted(draw(st.sets(st.integers(0, 4), min_size=1, max_size=4))):
        aid = f"x{i}"
        owners = pick(OWNER_LISTS)
        owners_of[aid] = [p for name in owners for p in (["CR", "PA"] if name == "members" else [name])]
        lines.append(f"  - id: {aid}\n    title: Action {i}\n    owners: [{', '.join(owners)}]\n")
        form = draw(st.sampled_from(["due", "rrule", "repeat", "none"]))
        if form == "due":
            due = pick(DUES)
            lines.append(f"    due: {due if due.startswith('{') else repr(due)}\n")
        elif form == "rrule":
            lines.append(f"    rrule: \"{pick(RRULES)}\"\n    from: 2020-01-01\n")
        elif form == "repeat":
            repeat, start, until = pick(REPEATS)
            lines.append(f"    repeat: {repeat}\n    from: {start}\n" + (f"    until: {until}\n" if until else ""))
    return "".join(lines), all(valid), owners_of


BASELINE = HEAD + """\
meetings:
  - {id: m1, title: First, kind: face-to-face, start: 2020-03-10, status: held}
actions:
""" + "".join(f"  - {{id: x{i}, title: Action {i}, owners: [members], rrule: FREQ=MONTHLY, from: 2020-01-01}}\n"
              for i in range(5))


def _live(db: Path) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """(live actions, withdrawn actions, live (action, party) pairs) as stored."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        actions = dict(con.execute("select id, withdrawn_at is not null from action").fetchall())
        pairs = set(con.execute("select action_id, party_id from assignment where withdrawn_at is null").fetchall())
    finally:
        con.close()
    return {a for a, gone in actions.items() if not gone}, {a for a, gone in actions.items() if gone}, pairs


@AGREE
@given(mixed_files())
def test_check_passes_exactly_when_sync_succeeds_and_keeps_what_the_file_holds(
        generated: tuple[str, bool, dict[str, list[str]]]) -> None:
    text, expected_valid, owners_of = generated
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "p", BASELINE)
        assert run_cli(folder, "sync", "-q").code == 0
        db = folder / ".workplan" / "workplan.db"
        before = db.read_bytes()
        (folder / "actions.yaml").write_text(text, encoding="utf-8")
        check = run_cli(folder, "check")
        sync = run_cli(folder, "sync", "-q")
        assert check.code == (0 if expected_valid else 2), (text, check.err)
        assert sync.code == check.code, (text, check.err, sync.err)  # never 1: a refusal is the file's fault
        if not expected_valid:
            assert db.read_bytes() == before  # nothing written
            assert run_cli(folder, "list", "--format", "json").code == 2  # the file is named, not the database
            return
        live, withdrawn, pairs = _live(db)
        assert live == set(owners_of), (text, live)
        assert withdrawn == {f"x{i}" for i in range(5)} - set(owners_of)  # only what the file no longer holds
        for aid, owners in owners_of.items():
            for party in owners:
                assert (aid, party) in pairs, (text, aid, party)  # every owner keeps something to deliver
        assert run_cli(folder, "list", "--format", "json").code == 0


def test_every_listed_rule_is_judged_as_the_list_says(tmp_path: Path) -> None:
    """The generated files above draw from these lists at random; each entry is also run once."""
    folder = _project(tmp_path / "p", BASELINE)
    wrong = []
    for rule, valid in RRULES:
        text = HEAD + f"actions:\n  - {{id: x0, title: Action, owners: [TS], rrule: \"{rule}\", from: 2020-01-01}}\n"
        (folder / "actions.yaml").write_text(text, encoding="utf-8")
        result = run_cli(folder, "check")
        if result.code != (0 if valid else 2):
            wrong.append((rule, result.code, result.err))
    assert not wrong
