"""actions.yaml → validated plain objects, every finding positioned as FILE:LINE:COL.

The file is *composed* (not constructed) with PyYAML's safe loader, so that each
value keeps its line and column, duplicate keys can be seen, no Python object is
ever built from a tag, and scalars keep their text: ``NO`` (Norway) stays a
string, and ``2016-07-28`` is parsed by our own date rules.

Nothing here touches the database: :func:`load` returns a :class:`Document` or
raises :class:`ValidationFailed` listing every error at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .config import MAX_MEGABYTES, MEGABYTE
from .errors import HistoryError, Problem, ValidationFailed
from .gcpause import paused_gc
from .i18n import gettext as _
from .planning import (
    CadenceRule,
    Holding,
    RecurrenceError,
    Role,
    derivation_cycle,
    first_occurrence,
    horizon,
    occurrences,
    overlapping_holdings,
    party_id_clashes,
    plan,
    progress_subject,
    quote_in_document,
    source_day,
    status_moment,
    unexplained_waiver,
    unheld,
)
from .statuses import STATUSES
from .timeutil import PERIODS, When, now_utc, parse_offset, parse_when, start_of_day, zone

FORMAT_VERSION = 1
ROLE_KIND = "role"  # the kind a role's party entry has: it has holders, not mailboxes
PARTY_KINDS = ("secretariat", "presidency", "member", "observer", "organization", "body", "other")
MEETING_KINDS = ("face-to-face", "virtual", "vice-ministerial", "other", "external")
# meetings of other bodies (``kind: external`` or ``body:``) are never the group's cadence
CADENCE_KINDS = tuple(k for k in MEETING_KINDS if k != "external")
MEETING_STATUSES = ("planned", "held", "cancelled")
VISIBILITIES = ("public", "restricted")
CADENCE_PERIODS = ("year", "semester", "quarter")
# what a meeting did with a paragraph of its conclusions (SPEC §7)
CONCLUSION_KINDS = ("agreed", "decided", "took-note", "requested", "recommended", "thanked", "other")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s<>\",;:]+@[^@\s<>\",;:]+\.[^@\s<>\",;:]+$")
_STD_TAG = "tag:yaml.org,2002:"
_SAFE_TAGS = frozenset(_STD_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq"))
MAX_FILE_BYTES = MAX_MEGABYTES * MEGABYTE  # the default of the setting actions.max_megabytes
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    timezone: str
    domain: str
    languages: tuple[str, ...] = ()  # what the file is written in; the first is what a plain string is in
    names: dict[str, str] = field(default_factory=dict)  # the name by language, when given so


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    kind: str
    emails: tuple[str, ...]
    pos: Pos
    lang: str = ""  # the language of its digests and feed; "" for the group's first
    names: dict[str, str] = field(default_factory=dict)  # the name by language, when given so


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    kind: str
    start: When
    end: When | None
    timezone: str
    location: str
    url: str
    status: str
    description: str
    pos: Pos
    # field → language → text, for the fields written as a mapping by language ({en: …, es: …})
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    body: str = ""  # another body's meeting (``body:``): shown, never counted in the group's cadence

    @property
    def start_day(self) -> date:
        """The day it starts on, as the rules of :mod:`workplan.planning` read it."""
        return self.start.day


@dataclass(frozen=True)
class Source:
    meeting: str
    ref: str
    text: str


DueForm = Literal["date", "meeting", "next", "none"]


@dataclass(frozen=True)
class DueSpec:
    """A deadline as written; :mod:`planning` resolves it to a date."""

    form: DueForm
    when: When | None = None
    meeting: str = ""
    next_kind: str = ""
    offset_days: int = 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"form": self.form}
        if self.when is not None:
            out["when"] = self.when.iso()
        if self.meeting:
            out["meeting"] = self.meeting
        if self.next_kind:
            out["next"] = self.next_kind
        if self.offset_days:
            out["offset_days"] = self.offset_days
        return out


@dataclass(frozen=True)
class Recurrence:
    repeat: str = ""
    rrule: str = ""
    start: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Progress:
    party: str
    status: str
    on: datetime
    note: str
    by: str
    occurrence: date | None
    pos: Pos
    day_only: bool = False  # `on` was written as a date (its start of day), not as a moment
    on_pos: Pos = Pos(1, 1)

    @property
    def key(self) -> str:
        """Identifies the fact, so that a sync imports it once."""
        occ = self.occurrence.isoformat() if self.occurrence else ""
        return f"{self.party}|{occ}|{self.status}|{self.on.isoformat()}"


@dataclass(frozen=True)
class Action:
    id: str
    title: str
    description: str
    source: Source | None
    theme: str
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    with_: tuple[str, ...]
    due: DueSpec
    depends_on: tuple[str, ...]
    recurrence: Recurrence | None
    visibility: str
    progress: tuple[Progress, ...]
    pos: Pos
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    conclusion: str = ""  # the id of the conclusion it carries out ('' when none is named)
    requested_by: tuple[str, ...] = ()  # who asked for it (parties or sets), apart from `with`


@dataclass(frozen=True)
class Conclusion:
    """A paragraph a meeting concluded, task or not: "took note", "agreed", "thanked"…"""

    id: str
    kind: str
    source: Source
    requested_by: tuple[str, ...]
    addressed_to: tuple[str, ...]
    pos: Pos


@dataclass
class Document:
    path: str
    group: Group
    parties: dict[str, Party]
    sets: dict[str, tuple[str, ...]]
    meetings: dict[str, Meeting]
    cadence: list[CadenceRule]
    actions: dict[str, Action]
    warnings: list[Problem] = field(default_factory=list)
    conclusions: dict[str, Conclusion] = field(default_factory=dict)  # in the order of the file
    roles: dict[str, Role] = field(default_factory=dict)  # ``roles:``; each is also in ``parties``, kind "role"

    def expand(self, names: Iterable[str]) -> list[str]:
        """Party ids named directly or through a set, in order, without repeats."""
        out: list[str] = []
        for name in names:
            for party in self.sets.get(name, (name,)):
                if party not in out:
                    out.append(party)
        return out


# ---------------------------------------------------------------------------
# reading nodes


class _What:
    """What a message is about ("title of action x"), translated only when a message prints it.

    One is built for most fields of every action, so it must cost next to nothing until then.
    """

    __slots__ = ("message", "values")

    def __init__(self, message: str, values: dict[str, object]) -> None:
        self.message = message
        self.values = values

    def __str__(self) -> str:
        return _(self.message).format(**self.values)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


What = str | _What


def N_(message: str, **values: object) -> _What:  # noqa: N802 - the name gettext's extractors know
    """Mark *message* for the catalogs; translate it (and fill in *values*) when it is printed."""
    return _What(message, values)

# the fields whose name has no id in it, built once
_W_ACTION_ID = N_("action id")
_W_AN_ACTION = N_("an action")
_W_A_CADENCE_RULE = N_("a cadence rule")
_W_A_CONCLUSION = N_("a conclusion")
_W_A_ROLE = N_("a role")
_W_ROLE_ID = N_("role id")
_W_CONCLUSION_ID = N_("conclusion id")
_W_A_MEETING = N_("a meeting")
_W_A_PARTY = N_("a party")
_W_CADENCE_FROM = N_("cadence 'from'")
_W_CADENCE_KIND = N_("cadence kind")
_W_CADENCE_PERIOD = N_("cadence period")
_W_DUE_MEETING = N_("due meeting")
_W_GROUP_DOMAIN = N_("group domain")
_W_GROUP_ID = N_("group id")
_W_GROUP_LANGUAGES = N_("group languages")
_W_GROUP_NAME = N_("group name")
_W_GROUP_TIMEZONE = N_("group timezone")
_W_MEETING_ID = N_("meeting id")
_W_PARTY_ID = N_("party id")
_W_PROGRESS_DATE = N_("progress date")
_W_PROGRESS_NOTE = N_("progress note")
_W_PROGRESS_OCCURRENCE = N_("progress occurrence")
_W_PROGRESS_PARTY = N_("progress party")
_W_SET_NAME = N_("set name")
_W_SOURCE_REF = N_("source ref")
_W_SOURCE_TEXT = N_("source text")
_W_THE_ACTIONS_FILE = N_("the actions file")


class _Reader:
    """Walks composed YAML nodes, collecting problems instead of stopping at the first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, node: Node | Pos | None, message: str) -> None:
        self.problems.append(self._problem(node, message, warning=False))

    def warn(self, node: Node | Pos | None, message: str) -> None:
        self.problems.append(self._problem(node, message, warning=True))

    def _problem(self, node: Node | Pos | None, message: str, warning: bool) -> Problem:
        pos = self.pos(node) if not isinstance(node, Pos) else node
        if len(message) > MAX_MESSAGE:  # a pasted page quoted back whole would bury the sentence
            message = message[: MAX_MESSAGE - 60] + " … " + message[-57:]
        return Problem(self.path, pos.line, pos.column, message, warning)

    @staticmethod
    def pos(node: Node | None) -> Pos:
        if node is None:
            return Pos(1, 1)
        mark = node.start_mark
        return Pos(mark.line + 1, mark.column + 1)

    def check_tag(self, node: Node) -> bool:
        if node.tag not in _SAFE_TAGS:
            self.error(node, _("YAML tag {tag!r} is not allowed in an actions file").format(tag=node.tag))
            return False
        return True

    def mapping(
        self,
        node: Node,
        what: What,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> dict[str, Node] | None:
        if not self.check_tag(node):
            return None
        if not isinstance(node, MappingNode):
            self.error(node, _("{what} must be a mapping of keys to values").format(what=what))
            return None
        allowed = tuple(allowed)
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, _("{what} has a key that is not a plain name").format(what=what))
                continue
            key = str(key_node.value)
            if key == "<<":
                self.error(key_node, _("{what} uses a YAML merge key ('<<'), which is not supported").format(what=what))
                continue
            if key in out:
                self.error(key_node, _("{what} has the key {key!r} twice").format(what=what, key=key))
                continue
            if key not in allowed:
                hint = _(" (expected one of: {keys})").format(keys=", ".join(allowed)) if allowed else ""
                self.error(key_node, _("unknown key {key!r} in {what}{hint}").format(key=key, what=what, hint=hint))
                continue
            out[key] = value_node
        for key in required:
            if key not in out or _is_null(out[key]):
                self.error(node, _("{what} lacks the required key {key!r}").format(what=what, key=key))
        return out

    def scalar(self, node: Node | None, what: What) -> str | None:
        if node is None or _is_null(node):
            return None
        if not self.check_tag(node):
            return None
        if not isinstance(node, ScalarNode):
            self.error(node, _("{what} must be a single value, not a list or mapping").format(what=what))
            return None
        if "\0" in node.value:  # YAML's "\0" escape: PostgreSQL refuses it in text, so sync would fail
            self.error(node, _("{what} contains a NUL character (\\0), which the database cannot store").format(what=what))
            return None
        return str(node.value)

    def text(self, node: Node | None, what: What, default: str = "") -> str:
        value = self.scalar(node, what)
        return default if value is None else value

    def ident(self, node: Node | None, what: What) -> str | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if not _ID_RE.match(value):
            self.error(node, _("{what} {value!r} is not a valid id (letters, digits, '-', '_', '.'; at most 64)").format(what=what, value=value))
            return None
        return value

    def choice(self, node: Node | None, what: What, choices: tuple[str, ...], default: str) -> str:
        value = self.scalar(node, what)
        if value is None:
            return default
        if value not in choices:
            self.error(node, _("{what} {value!r} is not one of: {choices}").format(what=what, value=value, choices=', '.join(choices)))
            return default
        return value

    def items(self, node: Node | None, what: What) -> list[Node]:
        """The items of a list; a single scalar counts as a one-item list."""
        if node is None or _is_null(node):
            return []
        if not self.check_tag(node):
            return []
        if isinstance(node, ScalarNode):
            return [node]
        if not isinstance(node, SequenceNode):
            self.error(node, _("{what} must be a list").format(what=what))
            return []
        return list(node.value)

    def names(self, node: Node | None, what: What) -> list[tuple[str, Node]]:
        out: list[tuple[str, Node]] = []
        for item in self.items(node, what):
            value = self.scalar(item, N_("an item of {what}", what=what))
            if value is not None:
                out.append((value, item))
        return out

    def date_value(self, node: Node | None, what: What, tz_name: str) -> date | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        try:
            when = parse_when(value, zone(tz_name))
        except ValueError as exc:
            self.error(node, _("{what}: {exc}").format(what=what, exc=exc))
            return None
        if when.precision != "date":
            self.error(node, _("{what} must be a date (YYYY-MM-DD), not {value!r}").format(what=what, value=value))
            return None
        return when.day


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STD_TAG + "null"


