"""Every command has help and is documented in the README; --help stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO
from workplan.cli import cli
from workplan.config import SETTINGS

README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_has_help_and_is_in_readme(name: str) -> None:
    command = cli.commands[name]
    assert command.help and len(command.help.strip()) > 20, name
    assert f"workplan {name}" in README, f"`workplan {name}` is not documented in README.md"


def test_every_setting_is_documented() -> None:
    for setting in SETTINGS:
        assert f"`{setting.key}`" in README, setting.key
        assert setting.env in README, setting.env


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from workplan.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'icalendar', 'jinja2', 'apscheduler', 'yaml', 'babel', 'flask', 'werkzeug') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"
