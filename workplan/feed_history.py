"""What a folder of feeds has already published, read back so that a rebuild keeps its promises.

`workplan calendars` (and the scheduler's rebuild) write over a folder that subscribers have
already read, and that may have been built from another database: calendars/ of this repository
is refreshed from a fresh clone's database, whose SEQUENCEs start again at 0. So the folder
itself is the memory of what was published, and it needs no other record (no X- property, no
table):

* each item (VEVENT or VTODO, by UID) is compared with the folder on its *content*: its lines
  as written, DTSTAMP, LAST-MODIFIED and SEQUENCE left out, hashed (16 bytes of BLAKE2b). The
  same content keeps the folder's SEQUENCE, DTSTAMP and LAST-MODIFIED, so a rebuild over the
  folder is byte-identical (a stamp later than the build, which older versions wrote for
  meetings dated in the future, is brought back to the data's);
* changed content, or a SEQUENCE in the data above the folder's (a title changed in another
  language), gets SEQUENCE = max(the data's, the folder's + 1), and stamps that never go
  backwards: the data's when later than the folder's, else the build moment;
* an item of a file that this build no longer puts in it stays in that file, STATUS:CANCELLED,
  SEQUENCE + 1, stamped with the build moment (with the VTIMEZONE it refers to); an item already
  cancelled there is copied as it is. A file the build no longer writes at all (a party removed)
  gets the same treatment, if the build writes files of its kind (feeds, or todo/ with --todo).
  The same UID may show other content in another file (a feed in another language): each
  content seen is remembered.

The build moment is the as-of moment, or now if that is earlier: deterministic for a pinned
``--as-of`` in the past (how calendars/ is built), never later than the build.

The folder is read one file at a time, memory-mapped and scanned with a few regular
expressions (the files are this tool's own: CRLF lines, the PRODID below), keeping per UID only
its SEQUENCE, stamps and hash, and per file its UIDs; the text of items is read again only in
the files where some are to be cancelled. Only files this tool wrote are read. The reader does
what icalendar's parser does for UID, SEQUENCE, DTSTAMP and LAST-MODIFIED, about 35 times
faster (11,117 events of a 10,000-action workplan: 0.11 s against 4.1 s, 2026-12-06), so that
a rebuild over the folder costs about a third more than into an empty one (4.3 s against 3.2 s
at 10,000 actions; through icalendar about 8.3 s, past the 5 s target of `calendars` in
bench/README.md): a fast path beside icalendar; tests/test_calendars.py checks that both read the same from the
committed feeds.
"""

from __future__ import annotations

import hashlib
import mmap
import re
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from . import timeutil
from .render.ical import PRODID, Component, fold

STAMPS = ("DTSTAMP", "LAST-MODIFIED", "SEQUENCE")
ITEMS = (b"BEGIN:VEVENT", b"BEGIN:VTODO")
END = b"END:VCALENDAR\r\n"
# what the reader looks for, in a file this tool wrote (lines end in CRLF, folded with CRLF + space)
_PRODID = re.compile(rb"^PRODID:([^\r\n]*)\r\n", re.M)
_TZID = re.compile(r";TZID=\"?([^:;\"]+)")
_UID = re.compile(rb"^UID:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", re.M)
_FOLD = re.compile(rb"\r\n[ \t]")


class Published(NamedTuple):
    """One item as the folder holds it."""

    sequence: int
    stamp: str  # DTSTAMP as written: 20210302T045959Z
    modified: str  # LAST-MODIFIED as written, '' when the same as DTSTAMP (as this tool writes them)
    digest: bytes


def _text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _digest(content: bytes) -> bytes:
    """The content of an item: its lines as written (folded), each preceded by CRLF, DTSTAMP,
    LAST-MODIFIED and SEQUENCE left out; the reader and the writer hash the same bytes."""
    return hashlib.blake2b(content, digest_size=16).digest()


