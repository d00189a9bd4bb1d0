"""Listings (`list`, `overdue`, `upcoming`, `show`, `log`): what they judge, what they print and how fast
they get there.

- Text for a terminal (issue 18): a title, description or note that carries control characters or
  escape sequences (ESC [2J clears the screen, ESC ] 0; retitles the window, a CR overwrites
  the line) reaches `show`, `list` and `log` as visible escapes, not as bytes the terminal acts on;
  JSON keeps the exact data, and a multi-line description keeps its lines. On both databases.
- Over generated workplans (issue 8): a blocked assignment waits exactly on its dependencies that
  are not closed; `--as-of` in the past never shows an event that happened after it, and statuses
  are those of the last event up to that moment.
- The shortcuts taken for large workplans (issue 7) answer exactly what the long ways did.
- CSV never starts a cell with a formula."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from workplans import CLOSED, HEAD, SLOW, _day, _json, _project

from conftest import MINIMAL, REPO, SHIPPED_ACTIONS, run_cli, write_project
from workplan import formatting, planning, queries, spec, tables
from workplan.formatting import printable, table
from workplan.i18n import language
from workplan.models import Action, Assignment, Event
from workplan.project import Project as App
from workplan.statuses import STATUSES
from workplan.timeutil import from_utc_naive

sys.path.insert(0, str(REPO / "bench"))

import generate  # noqa: E402

EVIL_TITLE = "Evil \x1b[2J\x1b]0;owned\x07 title\rX\x9b31m\x7f"
EVIL_DESCRIPTION = "First line \x1b[31mred\x1b[0m\nsecond line\ttabbed\x05"
EVIL_NOTE = "sent \x1b[8mhidden\x1b[0m\x08\x08 ok\nsecond"
# every C0 control but the newline, DEL and every C1 control
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")

YAML = MINIMAL.replace(
    "    title: First action\n",
    '    title: "Evil \\e[2J\\e]0;owned\\a title\\rX\\x9b31m\\x7f"\n'
    '    description: "First line \\e[31mred\\e[0m\\nsecond line\\ttabbed\\x05"\n')


def test_printable_shows_controls_as_escapes_and_leaves_other_text_alone() -> None:
    assert printable("plain text, áéí ñ “quoted” 中文 — ok") == "plain text, áéí ñ “quoted” 中文 — ok"
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("a\rb\nc\td\x00e\x7ff\x85g\x9bh") == "a\\x0db\\x0ac\\x09d\\x00e\\x7ff\\x85g\\x9bh"
    shown = printable("".join(map(chr, range(0x100))))
    assert not UNSAFE.search(shown) and "\n" not in shown
    # a table measures the escaped text: its columns stay aligned
    out = table(("A", "B"), [("x\x1by", "1"), ("long cell", "2")])
    assert out.splitlines()[1] == "x\\x1by     1"
    assert out.splitlines()[2] == "long cell  2"


@pytest.mark.usefixtures("db_backend")
def test_show_list_and_log_never_print_control_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no title cut to the width of the terminal
    folder = write_project(tmp_path / "p", YAML)
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "done", "a1", "--party", "CR", "--on", "2020-04-02", "--note", EVIL_NOTE).code == 0

    listed = run_cli(folder, "list", "--as-of", "2020-06-01")
    assert listed.code == 0 and "Evil \\x1b[2J\\x1b]0;owned\\x07 title\\x0dX\\x9b31m\\x7f" in listed.out
    shown = run_cli(folder, "show", "a1", "--as-of", "2020-06-01")
    assert shown.code == 0 and "a1: Evil \\x1b[2J" in shown.out
    # the description keeps its two lines; what is inside a line is escaped
    assert "  First line \\x1b[31mred\\x1b[0m\n  second line\\x09tabbed\\x05\n" in shown.out
    log = run_cli(folder, "log", "a1")
    assert log.code == 0 and "sent \\x1b[8mhidden\\x1b[0m\\x08\\x08 ok\\x0asecond" in log.out
    for result in (listed, shown, log):
        assert not UNSAFE.search(result.out), repr(result.out)
    assert len(log.out.splitlines()) == 2  # the header and one event: the note's newline is shown, not kept

    # scripts get the exact data
    data = run_cli(folder, "show", "a1", "--format", "json").json()
    assert data["title"] == EVIL_TITLE and data["description"] == EVIL_DESCRIPTION
    assert run_cli(folder, "list", "--format", "json").json()[0]["title"] == EVIL_TITLE
    assert run_cli(folder, "log", "a1", "--format", "json").json()[-1]["note"] == EVIL_NOTE


# ---------------------------------------------------------------------------
# blocked, and --as-of


OWNERS = [["TS"], ["CR"], ["members"], ["TS", "PA"], []]


@st.composite
def workplans(draw: st.DrawFn) -> tuple[str, dict[str, list[str]], list[tuple[str, ...]]]:
    n = draw(st.integers(2, 6))
    deps: dict[str, list[str]] = {}
    lines = ["meetings:\n  - {id: m1, title: First, kind: face-to-face, start: 2019-12-01, status: held}\n",
             "actions:\n"]
    for i in range(n):
        aid = f"x{i}"
        deps[aid] = sorted(draw(st.sets(st.sampled_from([f"x{j}" for j in range(i)]), max_size=2))) if i else []
        owners = draw(st.sampled_from(OWNERS))
        due = draw(st.one_of(st.none(), st.integers(0, 365).map(_day)))
        lines.append(f"  - id: {aid}\n    title: Action {i}\n    owners: [{', '.join(owners)}]\n"
                     + (f"    due: {due}\n" if due else "")
                     + (f"    depends_on: [{', '.join(deps[aid])}]\n" if deps[aid] else ""))
    changes = draw(st.lists(st.tuples(
        st.sampled_from(sorted(deps)), st.sampled_from(["TS", "CR", "PA", "members"]),
        st.sampled_from(["start", "done", "waive", "cancel", "reopen"]), st.integers(0, 400)), max_size=8))
    commands = [(verb, aid, "--party", party, "--on", _day(day), "--note", "generated")
                for aid, party, verb, day in changes]
    return HEAD + "".join(lines), deps, commands


@SLOW
@given(workplans(), st.lists(st.integers(-5, 410), min_size=1, max_size=3))
def test_blocked_and_as_of_hold_for_generated_workplans(
        plan: tuple[str, dict[str, list[str]], list[tuple[str, ...]]], as_ofs: list[int]) -> None:
    text, deps, commands = plan
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "p", text)
        assert run_cli(folder, "sync", "-q").code == 0
        for command in commands:
            result = run_cli(folder, *command)
            # refused changes (not allowed from the current status, not an owner) are usage errors
            assert result.code in (0, 2), (command, result)
            assert "internal error" not in result.err
        history = _json(folder, "log", "--as-of", "2199-12-31")
        for n in as_ofs:
            moment = _day(n)
            shown = _json(folder, "log", "--as-of", moment)
            assert all(e["on"][:10] <= moment for e in shown), (moment, shown)
            assert shown == [e for e in history if e["on"][:10] <= moment]
            rows = _json(folder, "list", "--as-of", moment)
            _check_statuses(rows, history, moment)
            _check_blocked(rows, deps)


def _check_statuses(rows: list[dict[str, Any]], history: list[dict[str, Any]], moment: str) -> None:
    for row in rows:
        events = [e for e in history if (e["action"], e["party"]) == (row["action"], row["party"])
                  and e["on"][:10] <= moment]
        expected = max(events, key=lambda e: (e["on"], e["id"]))["to"] if events else "open"
        assert row["status"] == expected, (moment, row, events)


def _check_blocked(rows: list[dict[str, Any]], deps: dict[str, list[str]]) -> None:
    open_actions = {r["action"] for r in rows if r["status"] not in CLOSED}
    owned = {r["action"] for r in rows}
    for row in rows:
        if row["status"] in CLOSED:
            assert row["blocked_by"] == [], row
            continue
        # a dependency nobody owns can never be closed, so it blocks too
        waiting = [d for d in deps[row["action"]] if d in open_actions or d not in owned]
        assert row["blocked_by"] == waiting, (row, deps)


# ---------------------------------------------------------------------------
# listings (issue 2: a read command on 10,000 actions well under a second)

_leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
         | st.text() | st.dates())
_json_data = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text() | st.integers() | st.booleans() | st.none() | st.floats(), inner, max_size=4),
    max_leaves=25,
)


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_rows = st.builds(
    queries.Row,
    action=_text, title=_text, party=_text, occurrence=st.sampled_from(["", "2026-01-01"]),
    due=st.none() | st.dates(), due_at=st.none(), due_kind=st.sampled_from(planning.DUE_KINDS),
    due_meeting=st.none() | _text, status=st.sampled_from(STATUSES), overdue=st.booleans(),
    days_overdue=st.none() | st.integers(-5, 10**6), blocked_by=st.lists(_text, max_size=3),
    at_risk=st.booleans(), source_meeting=_text, source_ref=_text,
    visibility=st.sampled_from(["public", "restricted"]), tags=st.lists(_text, max_size=3), theme=_text,
)


@settings(max_examples=400, deadline=None)
@given(_json_data)
def test_the_json_writer_is_json_dumps_byte_for_byte(data: object) -> None:
    expected = json.dumps(data, ensure_ascii=False, indent=2, default=formatting._json_default) + "\n"
    assert formatting.dumps(data) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_rows, max_size=4))
def test_listing_json_is_json_dumps_byte_for_byte(rows: list[queries.Row]) -> None:
    """The fast path of a listing's JSON (formatting.fast_rows_json) writes what json.dumps writes."""
    expected = json.dumps([formatting.row_json(r) for r in rows], ensure_ascii=False, indent=2) + "\n"
    assert formatting.rows(rows, "json") == expected
    assert json.loads(formatting.rows(rows, "json")) == json.loads(expected)


