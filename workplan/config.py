"""Settings: workplan.toml < environment (WORKPLAN_SECTION_KEY) < command-line flags.

Every setting is described once, as data, in :data:`SETTINGS`; the README's
configuration table is checked against it by the test suite.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, ProjectNotFound
from .i18n import gettext as _

CONFIG_NAME = "workplan.toml"
ACTIONS_NAME = "actions.yaml"


@dataclass(frozen=True)
class Setting:
    key: str  # section.key
    default: str
    help: str

    @property
    def env(self) -> str:
        return "WORKPLAN_" + self.key.replace(".", "_").upper()


MAX_MEGABYTES = 20  # the default of actions.max_megabytes; also spec.load's when it is given no limit
MEGABYTE = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting("database.url", "", "SQLAlchemy URL; empty means a SQLite file in .workplan/ beside the actions file, synced automatically"),
    Setting("database.busy_timeout", "30", "seconds a command waits for another one's write lock (SQLite) or row lock (PostgreSQL) before giving up"),
    Setting("actions.file", ACTIONS_NAME, "the actions file, relative to the project folder"),
    Setting("actions.max_megabytes", str(MAX_MEGABYTES), "the largest actions file read, in MB: a guard against a runaway or hostile file (10,000 actions are about 5 MB, 100,000 about 50 MB)"),
    Setting("actions.autosync", "auto", "auto: commands sync a changed actions file first only with the embedded database; yes or no to force"),
    Setting("calendars.dir", "calendars", "where `workplan calendars` writes the feeds"),
    Setting("templates.dir", "templates", "the project's template overrides"),
    Setting("server.base_url", "http://localhost:8080", "public URL of `workplan serve`, for links in feeds and emails"),
    Setting("smtp.host", "localhost", "SMTP server for digests"),
    Setting("smtp.port", "25", "SMTP port"),
    Setting("smtp.security", "none", "none, starttls or ssl"),
    Setting("smtp.user", "", "SMTP login; the password comes only from WORKPLAN_SMTP_PASSWORD"),
    Setting("smtp.from", "", "From address of digests"),
    Setting("smtp.timeout", "30", "seconds to wait for the SMTP server to answer before the attempt fails"),
    Setting("smtp.attempts", "3", "attempts per digest when the SMTP server fails in a way that may pass"),
    Setting("smtp.retry_delay", "5", "seconds before the second attempt; doubled before each further one"),
    Setting("digest.schedule", "mon 08:00", "when the weekly digest goes out, in the group's time zone"),
    Setting("digest.lookahead_days", "14", "how many days ahead digests and at-risk checks look"),
    Setting("report.link_days", "30", "days a digest's report link and reply address stay valid; each digest brings a fresh one"),
    Setting("reply.address", "", "the address replies to digests go to, tagged per party and digest as local+KEY@domain; empty: digests carry no Reply-To"),
    # replies by email, polled by `workplan inbox fetch` (workplan/imap.py)
    Setting("inbox.imap.host", "", "IMAP server holding the replies to digests; empty: no polling"),
    Setting("inbox.imap.port", "", "IMAP port; empty: 993 with ssl, 143 with starttls or none"),
    Setting("inbox.imap.security", "ssl", "ssl, starttls, or none (allowed only for a loopback host)"),
    Setting("inbox.imap.user", "", "IMAP login"),
    Setting("inbox.imap.password_env", "WORKPLAN_IMAP_PASSWORD", "the environment variable that holds the IMAP password (never the file)"),
    Setting("inbox.imap.mailbox", "INBOX", "the folder read for replies"),
    Setting("inbox.imap.processed", "workplan-processed", "the folder a processed message is moved to (created if missing)"),
    Setting("inbox.imap.timeout", "30", "seconds to wait for the IMAP server to answer"),
    Setting("inbox.fetch_every", "300", "seconds between two fetches of the IMAP mailbox by the scheduler (when inbox.imap.host is set); 0: never"),
)
_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    values: dict[str, str] = field(default_factory=dict)
    explicit_database: bool = False
    config_file: Path | None = None

    def get(self, key: str) -> str:
        return self.values.get(key, _BY_KEY[key].default)

    @property
    def actions_file(self) -> Path:
        return self.project_dir / self.get("actions.file")

    @property
    def database_url(self) -> str:
        url = self.get("database.url")
        if url:
            return url
        return f"sqlite:///{self.project_dir / '.workplan' / 'workplan.db'}"

    @property
    def auto_sync(self) -> bool:
        """With the embedded default database, read commands sync a changed actions file first;
        with a configured (shared) database, syncing is explicit."""
        choice = self.get("actions.autosync").lower()
        if choice in ("yes", "true"):
            return True
        if choice in ("no", "false"):
            return False
        return not self.explicit_database

    @property
    def calendars_dir(self) -> Path:
        return self.project_dir / self.get("calendars.dir")

    @property
    def templates_dir(self) -> Path:
        return self.project_dir / self.get("templates.dir")

    @property
    def max_file_bytes(self) -> int:
        megabytes = self.int("actions.max_megabytes")
        if megabytes < 1:
            raise ConfigError(_("setting {key} must be a whole number of at least 1, not {raw!r}").format(
                key="actions.max_megabytes", raw=self.get("actions.max_megabytes")))
        return megabytes * MEGABYTE

    def int(self, key: str) -> int:
        raw = self.get(key)
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(_("setting {key} must be a whole number, not {raw!r}").format(key=key, raw=raw)) from None


def find_project(start: Path) -> Path | None:
    """The nearest folder upwards from *start* holding workplan.toml or actions.yaml (as git does)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file() or (folder / ACTIONS_NAME).is_file():
            return folder
    return None