def _line(body: bytes, name: bytes) -> tuple[int, int]:
    """Where the content line *name* is in *body* (each line preceded by CRLF), unfolded up to
    its end; (-1, -1) when it is not there."""
    start = body.find(b"\r\n" + name + b":")
    if start < 0:
        return -1, -1
    end = body.find(b"\r\n", start + 2)
    while end >= 0 and body[end + 2:end + 3] in (b" ", b"\t"):
        end = body.find(b"\r\n", end + 2)
    return start, len(body) if end < 0 else end


def _value(body: bytes, span: tuple[int, int], name: bytes) -> str:
    start, end = span
    if start < 0:
        return ""
    return _FOLD.sub(b"", body[start + len(name) + 3:end]).decode("utf-8", "replace")


def _blocks(data: bytes | mmap.mmap, start: int) -> Iterator[bytes]:
    """The top-level components after *start*, each from its BEGIN line to its END line."""
    pos = start
    while (begin := data.find(b"\r\nBEGIN:", pos)) >= 0:
        begin += 2
        eol = data.find(b"\r\n", begin)
        if eol < 0:
            return
        end_line = b"\r\nEND:" + data[begin + 6:eol] + b"\r\n"
        end = data.find(end_line, eol)
        if end < 0:
            return
        pos = end + len(end_line) - 2
        yield data[begin:pos + 2]


def read_items(data: bytes | mmap.mmap) -> Iterator[tuple[str, Published, bytes]]:
    """Each VEVENT and VTODO of one feed: its UID, what it promised, and its bytes.
    Raises ValueError when the feed is not one this tool wrote (another PRODID)."""
    first = min((i for i in (data.find(b"\r\n" + b) for b in ITEMS) if i >= 0), default=len(data))
    prodid = _PRODID.search(data, 0, first)
    if prodid is not None and prodid.group(1) != PRODID.encode():
        raise ValueError("not a feed of this tool")
    for block in _blocks(data, first):
        if not block.startswith(ITEMS):
            continue
        body = block[block.index(b"\r\n"): block.rindex(b"\r\nEND:")]  # "\r\nNAME:value" per line
        spans = {name: _line(body, name) for name in (b"SEQUENCE", b"DTSTAMP", b"LAST-MODIFIED")}
        digest = hashlib.blake2b(digest_size=16)
        done = 0
        for start, end in sorted(spans.values()):
            if start >= 0:
                digest.update(body[done:start])
                done = end
        digest.update(body[done:])
        sequence = _value(body, spans[b"SEQUENCE"], b"SEQUENCE")
        stamp = _value(body, spans[b"DTSTAMP"], b"DTSTAMP")
        modified = _value(body, spans[b"LAST-MODIFIED"], b"LAST-MODIFIED")
        # stamps interned: thousands of items share the moment of one sync
        published = Published(int(sequence) if sequence.isdigit() else 0, sys.intern(stamp),
                              "" if modified == stamp else sys.intern(modified), digest.digest())
        yield _value(body, _line(body, b"UID"), b"UID"), published, block


def _mapped(path: Path) -> mmap.mmap | bytes:
    """The file's bytes without reading them into memory (the page cache holds them)."""
    with path.open("rb") as fh:
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            return b""