# ---------------------------------------------------------------------------
# the document


def load(path: Path | str, max_bytes: int = MAX_FILE_BYTES, now: datetime | None = None,
         sources: Path | None = None) -> Document:
    """Read and validate an actions file; raise ValidationFailed with every error.

    A file over *max_bytes* (the setting ``actions.max_megabytes``) is refused before it is read.
    *now* (default: the clock) is the moment progress facts may not be dated after. *sources*
    (default: ``docs/sources`` beside the file) holds the meeting documents quotes are checked
    against (:func:`source_documents`).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationFailed(
                [Problem(str(path), 1, 1, _("the file is {size} MB; actions files are limited to {limit} MB "
                                            "(setting actions.max_megabytes)").format(
                    size=f"{size / (1024 * 1024):.1f}", limit=max_bytes // (1024 * 1024)))]
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed([Problem(str(path), 1, 1, _("cannot read the file: {strerror}").format(strerror=exc.strerror))]) from None
    folder = path.parent / "docs" / "sources" if sources is None else sources
    return loads(raw, str(path), now, source_documents(folder, path.parent))


def source_documents(folder: Path, base: Path | None = None) -> dict[str, tuple[Path, str]]:
    """The meeting documents in *folder*: ``MEETING.txt`` or ``MEETING.LANG.txt`` (the first in
    name order when there are several), by meeting id, with their text; each file's path as
    messages show it (relative to *base* when it is inside). An unreadable file is left out:
    the quotes of its meeting are then not checked."""
    out: dict[str, tuple[Path, str]] = {}
    try:
        files = sorted(folder.glob("*.txt"))
    except OSError:
        return out
    for file in files:
        meeting = file.name.split(".", 1)[0]
        if meeting in out:
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        try:
            shown = file.relative_to(base) if base is not None else file
        except ValueError:
            shown = file
        out[meeting] = (shown, text)
    return out


def loads(raw: bytes | str, path: str = "actions.yaml", now: datetime | None = None,
          sources: dict[str, tuple[Path, str]] | None = None) -> Document:
    """:func:`load` of text already read; quotes are checked against *sources* (by meeting id:
    the document's file and text) where they have one."""
    with paused_gc():
        return _loads(raw, path, now_utc() if now is None else now, sources or {})


def _loads(raw: bytes | str, path: str, now: datetime, sources: dict[str, tuple[Path, str]]) -> Document:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                [Problem(path, 1, 1, _("the file is not UTF-8 text (byte {start})").format(start=exc.start))]
            ) from None
    try:
        root = _compose(raw)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ValidationFailed([Problem(path, line, col, _("YAML syntax error: {problem}").format(problem=problem))]) from None
    except yaml.reader.ReaderError as exc:
        # a control character pasted from a word processor: point at it
        before = raw[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        raise ValidationFailed([Problem(path, line, column, _("the file contains the control character U+{code:04X}, which YAML does not allow").format(code=exc.character) if isinstance(exc.character, int) else _("the file contains a character YAML does not allow ({reason})").format(reason=exc.reason))]) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationFailed([Problem(path, 1, 1, _("YAML error: {first}").format(first=first))]) from None
    except RecursionError:
        raise ValidationFailed([Problem(path, 1, 1, _("the YAML is nested too deeply"))]) from None
    reader = _Reader(path)
    if root is None:
        raise ValidationFailed([Problem(path, 1, 1, _("the file is empty; it needs at least 'workplan: 1' and 'group:'"))])
    doc = _Builder(reader, now, sources).document(root)
    errors = [p for p in reader.problems if not p.warning]
    if errors or doc is None:
        raise ValidationFailed(sorted(reader.problems, key=lambda p: (p.line, p.column)))
    doc.warnings = sorted(reader.problems, key=lambda p: (p.line, p.column))
    return doc


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _fast_loader() -> type | None:
    """libyaml's safe loader (when PyYAML was built with it), resolving only what we read:
    null or not. Every scalar is read as text here, so the int/float/bool/timestamp regexes
    that PyYAML runs on each plain scalar, in Python, would be wasted."""
    base = getattr(yaml, "CSafeLoader", None)
    if base is None:
        return None

    class FastLoader(base):  # type: ignore[misc, valid-type]
        def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
            if kind is ScalarNode:
                return _STD_TAG + "null" if implicit[0] and value in _NULLS else _STD_TAG + "str"
            return _STD_TAG + ("seq" if kind is SequenceNode else "map")

    return FastLoader


_FAST_LOADER = _fast_loader()
_MAX_FAST_NESTING = 1000
_NESTING = str.maketrans({"[": "(", "{": "(", "]": ")", "}": ")"})


def _compose(raw: str) -> Node | None:
    """Compose with libyaml when it is there (some 30 times faster on a large file), else in
    Python. Its nodes carry the same line and column marks. A file libyaml rejects is composed
    again in Python, so that errors read the same with or without libyaml; so is a file whose
    brackets might nest deeper than libyaml's recursion can take (it would crash the process)."""
    if _FAST_LOADER is not None and _flow_depth_bound(raw) <= _MAX_FAST_NESTING:
        try:
            return yaml.compose(raw, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(raw, Loader=yaml.SafeLoader)


def _flow_depth_bound(raw: str) -> int:
    """An upper bound of how deep flow collections nest (brackets inside quotes count too):
    innermost pairs are removed level by level, at C speed."""
    brackets = re.sub(r"[^\[\]{}]+", "", raw).translate(_NESTING)
    levels = 0
    while "()" in brackets and levels <= _MAX_FAST_NESTING:
        brackets = brackets.replace("()", "")
        levels += 1
    return levels + brackets.count("(")


_TOP_KEYS = ("workplan", "group", "parties", "sets", "roles", "meetings", "cadence", "conclusions", "actions")
_GROUP_KEYS = ("id", "name", "timezone", "domain", "languages")
_PARTY_KEYS = ("id", "name", "kind", "email", "lang")
# the languages workplan writes its documents in (catalogs in workplan/locale)
LANGUAGES = ("en", "es")
_MEETING_KEYS = ("id", "title", "kind", "start", "end", "timezone", "location", "url", "status", "description",
                 "body")
_CADENCE_KEYS = ("kind", "per", "at_least", "from", "report")
_ACTION_KEYS = (
    "id", "title", "description", "source", "theme", "tags", "owners", "with", "due",
    "depends_on", "repeat", "rrule", "from", "until", "visibility", "progress", "conclusion", "requested_by",
)
_ROLE_KEYS = ("id", "name", "holders", "derived_from")
_HOLDER_KEYS = ("party", "from", "to")
_CONCLUSION_KEYS = ("id", "kind", "source", "requested_by", "addressed_to")
_SOURCE_KEYS = ("meeting", "ref", "text")
_DUE_KEYS = ("meeting", "next", "after", "offset")
_PROGRESS_KEYS = ("party", "status", "on", "note", "by", "occurrence")


class _Builder:
    def __init__(self, reader: _Reader, now: datetime, sources: dict[str, tuple[Path, str]] | None = None) -> None:
        self.r = reader
        self.now = now
        self.sources = sources or {}
        # conclusions declared with an error of their own: an action naming one is not "unknown" too
        self.broken_conclusions: set[str] = set()
        self.conclusions: dict[str, Conclusion] = {}
        self.tz_name = "UTC"
        self.languages: tuple[str, ...] = ()
        # meetings declared with an error of their own: a reference to one is not "unknown" too
        self.broken_meetings: set[str] = set()

    def document(self, root: Node) -> Document | None:
        r = self.r
        top = r.mapping(root, _W_THE_ACTIONS_FILE, _TOP_KEYS, required=("workplan", "group"))
        if top is None:
            return None
        version = r.scalar(top.get("workplan"), "workplan")
        if version is not None and version != str(FORMAT_VERSION):
            r.error(top["workplan"], _("format version {version!r} is not supported (this workplan reads version {format_version})").format(version=version, format_version=FORMAT_VERSION))
        group = self.group(top.get("group"))
        if group is None:
            return None
        self.tz_name = group.timezone
        parties = self.parties(top.get("parties"))
        sets = self.sets(top.get("sets"), parties)
        roles = self.roles(top.get("roles"), parties, sets)
        for role_party in roles[1]:  # a role can be named wherever a party can
            parties[role_party.id] = role_party
        meetings = self.meetings(top.get("meetings"))
        cadence = self.cadence(top.get("cadence"))
        self.conclusions = self.conclusion_list(top.get("conclusions"), parties, sets, meetings)
        actions = self.actions(top.get("actions"), parties, sets, meetings, cadence)
        doc = Document(r.path, group, parties, sets, meetings, cadence, actions, conclusions=self.conclusions,
                       roles=roles[0])
        if doc.roles:
            self.warn_unheld(doc)
        return doc

    def warn_unheld(self, doc: Document) -> None:
        """A role that owns something due on a day nobody holds it: a warning, not an error (the
        secretariat gets the item meanwhile)."""
        last = max((m.start_day for m in doc.meetings.values()), default=None)
        _deadlines, planned = plan(doc, horizon(self.now.date(), last))
        for aid, rid, day in unheld(planned, doc.roles):
            self.r.warn(doc.actions[aid].pos, _("action {aid}: nobody holds role {rid} on {day}, its deadline; "
                                                 "the secretariat gets it meanwhile").format(aid=aid, rid=rid, day=day))

    # -- sections ----------------------------------------------------------

    def group(self, node: Node | None) -> Group | None:
        r = self.r
        if node is None:
            return None
        m = r.mapping(node, "group", _GROUP_KEYS, required=("id", "name", "timezone"))
        if m is None:
            return None
        gid = r.ident(m.get("id"), _W_GROUP_ID) or "group"
        tz_name = r.text(m.get("timezone"), _W_GROUP_TIMEZONE, "UTC")
        try:
            zone(tz_name)
        except ValueError as exc:
            r.error(m.get("timezone"), _("group timezone: {exc}").format(exc=exc))
            tz_name = "UTC"
        domain = r.text(m.get("domain"), _W_GROUP_DOMAIN, "workplan.invalid")
        languages: list[str] = []
        for code, lnode in r.names(m.get("languages"), _W_GROUP_LANGUAGES):
            if code not in LANGUAGES:
                r.error(lnode, _("group languages: {code!r} is not a language workplan writes ({languages})").format(code=code, languages=', '.join(LANGUAGES)))
            elif code not in languages:
                languages.append(code)
        self.languages = tuple(languages)
        names: dict[str, dict[str, str]] = {}
        name = self.texts(m.get("name"), _W_GROUP_NAME, names, "name", gid, plain_is_first=False)
        if any(ord(ch) < 32 or ch == "\x7f" for ch in " ".join([name, domain, *names.get("name", {}).values()])):
            # both go into every digest's headers (Subject, From, Message-ID)
            r.error(m["name"] if "name" in m and name != gid else node,
                    _("the group's name or domain contains a line break or control character"))
            name, domain, names = gid, "workplan.invalid", {}
        return Group(gid, name, tz_name, domain, tuple(languages), names.get("name", {}))

    def parties(self, node: Node | None) -> dict[str, Party]:
        r = self.r
        out: dict[str, Party] = {}
        id_nodes: dict[str, Node] = {}
        for item in r.items(node, "parties"):
            m = r.mapping(item, _W_A_PARTY, _PARTY_KEYS, required=("id",))
            if m is None:
                continue
            pid = r.ident(m.get("id"), _W_PARTY_ID)
            if pid is None:
                continue
            if pid in out:
                r.error(m["id"], _("party {pid!r} is defined twice (first on line {line})").format(pid=pid, line=out[pid].pos.line))
                continue
            id_nodes[pid] = m["id"]
            emails = []
            for address, enode in r.names(m.get("email"), N_("email of party {pid}", pid=pid)):
                if not _EMAIL_RE.match(address):
                    r.error(enode, _("party {pid}: {address!r} is not an email address").format(pid=pid, address=address))
                else:
                    emails.append(address)
            names: dict[str, dict[str, str]] = {}
            name = self.texts(m.get("name"), N_("name of party {pid}", pid=pid), names, "name", pid, plain_is_first=False)
            if any(ord(ch) < 32 or ch == "\x7f" for ch in " ".join([name, *names.get("name", {}).values()])):
                # the name goes into email headers (To:), where a line break would inject headers
                r.error(m["name"], _("party {pid}: the name contains a line break or control character").format(pid=pid))
                name = pid
            out[pid] = Party(
                pid,
                name,
                r.choice(m.get("kind"), N_("kind of party {pid}", pid=pid), PARTY_KINDS, "other"),
                tuple(emails),
                r.pos(item),
                self.language(m.get("lang"), N_("lang of party {pid}", pid=pid)),
                names.get("name", {}),
            )
        for pid, message in party_id_clashes(out):
            r.error(id_nodes[pid], message)
        return out

    def sets(self, node: Node | None, parties: dict[str, Party]) -> dict[str, tuple[str, ...]]:
        r = self.r
        out: dict[str, tuple[str, ...]] = {}
        if node is None or _is_null(node):
            return out
        if not r.check_tag(node):
            return out
        if not isinstance(node, MappingNode):
            r.error(node, _("sets must be a mapping of set names to lists of parties"))
            return out
        for key_node, value_node in node.value:
            name = r.ident(key_node, _W_SET_NAME)
            if name is None:
                continue
            if name in out:
                r.error(key_node, _("set {name!r} is defined twice").format(name=name))
                continue
            if name in parties:
                r.error(key_node, _("set {name!r} has the same name as a party").format(name=name))
                continue
            members: list[str] = []
            for pid, pnode in r.names(value_node, N_("set {name}", name=name)):
                if pid not in parties:
                    r.error(pnode, _("set {name!r} names unknown party {pid!r}").format(name=name, pid=pid))
                elif pid not in members:
                    members.append(pid)
            out[name] = tuple(members)
        return out

    # -- roles that rotate (``roles:``) -------------------------------------

    def roles(self, node: Node | None, parties: dict[str, Party],
              sets: dict[str, tuple[str, ...]]) -> tuple[dict[str, Role], list[Party]]:
        """The roles, and a party entry for each so that owners, ``with`` and ``requested_by`` may name it."""
        r = self.r
        out: dict[str, Role] = {}
        entries: list[Party] = []
        derived_nodes: dict[str, Node] = {}
        for item in r.items(node, "roles"):
            m = r.mapping(item, _W_A_ROLE, _ROLE_KEYS, required=("id",))
            if m is None:
                continue
            rid = r.ident(m.get("id"), _W_ROLE_ID)
            if rid is None:
                continue
            if rid in out:
                r.error(m["id"], _("role {rid!r} is defined twice").format(rid=rid))
                continue
            if rid in parties or rid in sets:
                r.error(m["id"], _("role {rid!r} has the same id as a party or set").format(rid=rid))
                continue
            holdings: list[Holding] = []
            hnodes: list[Node] = []
            for hitem in r.items(m.get("holders"), N_("holders of role {rid}", rid=rid)):
                hm = r.mapping(hitem, N_("a holder of role {rid}", rid=rid), _HOLDER_KEYS, required=("party", "from"))
                if hm is None:
                    continue
                pid = r.scalar(hm.get("party"), N_("party of a holder of role {rid}", rid=rid))
                start = r.date_value(hm.get("from"), N_("from of a holder of role {rid}", rid=rid), self.tz_name)
                end = r.date_value(hm.get("to"), N_("to of a holder of role {rid}", rid=rid), self.tz_name)
                if pid is not None and pid not in parties:
                    r.error(hm["party"], _("role {rid}: holder {pid!r} is not a party").format(rid=rid, pid=pid))
                    continue
                if pid is None or start is None:
                    continue
                if end is not None and end < start:
                    r.error(hm["to"], _("role {rid}: a period ends before it starts").format(rid=rid))
                    continue
                holdings.append(Holding(pid, start, end))
                hnodes.append(hitem)
            for i, j in overlapping_holdings(holdings):
                r.error(hnodes[j], _("role {rid}: this period overlaps the one on line {line}").format(
                    rid=rid, line=self.r.pos(hnodes[i]).line))
            derived = r.ident(m.get("derived_from"), N_("derived_from of role {rid}", rid=rid))
            if derived is not None and holdings:
                r.error(m["derived_from"], _("role {rid} has both holders and derived_from; give one").format(rid=rid))
            if derived is not None:
                derived_nodes[rid] = m["derived_from"]
            names: dict[str, dict[str, str]] = {}
            name = self.texts(m.get("name"), N_("name of role {rid}", rid=rid), names, "name", rid, plain_is_first=False)
            if any(ord(ch) < 32 or ch == "\x7f" for ch in " ".join([name, *names.get("name", {}).values()])):
                r.error(m["name"], _("role {rid}: the name contains a line break or control character").format(rid=rid))
                name, names = rid, {}
            out[rid] = Role(rid, tuple(sorted(holdings, key=lambda h: h.start)), derived)
            entries.append(Party(rid, name, ROLE_KIND, (), r.pos(item), "", names.get("name", {})))
        chains = {rid: role.derived_from for rid, role in out.items()}
        for rid, dnode in derived_nodes.items():
            base = chains[rid]
            cycle = derivation_cycle(rid, chains)
            if cycle is not None:
                r.error(dnode, _("role {rid} names itself through a derivation ({chain})").format(
                    rid=rid, chain=" → ".join(cycle)))
            elif base not in out:
                r.error(dnode, _("role {rid}: derived_from names unknown role {base!r}").format(rid=rid, base=base))
            elif chains[base] is not None:
                r.error(dnode, _("role {rid}: derived_from must name a role with holders, not the derived role "
                                 "{base!r}").format(rid=rid, base=base))
        return out, entries

    def meetings(self, node: Node | None) -> dict[str, Meeting]:
        r = self.r
        out: dict[str, Meeting] = {}
        for item in r.items(node, "meetings"):
            m = r.mapping(item, _W_A_MEETING, _MEETING_KEYS, required=("id", "start"))
            if m is None:
                continue
            mid = r.ident(m.get("id"), _W_MEETING_ID)
            if mid is None:
                continue
            if mid in out:
                r.error(m["id"], _("meeting {mid!r} is defined twice (first on line {line})").format(mid=mid, line=out[mid].pos.line))
                continue
            tz_name = r.text(m.get("timezone"), N_("timezone of meeting {mid}", mid=mid), self.tz_name)
            try:
                tz = zone(tz_name)
            except ValueError as exc:
                r.error(m.get("timezone"), _("meeting {mid}: {exc}").format(mid=mid, exc=exc))
                self.broken_meetings.add(mid)
                continue
            start = self._when(m.get("start"), N_("meeting {mid} start", mid=mid), tz)
            end = self._when(m.get("end"), N_("meeting {mid} end", mid=mid), tz)
            if start is None:
                self.broken_meetings.add(mid)
                continue
            if end is not None and end < start:
                r.error(m["end"], _("meeting {mid} ends ({end}) before it starts ({start})").format(mid=mid, end=end.iso(), start=start.iso()))
                end = None
            translations: dict[str, dict[str, str]] = {}
            out[mid] = Meeting(
                mid,
                self.texts(m.get("title"), N_("title of meeting {mid}", mid=mid), translations, "title", mid),
                r.choice(m.get("kind"), N_("kind of meeting {mid}", mid=mid), MEETING_KINDS, "other"),
                start,
                end,
                tz_name,
                # a place reads the same in any language unless given per language
                self.texts(m.get("location"), N_("location of meeting {mid}", mid=mid), translations, "location",
                           plain_is_first=False),
                r.text(m.get("url"), N_("url of meeting {mid}", mid=mid)),
                r.choice(m.get("status"), N_("status of meeting {mid}", mid=mid), MEETING_STATUSES, "planned"),
                self.texts(m.get("description"), N_("description of meeting {mid}", mid=mid), translations, "description"),
                r.pos(item),
                translations,
                r.text(m.get("body"), N_("body of meeting {mid}", mid=mid)),
            )
        return out

    def cadence(self, node: Node | None) -> list[CadenceRule]:
        r = self.r
        out: list[CadenceRule] = []
        for item in r.items(node, "cadence"):
            m = r.mapping(item, _W_A_CADENCE_RULE, _CADENCE_KEYS, required=("kind", "per"))
            if m is None:
                continue
            kind = r.choice(m.get("kind"), _W_CADENCE_KIND, CADENCE_KINDS, "other")
            per = r.choice(m.get("per"), _W_CADENCE_PERIOD, CADENCE_PERIODS, "year")
            at_least = 1
            raw = r.scalar(m.get("at_least"), "at_least")
            if raw is not None:
                if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
                    r.error(m["at_least"], _("at_least must be a whole number of meetings, at least 1, not {raw!r}").format(raw=raw))
                else:
                    at_least = int(raw)
            start = r.date_value(m.get("from"), _W_CADENCE_FROM, self.tz_name) or date(1970, 1, 1)
            report = True
            raw_report = r.scalar(m.get("report"), "report")
            if raw_report is not None:
                if raw_report.lower() not in ("true", "false", "yes", "no"):
                    r.error(m["report"], _("report must be true or false, not {raw_report!r}").format(raw_report=raw_report))
                report = raw_report.lower() in ("true", "yes")
            if any(rule.kind == kind for rule in out):
                r.error(item, _("there are two cadence rules for {kind} meetings; keep one").format(kind=kind))
                continue
            out.append(CadenceRule(kind, per, at_least, start, report))
        return out

    def conclusion_list(self, node: Node | None, parties: dict[str, Party], sets: dict[str, tuple[str, ...]],
                        meetings: dict[str, Meeting]) -> dict[str, Conclusion]:
        r = self.r
        out: dict[str, Conclusion] = {}
        for item in r.items(node, "conclusions"):
            m = r.mapping(item, _W_A_CONCLUSION, _CONCLUSION_KEYS, required=("id", "kind", "source"))
            if m is None:
                continue
            cid = r.ident(m.get("id"), _W_CONCLUSION_ID)
            if cid is None:
                continue
            if cid in out:
                r.error(m["id"], _("conclusion {cid!r} is defined twice (first on line {line})").format(
                    cid=cid, line=out[cid].pos.line))
                continue
            said = len(r.problems)
            kind = r.choice(m.get("kind"), N_("kind of conclusion {cid}", cid=cid), CONCLUSION_KINDS, "other")
            source = self._source(m.get("source"), cid, meetings, N_("conclusion {cid}", cid=cid))
            if source is not None and not source.meeting and "source" in m:
                r.error(m["source"], _("conclusion {cid}: its source needs 'meeting'").format(cid=cid))
            if source is not None and not source.text and "source" in m:
                r.error(m["source"], _("conclusion {cid}: its source needs 'text', the paragraph as the meeting "
                                       "wrote it").format(cid=cid))
            what = N_("conclusion {cid}", cid=cid)
            requested_by = self.party_names(m.get("requested_by"), parties, sets, what, "requested_by")
            addressed_to = self.party_names(m.get("addressed_to"), parties, sets, what, "addressed_to")
            if len(r.problems) > said and any(not p.warning for p in r.problems[said:]) or source is None:
                self.broken_conclusions.add(cid)
                continue
            out[cid] = Conclusion(cid, kind, source, requested_by, addressed_to, r.pos(item))
        return out

    def party_names(self, node: Node | None, parties: dict[str, Party], sets: dict[str, tuple[str, ...]],
                    what: What, key: str) -> tuple[str, ...]:
        """The parties or sets a field names, each once; an unknown one is an error."""
        names: list[str] = []
        for name, nnode in self.r.names(node, N_("{key} of {what}", key=key, what=what)):
            if name not in parties and name not in sets:
                self.r.error(nnode, _("{what}: unknown party or set {name!r} in {key}").format(
                    what=what, name=name, key=key))
            elif name not in names:
                names.append(name)
        return tuple(names)

    def actions(
        self,
        node: Node | None,
        parties: dict[str, Party],
        sets: dict[str, tuple[str, ...]],
        meetings: dict[str, Meeting],
        cadence: list[CadenceRule],
    ) -> dict[str, Action]:
        r = self.r
        out: dict[str, Action] = {}
        dep_nodes: dict[str, list[tuple[str, Node]]] = {}
        for item in r.items(node, "actions"):
            action = self.action(item, parties, sets, meetings, cadence, out, dep_nodes)
            if action is not None:
                out[action.id] = action
        # dependencies need every id first
        for aid, deps in dep_nodes.items():
            for dep, dnode in deps:
                if dep == aid:
                    r.error(dnode, _("action {aid!r} depends on itself").format(aid=aid))
                elif dep not in out:
                    r.error(dnode, _("action {aid!r} depends on unknown action {dep!r}").format(aid=aid, dep=dep))
        for cycle in _cycles({a.id: [d for d in a.depends_on if d in out and d != a.id] for a in out.values()}):
            first = cycle[0]
            dnode = next(n for d, n in dep_nodes[first] if d == cycle[1])
            r.error(dnode, _("dependency cycle: {cycle}").format(cycle=" → ".join(cycle)))
        return out

    def action(
        self,
        item: Node,
        parties: dict[str, Party],
        sets: dict[str, tuple[str, ...]],
        meetings: dict[str, Meeting],
        cadence: list[CadenceRule],
        seen: dict[str, Action],
        dep_nodes: dict[str, list[tuple[str, Node]]],
    ) -> Action | None:
        r = self.r
        m = r.mapping(item, _W_AN_ACTION, _ACTION_KEYS, required=("id", "title"))
        if m is None:
            return None
        aid = r.ident(m.get("id"), _W_ACTION_ID)
        if aid is None:
            return None
        if aid in seen:
            r.error(m["id"], _("action id {aid!r} is used twice (first on line {line})").format(aid=aid, line=seen[aid].pos.line))
            return None
        translations: dict[str, dict[str, str]] = {}
        title = self.texts(m.get("title"), N_("title of action {aid}", aid=aid), translations, "title", aid).strip()
        if not title:
            r.error(m.get("title"), _("action {aid} has an empty title").format(aid=aid))
        self.warn_missing_languages(m.get("title"), N_("action {aid}", aid=aid), translations, "title")
        source = self._source(m.get("source"), aid, meetings)
        conclusion = r.text(m.get("conclusion"), N_("conclusion of action {aid}", aid=aid))
        if conclusion and conclusion not in self.conclusions and conclusion not in self.broken_conclusions:
            r.error(m["conclusion"], _("action {aid} names unknown conclusion {conclusion!r}").format(
                aid=aid, conclusion=conclusion))
        requested_by = self.party_names(m.get("requested_by"), parties, sets, N_("action {aid}", aid=aid),
                                        "requested_by")

        unknown: set[str] = set()  # keys naming a party or set nobody declared (already an error)

        def resolve_names(key: str) -> tuple[str, ...]:
            names: list[str] = []
            for name, nnode in r.names(m.get(key), N_("{key} of action {aid}", key=key, aid=aid)):
                if name not in parties and name not in sets:
                    r.error(nnode, _("action {aid}: unknown party or set {name!r} in {key}").format(aid=aid, name=name, key=key))
                    unknown.add(key)
                elif name not in names:
                    names.append(name)
            return tuple(names)

        owners = resolve_names("owners")
        with_ = resolve_names("with")
        if not owners and "owners" not in unknown:  # an unknown owner is one error, not a warning too
            r.warn(item, _("action {aid} has no owner: nobody will be asked to deliver it").format(aid=aid))
        due = self._due(m.get("due"), aid, meetings, cadence, parties)
        if due.form == "date" and due.when is not None and source is not None and source.meeting in meetings:
            created = meetings[source.meeting].start
            if due.when.last_day < created.day:
                r.warn(m.get("due"), _("action {aid} is due ({due}) before the meeting that created it ({meeting}, {created})").format(aid=aid, due=due.when.iso(), meeting=source.meeting, created=created.iso()))
        deps: list[str] = []
        dep_nodes[aid] = []
        for dep, dnode in r.names(m.get("depends_on"), N_("depends_on of action {aid}", aid=aid)):
            if dep not in deps:
                deps.append(dep)
                dep_nodes[aid].append((dep, dnode))
        said = len(r.problems)
        recurrence = self._recurrence(m, aid, source, meetings)
        rule_refused = len(r.problems) > said  # then a progress occurrence is not a second error
        expanded = [p for name in owners for p in sets.get(name, (name,))]
        progress = self._progress(m.get("progress"), aid, expanded, recurrence is not None,
                                  source_day(source, meetings))
        if recurrence is not None and not rule_refused:
            self._check_occurrences(progress, recurrence, aid)
        tags = tuple(t for t, _node in r.names(m.get("tags"), N_("tags of action {aid}", aid=aid)))
        return Action(
            aid,
            title,
            self.texts(m.get("description"), N_("description of action {aid}", aid=aid), translations, "description").strip(),
            source,
            r.text(m.get("theme"), N_("theme of action {aid}", aid=aid)),
            tags,
            owners,
            with_,
            due,
            tuple(deps),
            recurrence,
            r.choice(m.get("visibility"), N_("visibility of action {aid}", aid=aid), VISIBILITIES, "public"),
            progress,
            r.pos(item),
            translations,
            conclusion,
            requested_by,
        )

    # -- fields ------------------------------------------------------------

    def language(self, node: Node | None, what: What) -> str:
        code = self.r.text(node, what)
        if code and code not in LANGUAGES:
            self.r.error(node, _("{what}: {code!r} is not a language workplan writes ({languages})").format(what=what, code=code, languages=', '.join(LANGUAGES)))
            return ""
        return code

    def texts(self, node: Node | None, what: What, into: dict[str, dict[str, str]], key: str,
              default: str = "", plain_is_first: bool = True) -> str:
        """A text written once (``title: …``) or per language (``title: {en: …, es: …}``).

        Returns the text in the group's first language (else the first one written), which is
        what the plain column keeps; the versions by language go into ``into[key]``. A plain
        string is in the group's first language (when it declares languages), so that output in
        another language marks it; a name (*plain_is_first* false) reads the same in any."""
        r = self.r
        if node is None or not isinstance(node, MappingNode):
            text = r.text(node, what, default)
            if plain_is_first and self.languages and node is not None and text.strip():
                into[key] = {self.languages[0]: text.strip()}
            return text
        versions: dict[str, str] = {}
        for lang, vnode in (r.mapping(node, what, LANGUAGES) or {}).items():
            value = r.text(vnode, N_("{what} ({lang})", what=what, lang=lang)).strip()
            if value:
                versions[lang] = value
        if not versions:
            r.error(node, _("{what} has no text in any language").format(what=what))
            return default
        into[key] = versions
        first = next((versions[lang] for lang in self.languages if lang in versions), None)
        return first if first is not None else next(iter(versions.values()))

    def warn_missing_languages(self, node: Node | None, what: What, translations: dict[str, dict[str, str]],
                               key: str) -> None:
        """The group writes in several languages: say which ones this text lacks (a plain string
        counts as the group's first language)."""
        if len(self.languages) < 2 or node is None:
            return
        have = set(translations.get(key, {})) or {self.languages[0]}
        missing = [lang for lang in self.languages if lang not in have]
        if missing:
            self.r.warn(node, _("{what} has no {key} in {missing} (group languages: {languages})").format(what=what, key=key, missing=', '.join(missing), languages=', '.join(self.languages)))

    def _when(self, node: Node | None, what: What, tz: object) -> When | None:
        value = self.r.scalar(node, what)
        if value is None:
            return None
        try:
            return parse_when(value, tz)  # type: ignore[arg-type]
        except ValueError as exc:
            self.r.error(node, _("{what}: {exc}").format(what=what, exc=exc))
            return None

    def _source(self, node: Node | None, aid: str, meetings: dict[str, Meeting], what: What | None = None) -> Source | None:
        """A source (meeting, ref, text); its text must be in the meeting's document where one is
        known (:func:`planning.quote_in_document`, the one check of every quote)."""
        r = self.r
        if node is None or _is_null(node):
            return None
        what = what or N_("action {aid}", aid=aid)
        m = r.mapping(node, N_("source of {what}", what=what), _SOURCE_KEYS)
        if m is None:
            return None
        meeting = r.text(m.get("meeting"), N_("source meeting of {what}", what=what))
        if meeting and meeting not in meetings and meeting not in self.broken_meetings:
            r.error(m["meeting"], _("{what}: source names unknown meeting {meeting!r}").format(what=what, meeting=meeting))
        text = r.text(m.get("text"), _W_SOURCE_TEXT).strip()
        document = self.sources.get(meeting)
        if text and document is not None and not quote_in_document(text, document[1]):
            r.error(m["text"], _("{what}: its source text is not in {file}; copy the paragraph verbatim "
                                 "(line breaks and spaces may differ)").format(what=what, file=document[0].as_posix()))
        return Source(meeting, r.text(m.get("ref"), _W_SOURCE_REF), text)

    def _due(self, node: Node | None, aid: str, meetings: dict[str, Meeting], cadence: list[CadenceRule],
             parties: dict[str, Party] | None = None) -> DueSpec:
        r = self.r
        if node is None or _is_null(node):
            return DueSpec("none")
        if isinstance(node, ScalarNode):
            when = self._when(node, N_("due of action {aid}", aid=aid), zone(self.tz_name))
            if when is None:
                return DueSpec("none")
            return DueSpec("date", when=when)
        m = r.mapping(node, N_("due of action {aid}", aid=aid), _DUE_KEYS)
        if m is None:
            return DueSpec("none")
        offset = 0
        if "offset" in m:
            raw = r.scalar(m["offset"], "offset")
            try:
                offset = parse_offset(raw or "").days
            except ValueError as exc:
                r.error(m["offset"], _("action {aid}: {exc}").format(aid=aid, exc=exc))
        if "meeting" in m and "next" in m:
            r.error(node, _("due of action {aid} has both 'meeting' and 'next'; keep one").format(aid=aid))
            return DueSpec("none")
        if "meeting" in m:
            if "after" in m:
                r.error(m["after"], _("due of action {aid}: 'after' goes with 'next', not with 'meeting'").format(aid=aid))
            meeting = r.text(m["meeting"], _W_DUE_MEETING)
            if meeting not in meetings:
                if meeting not in self.broken_meetings:
                    r.error(m["meeting"], _("action {aid} is due at unknown meeting {meeting!r}").format(aid=aid, meeting=meeting))
                return DueSpec("none")
            return DueSpec("meeting", meeting=meeting, offset_days=offset)
        if "next" in m:
            # a kind of meeting, or another body: named by a meeting's ``body:``, or a party of kind
            # ``body`` or ``organization`` whose meetings are not in the file yet
            bodies = {x.body for x in meetings.values() if x.body} | {
                p.id for p in (parties or {}).values() if p.kind in ("body", "organization")}
            kind = r.choice(m["next"], N_("due of action {aid}: next", aid=aid), MEETING_KINDS + tuple(sorted(bodies)), "")
            after = r.text(m.get("after"), "after")
            if not after:
                r.error(node, _("due of action {aid}: 'next' needs 'after: MEETING' to know where to count from").format(aid=aid))
                return DueSpec("none")
            if after not in meetings:
                if after not in self.broken_meetings:
                    r.error(m["after"], _("action {aid}: 'after' names unknown meeting {after!r}").format(aid=aid, after=after))
                return DueSpec("none")
            # with no cadence rule to expect one, it is *to be scheduled* (planning.resolve_due)
            return DueSpec("next", meeting=after, next_kind=kind, offset_days=offset)
        r.error(node, _("due of action {aid} needs 'meeting' or 'next' (or write a date)").format(aid=aid))
        return DueSpec("none")

    def _recurrence(self, m: dict[str, Node], aid: str, source: Source | None, meetings: dict[str, Meeting]) -> Recurrence | None:
        r = self.r
        repeat = r.scalar(m.get("repeat"), "repeat")
        rrule = r.scalar(m.get("rrule"), "rrule")
        start = r.date_value(m.get("from"), N_("from of action {aid}", aid=aid), self.tz_name)
        until = r.date_value(m.get("until"), N_("until of action {aid}", aid=aid), self.tz_name)
        if repeat is None and rrule is None:
            for key in ("from", "until"):
                if key in m:
                    r.error(m[key], _("action {aid}: '{key}' only applies to a recurring action (repeat or rrule)").format(aid=aid, key=key))
            return None
        if repeat is not None and rrule is not None:
            r.error(m["rrule"], _("action {aid} has both 'repeat' and 'rrule'; keep one").format(aid=aid))
            return None
        if "due" in m:
            r.error(m["due"], _("action {aid} is recurring; each occurrence is due at the end of its period, so 'due' does not apply").format(aid=aid))
        if repeat is not None and repeat not in PERIODS:
            r.error(m["repeat"], _("action {aid}: repeat {repeat!r} is not one of: {periods}").format(aid=aid, repeat=repeat, periods=', '.join(PERIODS)))
            return None
        if start is None and source is not None and source.meeting in meetings:
            start = meetings[source.meeting].start.day
        if start is None:
            from_written = "from" in m and not _is_null(m["from"])  # then its error is already said
            if not from_written and (source is None or source.meeting not in self.broken_meetings):
                r.error(m.get("repeat") or m.get("rrule"), _("recurring action {aid} needs 'from: DATE' (or a source meeting) to start counting").format(aid=aid))
            return None
        recurrence = Recurrence(repeat or "", rrule or "", start, until)
        backwards = until is not None and until < start
        if backwards:
            r.error(m["until"], _("action {aid}: 'until' is before 'from'").format(aid=aid))
        # what sync will expand: a rule it cannot, or one that yields no occurrence at all (sync
        # would withdraw every assignment the action had), is refused here, where it is written
        try:
            first = first_occurrence(Recurrence(repeat or "", rrule or "", start, None if backwards else until),
                                     zone(self.tz_name))
        except RecurrenceError as exc:
            r.error(m["rrule"], _("action {aid}: rrule {rrule!r}: {exc}").format(aid=aid, rrule=rrule, exc=exc))
            return None
        if first is None and not backwards:
            node = m["rrule"] if rrule is not None else m["repeat"]
            written = _("rrule {rrule!r}").format(rrule=rrule) if rrule is not None else _("repeat {repeat!r}").format(repeat=repeat)
            if until is None:
                r.error(node, _("action {aid}: {written} yields no occurrence from {start}").format(aid=aid, written=written, start=start))
            else:
                r.error(node, _("action {aid}: {written} yields no occurrence from {start} to {until}").format(aid=aid, written=written, start=start, until=until))
        return recurrence

    def _check_occurrences(self, progress: tuple[Progress, ...], rec: Recurrence, aid: str) -> None:
        """A fact about an occurrence the action does not have would stop the sync; say so here."""
        tz = zone(self.tz_name)
        for fact in progress:
            if fact.occurrence is not None and fact.occurrence not in occurrences(rec, tz, fact.occurrence):
                self.r.error(fact.pos, _("action {aid}: {occurrence} is not one of its occurrences, so progress "
                                         "cannot be recorded for it").format(aid=aid, occurrence=fact.occurrence))

    def _progress(self, node: Node | None, aid: str, owners: list[str], recurring: bool,
                  meeting: tuple[str, date] | None) -> tuple[Progress, ...]:
        r = self.r
        out: list[Progress] = []
        tz = zone(self.tz_name)
        for item in r.items(node, N_("progress of action {aid}", aid=aid)):
            m = r.mapping(item, N_("a progress entry of action {aid}", aid=aid), _PROGRESS_KEYS, required=("party", "status", "on"))
            if m is None:
                continue
            party = r.text(m.get("party"), _W_PROGRESS_PARTY)
            status = r.choice(m.get("status"), N_("progress status of action {aid}", aid=aid), STATUSES, "")
            on_text = r.scalar(m.get("on"), _W_PROGRESS_DATE)
            note = r.text(m.get("note"), _W_PROGRESS_NOTE).strip()
            if party and party not in owners:
                r.error(m["party"], _("action {aid}: progress names {party!r}, which is not one of its owners").format(aid=aid, party=party))
                continue
            if unexplained_waiver(status, note):
                r.error(item, _("action {aid}: {party} waived without a note; say why it cannot deliver").format(aid=aid, party=party))
            occurrence = None
            if "occurrence" in m:
                if not recurring:
                    r.error(m["occurrence"], _("action {aid} is not recurring, so progress takes no 'occurrence'").format(aid=aid))
                occurrence = r.date_value(m["occurrence"], _W_PROGRESS_OCCURRENCE, self.tz_name)
            if on_text is None or not status or not party:
                continue
            try:
                when = parse_when(on_text, tz)
            except ValueError as exc:
                r.error(m["on"], _("action {aid}: progress date: {exc}").format(aid=aid, exc=exc))
                continue
            if when.precision == "month":
                r.error(m["on"], _("action {aid}: progress date {on_text!r} needs a day").format(aid=aid, on_text=on_text))
                continue
            on = when.at if when.at is not None else start_of_day(when.day, tz)
            try:  # in the future or before the meeting: the file alone tells (the latest event needs the database)
                status_moment(on, day_only=when.at is None, now=self.now, tz=tz, meeting=meeting,
                              subject=partial(progress_subject, aid, party))
            except HistoryError as exc:
                r.error(m["on"], str(exc))
                continue
            out.append(Progress(party, status, on, note, r.text(m.get("by"), "by"), occurrence, r.pos(item),
                                when.at is None, r.pos(m["on"])))
        return tuple(out)



def _cycles(graph: dict[str, list[str]]) -> Iterator[list[str]]:
    """Each dependency cycle once, as a closed path ``[a, b, …, a]`` (iterative DFS)."""
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    yield cycle
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))

