"""One home for each rule (issue 19): the copies removed from the package do not come back.

Each test greps the package's source for a copy of a rule that now lives in one place
(``planning.py`` for the domain rules, ``statuses.py`` for the closed statuses, ``queries.py``
for the size of an IN list) and names the file and line of any copy it finds.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "workplan"


def _copies(pattern: str, *, home: tuple[str, ...] = ()) -> list[str]:
    """``file:line: text`` of every line of the package matching *pattern*, outside *home*."""
    found = []
    regex = re.compile(pattern)
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in home:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if regex.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_the_closed_statuses_are_named_once() -> None:
    # a set or tuple of closed statuses written out, or a module's own CLOSED
    written_out = r"""["']done["'],\s*["']waived["'],\s*["']cancelled["']|["']done["'],\s*["']waived["']\s*[)}]"""
    assert _copies(written_out, home=("statuses.py",)) == []
    assert _copies(r"^\s*(CLOSED|COMPLETED)\s*[:=]", home=("statuses.py",)) == []


def test_the_grep_finds_a_copy() -> None:
    """The helper itself can fail: it finds the one home it is told to skip."""
    assert _copies(r"^CLOSED = ") == ["statuses.py:7: CLOSED = frozenset({\"done\", \"waived\", \"cancelled\"})"]
    assert Path(PACKAGE / "statuses.py").is_file()


def test_the_size_of_an_in_list_is_one_constant() -> None:
    # queries._FEW is the size; services asks queries.few() rather than comparing with its own number
    assert _copies(r"len\((?!chains\))[^)]*\)\s*[<>]=?\s*\d{3,}") == []
    assert [line.split(":")[0] for line in _copies(r"^\s*_?[A-Z_]*(FEW|BATCH|IN_LIST)[A-Z_]*\s*=")] == ["queries.py"]


def test_the_horizon_is_planned_in_one_place() -> None:
    # the end of the year after: planning.horizon, which sync, the up-to-date check and the feeds call
    assert _copies(r"\+ 1, 12, 31\)", home=("planning.py",)) == []
    assert [found.split(":")[0] for found in _copies(r"^def horizon\b")] == ["planning.py"]


def test_the_digest_period_is_one_rule() -> None:
    # the week a digest looks back on, and the ISO week it is sent once in: planning's
    assert _copies(r"timedelta\((days=7|weeks=1)\)", home=("planning.py",)) == []
    assert _copies(r"W\{:02d\}|isocalendar\(\)", home=("planning.py",)) == []


def test_a_party_language_is_decided_in_one_place() -> None:
    # --lang, the party's lang, the group's first language, the reader's: planning.party_language
    assert _copies(r"languages\[0\]", home=("planning.py", "spec.py")) == []
    assert _copies(r"explicit or .*lang", home=("planning.py",)) == []


def test_the_state_of_an_assignment_is_decided_in_planning() -> None:
    # formatting.state_word, the agenda's summaries and chains, the graph and the feeds call planning
    assert _copies(r"""(return|state =)\s+["'](overdue|blocked|at risk|in progress)["']\s*$""", home=("planning.py",)) == []
    assert _copies(r"due_date\s*<\s*today|open_left\[\w+\]\s*==\s*0|\(open_count or 0\) == 0") == []


def test_the_next_and_the_expected_meeting_are_found_in_planning() -> None:
    # reports.next_of_kind / expected_meeting and the agenda call planning.next_meeting / expected_slot
    assert _copies(r"min\(.*key=lambda m: \(m\.start_day, m\.id\)", home=("planning.py",)) == []
    assert _copies(r"count < rule\.at_least", home=("planning.py",)) == []
    # what is left compares days for another question: every meeting to come, listed in the digest
    assert all("out = [_meeting_info(m) for m in c.meetings" in found
               for found in _copies(r"m\.start_day\s*>=?\s*\w+", home=("planning.py",)))


def test_transitions_and_the_waive_rule_live_in_planning() -> None:
    assert [found.split(":")[0] for found in _copies(r"^\s*TRANSITIONS\b.*=")] == ["planning.py"]
    assert _copies(r"""(verb|status) == ["']waiv(e|ed)["'] and not note""", home=("planning.py",)) == []