@dataclass
class FeedHistory:
    """The promises of the feeds in *folder*, and the moment of this build (aware UTC)."""

    folder: Path
    build: datetime
    items: dict[str, Published] = field(default_factory=dict)
    variants: dict[str, list[Published]] = field(default_factory=dict)  # the same UID, other content (language)
    files: dict[str, list[str]] = field(default_factory=dict)  # the UIDs of each file, in order

    def __post_init__(self) -> None:
        self._build_text = _text(self.build)

    @classmethod
    def read(cls, folder: Path, build: datetime) -> FeedHistory:
        history = cls(Path(folder), build.astimezone(UTC).replace(microsecond=0))
        paths = [*sorted(history.folder.glob("*.ics")), *sorted(history.folder.glob("todo/*.ics"))]
        for path in paths:
            name = path.relative_to(history.folder).as_posix()
            try:
                data = _mapped(path)
                uids = [history._keep(uid, item) for uid, item, _block in read_items(data)]
            except (OSError, ValueError):
                continue  # not a feed this tool wrote: nothing to continue
            history.files[name] = uids
        return history

    def _keep(self, uid: str, item: Published) -> str:
        uid = sys.intern(uid)  # a meeting's UID is in every file: one string, however many lists
        known = self.items.get(uid)
        if known is None:
            self.items[uid] = item
        elif known.digest != item.digest and all(v.digest != item.digest for v in self.variants.get(uid, ())):
            self.variants.setdefault(uid, []).append(item)
        return uid

    def _seen(self, uid: str) -> list[Published]:
        known = self.items.get(uid)
        return [] if known is None else [known, *self.variants.get(uid, ())]

    # -- rendering: what each item keeps of the folder --------------------------------------------

    def carried(self, component: Component) -> bytes:
        """*component*'s bytes, with the SEQUENCE and stamps its UID must have after what the
        folder showed. Stamps are compared as written (UTC, one format: text order is time order)."""
        seen = self._seen(str(component.properties["UID"]))
        lines = component.lines()
        if not seen:
            return component.to_ical(lines)
        content = "".join("\r\n" + line for name, line in lines.items() if name not in STAMPS)
        digest = _digest(content.encode("utf-8"))
        build = self._build_text
        sequence = component.properties["SEQUENCE"]
        assert isinstance(sequence, int)
        same = next((p for p in seen if p.digest == digest), None)
        # the same content, unless the data's SEQUENCE has gone past the folder's (its title
        # changed in another language: subscribers of this one are told too)
        if same is not None and sequence <= same.sequence:
            lines["SEQUENCE"] = f"SEQUENCE:{same.sequence}"
            for name, text in (("DTSTAMP", same.stamp), ("LAST-MODIFIED", same.modified or same.stamp)):
                if text and text <= build:
                    lines[name] = f"{name}:{text}"
            return component.to_ical(lines)
        lines["SEQUENCE"] = f"SEQUENCE:{max([sequence, *(p.sequence + 1 for p in seen)])}"
        stamp = lines["DTSTAMP"].removeprefix("DTSTAMP:")
        if stamp <= max(p.stamp for p in seen):
            stamp = build
        lines["DTSTAMP"], lines["LAST-MODIFIED"] = f"DTSTAMP:{stamp}", f"LAST-MODIFIED:{stamp}"
        return component.to_ical(lines)

    # -- after rendering: what is no longer produced ---------------------------------------------

    def cancel_dropped(self, files: Mapping[str, bytes], restricted: Collection[str] = ()) -> dict[str, bytes]:
        """*files* with, in each, the items its previous version showed and it no longer does,
        as cancelled items; except those of the *restricted* actions, which are left out: a
        restricted action's text stays out of a feed it may not be in (a folder built once with
        --private, or an action made restricted after it was published)."""
        out = dict(files)
        kinds = {name.startswith("todo/") for name in files}
        for name, old_uids in self.files.items():
            body = files.get(name)
            if body is None and name.startswith("todo/") not in kinds:
                continue  # not a kind of feed this build writes (todo/ without --todo)
            shown = set() if body is None else {
                _FOLD.sub(b"", m).decode("utf-8", "replace") for m in _UID.findall(body)}
            dropped = {uid for uid in old_uids if uid not in shown and _action_of(uid) not in restricted}
            if dropped:
                out[name] = self._with_cancelled(name, body, dropped)
        return out

    def _with_cancelled(self, name: str, body: bytes | None, dropped: set[str]) -> bytes:
        head, zones, blocks = self._old_parts(self.folder / name, dropped)
        if body is None:
            body = head + END
        cancelled = [self._cancelled(block) for block in blocks]
        needed = {z for block in cancelled for line in block for z in _TZID.findall(line)}
        extra = b"".join(zones[z] for z in sorted(needed)
                         if z in zones and f"\r\nTZID:{z}\r\n".encode() not in body)
        text = "".join(fold(line) + "\r\n" for block in cancelled for line in block).encode("utf-8")
        assert body.endswith(END)
        body = body[: -len(END)] + text + END
        if extra:
            at = min(i for i in (body.find(b"\r\n" + b) for b in ITEMS) if i >= 0) + 2
            body = body[:at] + extra + body[at:]
        return body

    def _old_parts(self, path: Path, dropped: set[str]) -> tuple[bytes, dict[str, bytes], list[list[str]]]:
        """The previous file's head (before its first item), its VTIMEZONEs by TZID, and the
        unfolded lines of the *dropped* items, in their order."""
        data = _mapped(path)
        first = min((i for i in (data.find(b"\r\n" + b) for b in ITEMS) if i >= 0), default=-1)
        head = bytes(data[: first + 2]) if first >= 0 else bytes(data[: data.rfind(END)])
        zones: dict[str, bytes] = {}
        for match in re.finditer(rb"^BEGIN:VTIMEZONE\r\n.*?^END:VTIMEZONE\r\n", head, re.S | re.M):
            tzid = re.search(rb"\r\nTZID:([^\r]*)\r\n", match.group(0))
            if tzid:
                zones[tzid.group(1).decode("utf-8", "replace")] = match.group(0)
        blocks = [_FOLD.sub(b"", block).decode("utf-8", "replace").split("\r\n")[:-1]
                  for uid, _item, block in read_items(data) if uid in dropped]
        return head, zones, blocks

    @staticmethod
    def _name(line: str) -> str:
        return line.split(":", 1)[0].split(";", 1)[0].upper()

    def _cancelled(self, block: list[str]) -> list[str]:
        """An item as its cancellation: STATUS:CANCELLED, SEQUENCE + 1, stamped with the build
        (the folder's stamps are never later: a later one was written before this rule)."""
        if any(self._name(line) == "STATUS" and line.partition(":")[2] == "CANCELLED" for line in block):
            return block
        out: list[str] = []
        seq = 0
        for line in block:
            name, value = self._name(line), line.partition(":")[2].strip()
            if name == "SEQUENCE":
                seq = int(value) if value.isdigit() else 0
            elif name in ("DTSTAMP", "LAST-MODIFIED"):
                out.append(f"{name}:{_text(self.build)}")
            elif name != "STATUS":
                out.append(line)
        end = out.pop()
        return [*out, f"SEQUENCE:{seq + 1}", "STATUS:CANCELLED", end]


def build_moment(as_of: datetime) -> datetime:
    """The moment a build may stamp a change with: the as-of moment, or now when that is earlier."""
    return min(as_of.astimezone(UTC), timeutil.now_utc()).replace(microsecond=0)


def _action_of(uid: str) -> str:
    """The action of a deadline's UID (``[task-]action-ID[+…]@DOMAIN``, ``[task-]assignment-ID+…``);
    '' for a meeting's."""
    local = uid.rpartition("@")[0].removeprefix("task-")
    for prefix in ("action-", "assignment-"):
        if local.startswith(prefix):
            return local.removeprefix(prefix).partition("+")[0]
    return ""


def continued(folder: Path, as_of: datetime, render: Callable[[FeedHistory], dict[str, bytes]],
              restricted: Collection[str] = ()) -> dict[str, bytes]:
    """The files *render* gives for *folder*, continuing what the feeds already there showed
    (but for the items of the *restricted* actions)."""
    history = FeedHistory.read(folder, build_moment(as_of))
    return history.cancel_dropped(render(history), restricted)

