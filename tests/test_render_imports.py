"""The layering holds: renderers take plain objects and never load the ORM or open a database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workplan"
RENDERERS = sorted(p.stem for p in (PACKAGE / "render").glob("*.py") if p.stem != "__init__")
# what a renderer must not bring in: the ORM, the models mapped with it, the module that opens sessions
FORBIDDEN = ("sqlalchemy.orm", "workplan.models", "workplan.db", "workplan.queries", "workplan.feeds")

# imports each renderer and, for the feeds, renders a small feed set in two languages through the
# entry point every publisher calls (its lazy imports included); prints what was loaded
_PROBE = """
import importlib, json, sys
from datetime import date, datetime
module = importlib.import_module("workplan.render." + sys.argv[1])
if sys.argv[1] == "ical":
    from workplan.views import FeedAction, FeedAssignment, FeedParty, FeedSet, GroupInfo
    t0 = datetime(2020, 1, 1)
    owner = FeedAssignment("a", "CR", "", date(2020, 4, 1), None, "date", None, "open", None, False, 0, t0)
    fs = FeedSet(GroupInfo("g", "G", "UTC", "example.org"), (FeedParty("CR", "Costa Rica"),), (),
                 (FeedAction("a", "Do it", "", "", "", "", "", {"form": "date"}, "restricted", False, 0, t0,
                             (), (), (owner,)),))
    out = module.render_in_languages({"en": fs, "es": fs}, "en", {"CR": "es"}, todo=True, private=True)
    assert b"Do it" in out["CR.ics"], out
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("renderer", RENDERERS)
def test_a_renderer_loads_neither_the_orm_nor_the_database(renderer: str) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, renderer], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert f"workplan.render.{renderer}" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_renderers_are_all_probed() -> None:
    assert {"agenda", "digest", "graph", "ical"} <= set(RENDERERS)

