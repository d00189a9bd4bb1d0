"""Templates: packaged defaults, overridden file by file from the project's templates/."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, Runner, run_cli
from workplan.templating import hang


def test_override_of_one_template_is_picked_up(wp: Runner, project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "letterhead.html").write_text(
        '<header class="letterhead"><div class="org">OVERRIDDEN LETTERHEAD</div>{{ group_name }}</header>\n',
        encoding="utf-8")
    html = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", "html").out
    assert "OVERRIDDEN LETTERHEAD" in html
    assert "Items due at this meeting" in html  # the rest still comes from the packaged agenda.html
    md = wp("agenda", "--next-virtual", "--as-of", "2018-06-02").out
    assert "OVERRIDDEN" not in md


def test_override_of_a_whole_agenda(wp: Runner, project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "agenda.md").write_text(
        "Agenda for {{ agenda.meeting.title }}: {{ agenda.due_here | length }} items due\n", encoding="utf-8")
    result = wp("agenda", "--next-virtual", "--as-of", "2018-06-02")
    assert result.out == "Agenda for Virtual meeting of the RCM Ad Hoc Group on Extra-regional Migration: 3 items due\n"


def test_templates_dir_setting(wp: Runner, project: Path) -> None:
    (project / "tpl").mkdir()
    (project / "tpl" / "agenda.txt").write_text("custom {{ agenda.group_name }}\n", encoding="utf-8")
    (project / "workplan.toml").write_text('[templates]\ndir = "tpl"\n', encoding="utf-8")
    assert wp("agenda", "--format", "txt", "--as-of", "2018-06-02").out == (
        "custom RCM Ad Hoc Group on Extra-regional Migration\n")


def test_syntax_error_names_file_and_line(wp: Runner, project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "agenda.md").write_text("line one\n{% for x in %}\n", encoding="utf-8")
    result = wp("agenda", "--as-of", "2018-06-02")
    assert result.code == 2
    assert "templates/agenda.md:2:" in result.err
    assert "Traceback" not in result.err


def test_undefined_name_names_file_and_line(wp: Runner, project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "agenda.md").write_text("one\ntwo\n{{ agenda.no_such_thing }}\n", encoding="utf-8")
    result = wp("agenda", "--as-of", "2018-06-02")
    assert result.code == 2
    assert "templates/agenda.md:3:" in result.err
    assert "no_such_thing" in result.err


def test_error_in_an_included_override_names_that_file(wp: Runner, project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "letterhead.html").write_text("<header>\n{{ missing_name }}\n</header>\n",
                                                           encoding="utf-8")
    result = wp("agenda", "--format", "html", "--as-of", "2018-06-02")
    assert result.code == 2
    assert "templates/letterhead.html:2:" in result.err


def test_shipped_rcm_letterhead_renders(tmp_path: Path) -> None:
    """The repository's own templates/ (the RCM's overrides) work with the shipped actions.yaml."""
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(REPO / "actions.yaml", folder / "actions.yaml")
    shutil.copytree(REPO / "templates", folder / "templates")
    result = run_cli(folder, "agenda", "--next-virtual", "--as-of", "2018-06-02", "--format", "html")
    assert result.code == 0, result.err
    assert "Regional Conference on Migration" in result.out
    digest = run_cli(folder, "digest", "--party", "CR", "--as-of", "2019-01-15", "--out", str(tmp_path / "out"))
    assert digest.code == 0, digest.err


def test_packaged_templates_ship_with_the_package() -> None:
    from importlib.resources import files

    names = {p.name for p in files("workplan").joinpath("templates").iterdir()}
    assert {"agenda.md", "agenda.html", "agenda.txt", "digest.txt", "digest.html", "digest-subject.txt",
            "letterhead.html"} <= names
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'workplan = ["templates/*"' in pyproject


def test_help_does_not_import_the_renderers() -> None:
    import subprocess
    import sys

    code = ("import sys; from workplan.cli import cli; "
            "print(sorted(m for m in ('jinja2', 'css_inline', 'sqlalchemy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_document_commands_have_help_and_are_in_the_readme(wp: Runner) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in ("agenda", "digest", "graph"):
        result = wp(command, "--help")
        assert result.code == 0 and "Usage:" in result.out
        assert f"workplan {command}" in readme


@settings(max_examples=400, deadline=None)
@given(text=st.text(st.sampled_from("ab -\t\u00a0\u2003é·"), max_size=120),
       prefix=st.text(st.sampled_from(" *-:3a"), max_size=20), width=st.integers(10, 90))
def test_hang_is_textwrap_with_a_hanging_indent(text: str, prefix: str, width: int) -> None:
    """Digest lines that fit are written without textwrap (most of a digest's items): the same text
    as textwrap gives, whatever the prefix, spaces first included."""
    words = " ".join(text.split())
    expected = "\n".join(textwrap.wrap(words, width=width, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                                       break_long_words=False, break_on_hyphens=False)) if words else prefix.rstrip()
    assert hang(text, prefix, width) == expected
