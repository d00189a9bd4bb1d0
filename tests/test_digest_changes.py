"""A digest opens with what changed since the last one sent to that party (issue 5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

from mailserver import Recorder, smtp_server
from test_digest import parts
from test_mail import SmtpEnv, smtp_env  # noqa: F401  (the fixture)

from conftest import Runner
from workplan import changes


def _section(text: str) -> str:
    start = text.index("WHAT CHANGED SINCE YOUR LAST DIGEST")
    return text[start:text.index("\nOVERDUE (")]


def test_next_digest_opens_with_the_moved_meeting_and_the_closed_assignment(
        project: Path, wp: Runner, smtp_env: SmtpEnv) -> None:  # noqa: F811
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        for party in ("TS", "BZ"):
            assert wp("digest", "--party", party, "--send", "--lang", "en", "--as-of", "2019-01-15").code == 0
        first_ts, first_bz = (parts(d.message)[0] for d in recorder.delivered)
        assert "WHAT CHANGED" not in first_ts + first_bz  # nothing was sent before: as it always was
        # the first online meeting of the working group moves a week; BZ's matrix arrives
        actions = project / "actions.yaml"
        text = actions.read_text(encoding="utf-8")
        assert text.count("    start: 2016-08-26\n") == 1
        actions.write_text(text.replace("    start: 2016-08-26\n", "    start: 2016-09-02\n"), encoding="utf-8")
        assert wp("sync").code == 0
        done = wp("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-16", "--note", "received")
        assert done.code == 0, done.err
        for party in ("TS", "BZ"):
            result = wp("digest", "--party", party, "--send", "--lang", "en", "--as-of", "2019-01-22")
            assert result.code == 0, result.err
    assert len(recorder.delivered) == 4
    ts_text, ts_html = parts(recorder.delivered[2].message)
    bz_text, _ = parts(recorder.delivered[3].message)

    # the group-wide digest: both changes, first thing after the counts
    assert ts_text.index("WHAT CHANGED SINCE YOUR LAST DIGEST") < ts_text.index("\nOVERDUE (")
    top = _section(ts_text)
    assert "(Tuesday 15 January 2019, 2019-W03)" in top or "2019-W03" in top
    moved = top[top.index("Deadline moved:"):]
    flat = " ".join(moved.split())
    assert re.search(r"\[twg-establish\] TS: 2016-08-26 -> 2016-09-02 \(meeting twg-2016-08 moved\)", flat), flat
    assert re.search(r"\[ts-online-folder\] TS: 2016-08-26 -> 2016-09-02", flat)
    closed = " ".join(top[top.index("Closed:"):].split())
    assert "[statistics-matrix-2018] BZ: done" in closed
    assert "[statistics-matrix-2018] BZ: done" not in " ".join(top[:top.index("Closed:")].split())
    # the HTML part says the same, in its own block before the overdue table
    assert ts_html.index('id="changes"') < ts_html.index('id="overdue"')
    assert re.search(r'data-action="twg-establish" data-parties="TS" data-change="moved"', ts_html)
    assert re.search(r'data-action="statistics-matrix-2018" data-parties="BZ" data-change="closed"', ts_html)

    # BZ's own digest: its closed matrix; nothing about the secretariat's deadlines
    bz_top = " ".join(_section(bz_text).split())
    assert "[statistics-matrix-2018] BZ: done" in bz_top
    assert "twg-establish" not in bz_top


def _row(action: str, party: str, status: str, due: date | None, overdue: bool = False) -> SimpleNamespace:
    return SimpleNamespace(action=action, title=action.title(), party=party, occurrence="", due=due,
                           due_kind="date" if due else "none", due_meeting=None, status=status, overdue=overdue)


def test_compare_names_every_kind_of_change() -> None:
    before = changes.snapshot([
        _row("kept", "CR", "open", date(2020, 5, 1)),
        _row("fan", "CR", "open", date(2020, 5, 1)),
        _row("fan", "PA", "open", date(2020, 5, 1)),
        _row("closing", "CR", "in_progress", date(2020, 6, 1)),
        _row("again", "CR", "done", date(2020, 6, 1)),
        _row("late", "CR", "open", date(2020, 4, 20)),
        _row("gone", "CR", "open", None),
    ])
    after = changes.snapshot([
        _row("kept", "CR", "open", date(2020, 5, 1)),
        _row("fan", "CR", "open", date(2020, 5, 8)),
        _row("fan", "PA", "open", date(2020, 5, 8)),
        _row("closing", "CR", "waived", date(2020, 6, 1)),
        _row("again", "CR", "open", date(2020, 6, 1)),
        _row("late", "CR", "open", date(2020, 4, 20), overdue=True),
        _row("fresh", "CR", "open", date(2020, 7, 1)),
        _row("fresh-done", "CR", "done", date(2020, 7, 1)),
    ])
    c = changes.compare(before, after, datetime(2020, 4, 13, tzinfo=UTC), "2020-W16")
    assert [(x.action, x.parties, x.before, x.after) for x in c.moved] == [
        ("fan", ("CR", "PA"), "2020-05-01", "2020-05-08")]  # one line for the fanned-out action
    assert [(x.action, x.after) for x in c.closed] == [("closing", "waived")]
    assert [(x.action, x.before, x.after) for x in c.reopened] == [("again", "done", "open")]
    assert [x.action for x in c.newly_overdue] == ["late"]
    assert [(x.action, x.after) for x in c.new] == [("fresh", "2020-07-01")]  # not the one already closed
    assert [x.action for x in c.withdrawn] == ["gone"]
    assert c.count == 6
    assert changes.compare(after, after, datetime(2020, 4, 13, tzinfo=UTC), "2020-W16").count == 0