def _read_toml(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(_("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: {exc}").format(path=path, exc=exc)) from None
    out: dict[str, str] = {}
    for section, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(_("{path}: '{section}' must be a [section] table").format(path=path, section=section))
        _read_section(path, section, body, out)
    return out


def _read_section(path: Path, section: str, body: dict[str, object], out: dict[str, str]) -> None:
    for key, value in body.items():
        name = f"{section}.{key}"
        if name == "smtp.password":  # checked first: it is not a setting, on purpose
            raise ConfigError(_("{path}: the SMTP password is read only from WORKPLAN_SMTP_PASSWORD").format(path=path))
        if name == "inbox.imap.password":
            raise ConfigError(_("{path}: the IMAP password is read only from the environment variable named by "
                                "inbox.imap.password_env").format(path=path))
        if isinstance(value, dict) and any(k.startswith(name + ".") for k in _BY_KEY):  # [inbox.imap]
            _read_section(path, name, value, out)
            continue
        if name not in _BY_KEY:
            raise ConfigError(_("{path}: unknown setting {name!r} (known: {known})").format(path=path, name=name, known=', '.join(_BY_KEY)))
        out[name] = str(value)


def load_settings(
    cwd: Path,
    config: Path | None = None,
    db: str | None = None,
    actions: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    if config is not None:
        project = config.resolve().parent
    elif actions is not None:
        project = (find_project(actions.resolve().parent) or actions.resolve().parent)
    else:
        found = find_project(cwd)
        if found is None:
            raise ProjectNotFound(
                _("no {actions} or {config} in {cwd} or any folder above it "
                  "(run `workplan init` to start a project, or pass --file)").format(
                    actions=ACTIONS_NAME, config=CONFIG_NAME, cwd=cwd))
        project = found
    config_file = config if config is not None else project / CONFIG_NAME
    values: dict[str, str] = {}
    if config is not None or config_file.is_file():
        values.update(_read_toml(config_file))
    for setting in SETTINGS:
        if setting.env in env and env[setting.env] != "":
            values[setting.key] = env[setting.env]
    if db is not None:
        values["database.url"] = db
    if actions is not None:
        values["actions.file"] = str(actions.resolve())
    if values.get("actions.autosync", "auto").lower() not in ("auto", "yes", "no", "true", "false"):
        raise ConfigError(_("actions.autosync must be auto, yes or no, not {value!r}").format(value=values['actions.autosync']))
    sec = values.get("smtp.security", "none")
    if sec not in ("none", "starttls", "ssl"):
        raise ConfigError(_("smtp.security must be none, starttls or ssl, not {sec!r}").format(sec=sec))
    return Settings(
        project_dir=project,
        values=values,
        explicit_database=bool(values.get("database.url")),
        config_file=config_file if config_file.is_file() else None,
    )
