"""The shortcuts taken for large workplans (issue 7) answer exactly what the long ways did."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import MINIMAL, REPO, SHIPPED_ACTIONS, database_url, run_cli, scalar, write_project
from workplan import db as wpdb
from workplan import formatting, planning, queries, spec, tables
from workplan.cli.app import App
from workplan.errors import ValidationFailed
from workplan.i18n import language
from workplan.models import Action, Assignment, Event
from workplan.statuses import CLOSED, STATUSES
from workplan.timeutil import from_utc_naive

sys.path.insert(0, str(REPO / "bench"))

import generate  # noqa: E402

RECURRING = MINIMAL + """\
  - id: report
    title: Half-yearly report
    owners: [CR]
    repeat: semester
    from: 2020-01-01
"""


def test_head_revision_read_from_the_files_is_alembics() -> None:
    assert wpdb.head_revision() == wpdb._alembic_script().get_current_head()


def test_libyaml_and_python_read_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    if spec._FAST_LOADER is None:
        pytest.skip("PyYAML is built without libyaml here")
    raw = SHIPPED_ACTIONS.read_text(encoding="utf-8").replace("owners: [TS]", "owners: []", 1)
    fast = spec.loads(raw)
    monkeypatch.setattr(spec, "_FAST_LOADER", None)
    slow = spec.loads(raw)
    assert fast == slow  # every field, positions of actions and progress included
    assert fast.warnings == slow.warnings and fast.warnings


@pytest.mark.parametrize("text", [
    MINIMAL + "  - id: a3\n    title: [unclosed\n",
    MINIMAL + "  - id: a3\n    title: \"bad \\q escape\"\n",
    MINIMAL + "---\nworkplan: 1\n",
    MINIMAL.replace("First action", "First \x07 action"),
    MINIMAL + "extra: " + "[" * 2000 + "]" * 2000 + "\n",
])
def test_errors_read_the_same_with_and_without_libyaml(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    def problems() -> list[str]:
        with pytest.raises(ValidationFailed) as info:
            spec.loads(text, "actions.yaml")
        return [str(p) for p in info.value.problems]

    fast = problems()
    monkeypatch.setattr(spec, "_FAST_LOADER", None)
    assert fast == problems()


def test_flow_depth_bound_is_an_upper_bound() -> None:
    assert spec._flow_depth_bound("a: [[{x: 1}], [2]]") == 3
    assert spec._flow_depth_bound('a: "[[[" [1]') >= 1
    assert spec._flow_depth_bound("a: " + "[" * 5000 + "]" * 5000) > spec._MAX_FAST_NESTING


@pytest.mark.usefixtures("db_backend")
def test_an_unchanged_file_is_not_read_again_until_the_horizon_moves(tmp_path: Path) -> None:
    warned = RECURRING.replace("    owners: [TS]\n", "")  # a2 without owner: a warning on every read
    folder = write_project(tmp_path / "p", warned)
    first = run_cli(folder, "sync", "-q")
    assert first.code == 0 and "a2 has no owner" in first.err
    second = run_cli(folder, "sync", "-q")
    assert (second.code, second.out, second.err) == (0, "nothing changed\n", "")  # not even read
    url = database_url(folder)
    occurrences = int(scalar(url, "SELECT count(*) FROM assignment WHERE action_id = 'report'"))
    # a year later the horizon has moved: the file is read again and next year's occurrence added
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        horizon = conn.execute(sqlalchemy.text("SELECT value FROM meta WHERE key = 'sync_horizon'")).scalar()
        assert horizon is not None
        conn.execute(sqlalchemy.text("UPDATE meta SET value = '2001-12-31' WHERE key = 'sync_horizon'"))
    engine.dispose()
    third = run_cli(folder, "sync", "-q")
    assert third.code == 0 and "a2 has no owner" in third.err
    assert int(scalar(url, "SELECT count(*) FROM assignment WHERE action_id = 'report'")) == occurrences
    assert scalar(url, "SELECT value FROM meta WHERE key = 'sync_horizon'") == horizon


@pytest.mark.usefixtures("db_backend")
def test_recorded_facts_of_a_recurring_action_go_to_successive_occurrences(tmp_path: Path) -> None:
    text = RECURRING + """\
    progress:
      - {party: CR, status: done, on: 2020-06-20}
      - {party: CR, status: done, on: 2020-12-20}
      - {party: CR, status: in_progress, on: 2021-03-01}
"""
    folder = write_project(tmp_path / "p", text)
    assert run_cli(folder, "sync", "-q").code == 0
    rows = run_cli(folder, "list", "--owner", "CR", "--format", "json", "--as-of", "2021-03-02").json()
    report = {r["occurrence"]: r["status"] for r in rows if r["action"] == "report"}
    assert [report[k] for k in sorted(report)][:3] == ["done", "done", "in_progress"]
    url = database_url(folder)
    assert int(scalar(url, "SELECT count(*) FROM event WHERE action_id = 'report'")) == 3
    assert int(scalar(url, "SELECT max(version) FROM assignment WHERE action_id = 'report'")) == 1


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


@settings(max_examples=400, deadline=None)
@given(_json_data)
def test_the_json_writer_is_json_dumps_byte_for_byte(data: object) -> None:
    expected = json.dumps(data, ensure_ascii=False, indent=2, default=formatting._json_default) + "\n"
    assert formatting.dumps(data) == expected


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
