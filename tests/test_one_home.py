"""One home for each rule (issue 19): the copies removed from the package do not come back.

Each test greps the package's source for a copy of a rule that now lives in one place
(``planning.py`` for the domain rules, ``statuses.py`` for the closed statuses, ``queries.py``
for the size of an IN list) and names the file and line of any copy it finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from conftest import REPO
from workplan import planning, spec
from workplan.i18n import language
from workplan.timeutil import When

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
    # the listings, the agenda's summaries and chains, the graph and the feeds call planning
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


# the homes themselves, read without a database


@dataclass(frozen=True)
class _Judged:
    status: str
    overdue: bool = False
    blocked_by: tuple[str, ...] = ()
    at_risk: bool = False


@dataclass(frozen=True)
class _Met:
    id: str
    kind: str
    status: str
    start_day: date
    body: str = ""  # planning.Scheduled: another body's meeting (issue 21)


def test_an_action_takes_the_most_pressing_state_of_its_open_assignments() -> None:
    assert planning.action_state([_Judged("in_progress"), _Judged("open", blocked_by=("a",)), _Judged("done")]) \
        == "blocked"
    assert planning.action_state([_Judged("open", overdue=True), _Judged("open", blocked_by=("a",))]) == "overdue"
    assert planning.action_state([_Judged("in_progress"), _Judged("open")]) == "in progress"
    assert planning.action_state([_Judged("done"), _Judged("done")]) == "done"
    assert planning.action_state([_Judged("done"), _Judged("waived")]) == "closed"
    assert planning.action_state([]) == "open"
    assert planning.assignment_state(_Judged("waived", overdue=True)) == "waived"
    assert planning.action_closed(0) and not planning.action_closed(None) and not planning.action_closed(2)
    # the graph colours a closed action by what closed it, the same whatever the string hash (it
    # used a set's pop())
    from workplan.reports import _action_state

    assert _action_state([_Judged("cancelled"), _Judged("waived")]) == "waived"  # type: ignore[list-item]
    assert _action_state([_Judged("cancelled"), _Judged("done")]) == "done"  # type: ignore[list-item]


def test_the_next_meeting_and_the_slot_it_is_expected_in() -> None:
    rule = planning.CadenceRule("virtual", "semester", 1, date(2018, 1, 1))
    held = [_Met("v1", "virtual", "held", date(2018, 3, 1)), _Met("x", "virtual", "cancelled", date(2018, 9, 1)),
            _Met("f1", "face-to-face", "planned", date(2018, 3, 1))]
    assert planning.next_meeting("virtual", date(2018, 3, 1), held) is None
    assert planning.next_meeting("virtual", date(2018, 3, 1), held, inclusive=True) == held[0]
    assert planning.next_meeting(None, date(2018, 2, 1), held) == held[2]  # any kind; of one day, the first by id
    # the agenda, from its as-of day: the first semester holds its meeting, so the second
    assert planning.expected_slot(rule, date(2018, 4, 1), held) == (date(2018, 7, 1), date(2018, 12, 31))
    assert planning.expected_slot(rule, date(2018, 4, 1), []) == (date(2018, 1, 1), date(2018, 6, 30))
    # a deadline "at the next virtual meeting after" one of 31 May 2018 (SPEC §2)
    deadline = planning.resolve_due(_due_next("virtual", "m"), {"m": _meeting("m", date(2018, 5, 31))},
                                    {"virtual": rule})
    assert (deadline.kind, deadline.day, deadline.slot) == ("expected", date(2018, 12, 31),
                                                          (date(2018, 7, 1), date(2018, 12, 31)))


def test_the_horizon_the_digest_period_and_a_party_language() -> None:
    assert planning.horizon(date(2019, 3, 1)) == date(2020, 12, 31)
    assert planning.horizon(date(2019, 3, 1), date(2021, 5, 1)) == date(2022, 12, 31)
    assert planning.digest_period(date(2019, 1, 17)) == "2019-W03"
    assert planning.DIGEST_WINDOW.days == 7
    assert planning.party_language("en", "es", ("es",)) == "en"
    assert planning.party_language(None, "", ("es", "en")) == "es"
    assert planning.party_language(None, "en", ("es",)) == "en"
    with language("es"):
        assert planning.party_language(None, None, ()) == "es"
    assert planning.unexplained_waiver("waived", "  ") and not planning.unexplained_waiver("waived", "no data")


def _due_next(kind: str, after: str) -> spec.DueSpec:
    return spec.DueSpec("next", meeting=after, next_kind=kind)


def _meeting(mid: str, day: date) -> spec.Meeting:
    return spec.Meeting(mid, mid, "face-to-face", When(day), None, "UTC", "", "", "held", "", spec.Pos(1, 1))


def test_the_look_ahead_window_is_one_rule() -> None:
    # the digest, the board, the agenda and the judging of "at risk" each added the look-ahead
    # days to their day themselves, and the digest tested "today <= due <= soon" twice
    assert _copies(r"timedelta\(days=[\w.]*lookahead_days\)", home=("planning.py",)) == []
    assert _copies(r"today <= \w+(\.due)? <= ", home=("planning.py",)) == []


def test_due_soon_is_the_window_from_today_to_its_end_both_included() -> None:
    today = date(2020, 1, 10)
    end = planning.lookahead_end(today, 14)
    assert end == date(2020, 1, 24)
    assert [planning.due_soon(d, today, end) for d in (None, date(2020, 1, 9), today, end, date(2020, 1, 25))] == [
        False, False, True, True, False]


def test_what_a_closed_action_is_called_is_one_rule() -> None:
    # the feeds decided "every live assignment cancelled / done" themselves, beside action_state
    assert _copies(r"""all\(\w+\.status == ["'](cancelled|done)["']""", home=("planning.py",)) == []
    word = planning.closed_action_word
    assert [word(s) for s in (["done", "open"], ["cancelled", "cancelled"], ["done", "done"], ["done", "waived"],
                              [])] == [None, "cancelled", "done", "closed", "done"]


def test_the_clock_is_read_in_one_place() -> None:
    # timeutil.now_utc is the one clock: a test that sets it sets it for the server, the
    # scheduler, the report page and the feed history too
    assert _copies(r"datetime\.now\(|datetime\.utcnow\(", home=("timeutil.py",)) == []