def _long_way(session: Session, ctx: queries.ReadContext, f: queries.Filters) -> list[tuple[object, ...]]:
    """The listing judged row by row against every action's state, as it was before the shortcuts."""
    status = queries.status_expr(session, ctx)
    states = queries.action_states(session, ctx, status)  # every action, no restriction
    deps = queries.dependency_map(session)
    found = []
    rows = queries.assignment_rows(session, ctx, queries.Filters(
        owner=f.owner, tag=f.tag, include_restricted=f.include_restricted))  # no status filter: all rows
    for r in rows:
        j = planning.judge(r.status, r.due, r.due_at, deps.get(r.action, []), states, ctx.as_of, ctx.tz,
                           ctx.lookahead_days)
        if f.status == "overdue" and not j.overdue:
            continue
        if f.status == "pending" and r.status in CLOSED:
            continue
        blocked = list(j.blocked_by) if f.include_restricted else r.blocked_by
        found.append((r.action, r.party, r.occurrence, r.due, r.status, j.overdue, j.days_overdue, blocked,
                      j.at_risk, r.tags, r.title))
    return found


@pytest.mark.parametrize("as_of", ["2026-11-23", "2019-06-30"])  # the status column / the event log
def test_a_large_listing_judges_as_the_long_way(tmp_path: Path, db_backend: str, as_of: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 500 depended-on actions (the states are read through a join on the dependency table,
    not an IN list), each action's columns read once, tags decoded once per text, dates and JSON
    read raw: the same rows, the same judgement, on SQLite and PostgreSQL. With IN lists of 40
    ids, the listings go through many of them, and still say the same."""
    text = generate.generate(2000, seed=5)
    first_title = text[text.index("\n    title: ") + 1:text.index("\n", text.index("\n    title: ") + 1)]
    folder = write_project(tmp_path / "big", text.replace(first_title, "    title: {en: In English, es: En español}"))
    assert run_cli(folder, "sync", "-q").code == 0
    app = App(folder, None, None, None, False)
    try:
        with app.session() as session:
            ctx = app.read_context(session, as_of)
            deps = queries.dependency_map(session)
            every = queries.assignment_rows(session, ctx)
            assert len({d for r in every for d in deps.get(r.action, ())}) > queries._FEW
            # the actions' own columns come through one IN list (MX), IN lists of _FEW ids (what is
            # pending now) or one scan of every action (every row): each is checked below
            pending = {r.action for r in queries.assignment_rows(session, ctx, queries.Filters(status="pending"))}
            assert queries._FEW < len(pending) < len({r.action for r in every}) / 2 or as_of < "2020"
            for few in (queries._FEW, 40):
                monkeypatch.setattr(queries, "_FEW", few)
                for f in (queries.Filters(status="overdue"), queries.Filters(status="pending"),
                          queries.Filters(owner="MX"), queries.Filters(status="overdue", include_restricted=False)):
                    fast = queries.assignment_rows(session, ctx, f)
                    assert [(r.action, r.party, r.occurrence, r.due, r.status, r.overdue, r.days_overdue,
                             r.blocked_by, r.at_risk, r.tags, r.title) for r in fast] == _long_way(session, ctx, f), f
                    assert fast or f.status == "overdue" and as_of < "2020"
            monkeypatch.undo()
            assert any(r.blocked_by for r in every) and any(r.tags for r in every)
            # the columns read raw (dates, JSON) equal what the ORM's own types give
            orm = {(a.action_id, a.party_id, a.occurrence): (a.due_date, list(act.tags))
                   for a, act in session.execute(select(Assignment, Action).join(Action))}
            assert {(r.action, r.party, r.occurrence): (r.due, r.tags) for r in every} == \
                {key: value for key, value in orm.items() if key in {(r.action, r.party, r.occurrence) for r in every}}
            assert all(isinstance(r.due, date) for r in every if r.due is not None)
            with language("es"):
                assert "En español" in {r.title for r in queries.assignment_rows(session, ctx)}
            # the log's moments, read raw and converted once per distinct value, are the ORM's
            log = queries.event_log(session, ctx)
            assert len(log) > 1000
            assert [(e.id, e.occurred_at, e.recorded_at) for e in log] == [
                (e.id, from_utc_naive(e.occurred_at, ctx.tz), from_utc_naive(e.recorded_at, ctx.tz))
                for e in session.scalars(select(Event).where(Event.occurred_at <= ctx.as_of_utc)
                                         .order_by(Event.occurred_at, Event.id))]
        # a read command's bare connection answers as the session does
        with app.reading() as conn:
            assert queries.assignment_rows(conn, ctx) == every
            assert queries.event_log(conn, ctx) == log
    finally:
        app.close()


READ_COMMANDS = [
    ["list", "--owner", "members"], ["show", "workplan-v2-approval"], ["overdue", "--as-of", "2019-01-15"],
    ["upcoming", "--days", "3660", "--as-of", "2018-06-02"], ["log", "statistics-matrix-2018"], ["meetings"],
    ["sync"],  # with nothing changed, it only reads
]


@pytest.mark.usefixtures("db_backend")
def test_read_commands_load_neither_the_orm_nor_the_file_reader(project: Path) -> None:
    """Read commands, and a sync with nothing to do, query the Core tables on a connection
    (``workplan.queries``); importing the ORM and mapping the models cost a fifth of an overdue
    listing of 10,000 actions."""
    import subprocess

    assert run_cli(project, "sync").code == 0
    code = (
        "import sys, json\n"
        "from workplan.cli import main\n"
        "try:\n    main(json.loads(sys.argv[1]))\nexcept SystemExit as exc:\n    code = exc.code\n"
        "loaded = [m for m in ('sqlalchemy.orm', 'workplan.models', 'workplan.services', 'workplan.spec', 'yaml')"
        " if m in sys.modules]\n"
        "print('EXIT:%s LOADED:%s' % (code, ','.join(loaded)))\n"
    )
    for argv in READ_COMMANDS:
        out = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], cwd=project, capture_output=True,
                             text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == "EXIT:0 LOADED:", (argv, out[-500:])
    # a changed file (here only its digest) is still synced first, with the ORM, by the same read command
    (project / "actions.yaml").write_text((project / "actions.yaml").read_text(encoding="utf-8") + "\n",
                                          encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(["overdue"])], cwd=project, capture_output=True,
                         text=True, check=True)
    assert "LOADED:sqlalchemy.orm,workplan.models,workplan.services,workplan.spec,yaml" in out.stdout, out


@pytest.mark.usefixtures("db_backend")
def test_the_program_exits_with_everything_written(project: Path) -> None:
    """The ``workplan`` program (:func:`workplan.cli.run`) leaves what survives a command to the
    operating system instead of collecting it at exit: its output, exit codes and writes are the
    same as :func:`main`'s in this process."""
    import subprocess

    def program(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workplan", *args], cwd=project, capture_output=True, text=True)

    done = program("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-10")
    assert done.returncode == 0, done.stderr
    listed = program("overdue", "--as-of", "2019-01-15", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows == run_cli(project, "overdue", "--as-of", "2019-01-15", "--format", "json").json()
    assert {r["party"] for r in rows if r["action"] == "statistics-matrix-2018"} == {"US", "NI", "DO"}
    unknown = program("show", "no-such-action")
    assert unknown.returncode == run_cli(project, "show", "no-such-action").code != 0
    assert "no-such-action" in unknown.stderr and not unknown.stdout


def test_a_listing_may_name_more_actions_than_a_statement_takes_parameters(project: Path) -> None:
    """A digest lists the actions its party takes part in by name; at 100,000 actions that list
    can pass what one statement may carry (PostgreSQL's protocol: 65,535 parameters; SQLite as
    built here: 250,000), so a long one is applied to the rows read, not sent as an IN list."""
    assert run_cli(project, "sync", "-q").code == 0
    app = App(project, None, None, None, False)
    try:
        with app.reading() as conn:
            ctx = app.read_context(conn, "2019-01-15")
            every = queries.assignment_rows(conn, ctx)
            wanted = ["statistics-matrix-2018", "focal-points"]
            long = wanted + [f"no-such-action-{n}" for n in range(260_000)]
            assert len(long) > queries._FEW
            found = queries.assignment_rows(conn, ctx, queries.Filters(actions=long, status="pending"))
            assert found == queries.assignment_rows(conn, ctx, queries.Filters(actions=wanted, status="pending"))
            assert found == [r for r in every if r.action in wanted and r.status not in CLOSED]
            assert {r.party for r in found if r.action == "statistics-matrix-2018"} == {"BZ", "US", "NI", "DO"}
            # what documents read by a list of actions goes in batches
            named = queries.rows_in(conn, select(tables.action.c.id), tables.action.c.id, long)
            assert sorted(aid for (aid,) in named) == sorted(wanted)
    finally:
        app.close()


@pytest.mark.usefixtures("db_backend")
def test_csv_never_starts_a_formula(tmp_path: Path) -> None:
    text = MINIMAL.replace("title: First action", "title: \"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\"")
    folder = write_project(tmp_path / "p", text)
    out = run_cli(folder, "list", "--format", "csv").out
    for line in out.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "-", "@")), line
    assert "'=HYPERLINK" in out


def test_the_collector_pause_gives_it_back_as_it_was() -> None:
    import gc

    from workplan.gcpause import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller that had paused it keeps it paused
    finally:
        gc.enable()


def test_a_file_read_with_the_collector_paused_is_the_file_read_with_it_running(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    raw = SHIPPED_ACTIONS.read_text(encoding="utf-8")
    paused = spec.loads(raw)
    monkeypatch.setattr(spec, "paused_gc", contextlib.nullcontext)
    assert spec.loads(raw) == paused
