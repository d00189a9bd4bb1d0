"""What a folder of feeds has already published, read back so that a rebuild keeps its promises.

`workplan calendars` (and the scheduler's rebuild) write over a folder that subscribers have
already read, and that may have been built from another database: calendars/ of this repository
is refreshed from a fresh clone's database, whose SEQUENCEs start again at 0. So the folder
itself is the memory of what was published, and it needs no other record (no X- property, no
table):

* each item (VEVENT or VTODO, by UID) is compared with the folder on its *content*: its
  unfolded lines other than DTSTAMP, LAST-MODIFIED and SEQUENCE, hashed. The same content keeps
  the folder's SEQUENCE, DTSTAMP and LAST-MODIFIED, so a rebuild over the folder is byte-identical
  (a stamp later than the build, written by older versions, is brought back to the data's);
* changed content gets SEQUENCE = max(the data's, the folder's + 1), and stamps that never go
  backwards: the data's when later than the folder's, else the build moment;
* an item of a file that this build no longer puts in it stays in that file, STATUS:CANCELLED,
  SEQUENCE + 1, stamped with the build moment (with the VTIMEZONE it refers to); an item already
  cancelled there is copied as it is. A file the build no longer writes at all (a party removed)
  gets the same treatment, if the build writes files of its kind (feeds, or todo/ with --todo).

The build moment is the as-of moment, or now if that is earlier: deterministic for a pinned
``--as-of`` in the past (how calendars/ is built), never later than the build.

The folder is read line by line, one file at a time, keeping per UID only its SEQUENCE, stamps
and a 16-byte hash (a few hundred bytes an item, less than the rendered feeds themselves); the
text of items is read again only in the files where some are to be cancelled. Only files this
tool wrote (its PRODID) are read. The line reader does what icalendar's parser does for these
three properties; tests/test_feed_history.py checks that both read the same from every feed.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from .render.ical import PRODID, Component, content_line, fold, ordered_names

STAMPS = frozenset({"DTSTAMP", "LAST-MODIFIED", "SEQUENCE"})
ITEMS = (b"BEGIN:VEVENT", b"BEGIN:VTODO")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_TZID = re.compile(r";TZID=\"?([^:;\"]+)")
_UID = re.compile(rb"^UID:(.*?)\r?$", re.M)
END = b"END:VCALENDAR\r\n"


class Published(NamedTuple):
    """One item as the folder holds it."""

    sequence: int
    stamp: str  # DTSTAMP as written: 20210302T045959Z
    modified: str  # LAST-MODIFIED as written
    digest: bytes


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def digest_of(lines: Iterable[str]) -> bytes:
    """The content of an item: its unfolded lines, DTSTAMP, LAST-MODIFIED and SEQUENCE left out."""
    h = hashlib.blake2b(digest_size=16)
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.digest()


def _name(line: str) -> str:
    m = _NAME.match(line)
    return m.group(0).upper() if m else ""


def unfolded(lines: Iterable[bytes]) -> Iterator[str]:
    """Content lines of an iCalendar stream, unfolded (RFC 5545 §3.1)."""
    current: bytes | None = None
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if line[:1] in (b" ", b"\t") and current is not None:
            current += line[1:]
            continue
        if current is not None:
            yield current.decode("utf-8", "replace")
        current = line
    if current is not None:
        yield current.decode("utf-8", "replace")


def read_items(lines: Iterable[bytes]) -> Iterator[tuple[str, Published, list[str]]]:
    """Each top-level VEVENT and VTODO: its UID, what it promised, and its unfolded lines.
    Raises ValueError at the first line showing that the stream is not this tool's feed."""
    block: list[str] | None = None
    depth = 0
    head = True
    for line in unfolded(lines):
        if head:
            if line.startswith("PRODID:") and line != f"PRODID:{PRODID}":
                raise ValueError("not a feed of this tool")
            if line.startswith(("BEGIN:VEVENT", "BEGIN:VTODO", "BEGIN:VTIMEZONE")) or line == "END:VCALENDAR":
                head = False
        if block is None:
            if line in ("BEGIN:VEVENT", "BEGIN:VTODO"):
                block, depth = [line], 1
            continue
        block.append(line)
        if line.startswith("BEGIN:"):
            depth += 1
        elif line.startswith("END:"):
            depth -= 1
            if depth == 0:
                yield _published(block)
                block = None


def _published(block: list[str]) -> tuple[str, Published, list[str]]:
    uid, seq, stamp, modified = "", 0, "", ""
    content = []
    for line in block[1:-1]:
        name = _name(line)
        value = line.split(":", 1)[1] if ":" in line else ""
        if name == "SEQUENCE":
            seq = int(value) if value.strip().isdigit() else 0
        elif name == "DTSTAMP":
            stamp = value
        elif name == "LAST-MODIFIED":
            modified = value
        else:
            if name == "UID":
                uid = value
            content.append(line)
    return uid, Published(seq, stamp, modified or stamp, digest_of(content)), block


@dataclass
class FeedHistory:
    """The promises of the feeds in *folder*, and the moment of this build (aware UTC)."""

    folder: Path
    build: datetime
    items: dict[str, Published] = field(default_factory=dict)
    variants: dict[str, list[Published]] = field(default_factory=dict)  # the same UID, other content (language)
    files: dict[str, list[str]] = field(default_factory=dict)  # the UIDs of each file, in order

    @classmethod
    def read(cls, folder: Path, build: datetime) -> FeedHistory:
        history = cls(Path(folder), build.astimezone(UTC).replace(microsecond=0))
        paths = [*sorted(history.folder.glob("*.ics")), *sorted(history.folder.glob("todo/*.ics"))]
        for path in paths:
            name = path.relative_to(history.folder).as_posix()
            uids: list[str] = []
            try:
                with path.open("rb") as fh:
                    for uid, item, _block in read_items(fh):
                        uids.append(history._keep(uid, item))
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

    def carry(self, component: Component) -> None:
        """Give *component* the SEQUENCE and stamps its UID must have after what the folder showed."""
        props = component.properties
        seen = self._seen(str(props["UID"]))
        if not seen:
            return
        names = ordered_names(component.name, tuple(props))
        digest = digest_of(content_line(k, props[k]) for k in names if k not in STAMPS)
        same = next((p for p in seen if p.digest == digest), None)
        if same is not None:
            props["SEQUENCE"] = same.sequence
            for key, text in (("DTSTAMP", same.stamp), ("LAST-MODIFIED", same.modified)):
                if text and _moment(text) <= self.build:
                    props[key] = _moment(text)
            return
        sequence = props["SEQUENCE"]
        assert isinstance(sequence, int)
        props["SEQUENCE"] = max([sequence, *(p.sequence + 1 for p in seen)])
        stamps = [_moment(p.stamp) for p in seen if p.stamp]
        stamp = props["DTSTAMP"]
        assert isinstance(stamp, datetime)
        if stamps and stamp <= max(stamps):
            stamp = self.build
        props["DTSTAMP"] = props["LAST-MODIFIED"] = stamp

    # -- after rendering: what is no longer produced ---------------------------------------------

    def cancel_dropped(self, files: Mapping[str, bytes]) -> dict[str, bytes]:
        """*files* with, in each, the items its previous version showed and it no longer does,
        as cancelled items."""
        out = dict(files)
        kinds = {name.startswith("todo/") for name in files}
        for name, old_uids in self.files.items():
            body = files.get(name)
            if body is None and name.startswith("todo/") not in kinds:
                continue  # not a kind of feed this build writes (todo/ without --todo)
            shown = set() if body is None else {
                m.decode("utf-8", "replace") for m in _UID.findall(body.replace(b"\r\n ", b"").replace(b"\r\n\t", b""))}
            dropped = {uid for uid in old_uids if uid not in shown}
            if dropped:
                out[name] = self._with_cancelled(name, body, dropped)
        return out

    def _with_cancelled(self, name: str, body: bytes | None, dropped: set[str]) -> bytes:
        path = self.folder / name
        head, zones, blocks = self._old_parts(path, dropped)
        if body is None:
            body = head + END
        lines: list[str] = []
        needed: set[str] = set()
        for block in blocks:
            lines += self._cancelled(block)
            needed.update(z for line in block for z in _TZID.findall(line))
        extra = b"".join(zones[z] for z in sorted(needed)
                         if z in zones and f"\r\nTZID:{z}\r\n".encode() not in body)
        cancelled = "".join(fold(line) + "\r\n" for line in lines).encode("utf-8")
        assert body.endswith(END)
        body = body[: -len(END)] + cancelled + END
        if extra:
            at = min((i for i in (body.find(b"\r\n" + b) for b in ITEMS) if i >= 0), default=len(body) - len(END) - 2)
            body = body[: at + 2] + extra + body[at + 2:]
        return body

    def _old_parts(self, path: Path, dropped: set[str]) -> tuple[bytes, dict[str, bytes], list[list[str]]]:
        """The previous file's head (before its first item), its VTIMEZONEs by TZID, and the
        blocks of the *dropped* items in their order."""
        data = path.read_bytes()
        first = min((i for i in (data.find(b"\r\n" + b) for b in ITEMS) if i >= 0), default=-1)
        head = data[: first + 2] if first >= 0 else data[: data.rfind(END)]
        zones: dict[str, bytes] = {}
        for match in re.finditer(rb"BEGIN:VTIMEZONE\r\n.*?END:VTIMEZONE\r\n", data, re.S):
            tzid = re.search(rb"\r\nTZID:([^\r]*)\r\n", match.group(0))
            if tzid:
                zones[tzid.group(1).decode("utf-8", "replace")] = match.group(0)
        blocks = [block for uid, _item, block in read_items(data.splitlines(keepends=True)) if uid in dropped]
        return head, zones, blocks

    def _cancelled(self, block: list[str]) -> list[str]:
        """An item as its cancellation: STATUS:CANCELLED, SEQUENCE + 1, stamped with the build."""
        if any(_name(line) == "STATUS" and line.split(":", 1)[1] == "CANCELLED" for line in block):
            return block
        out: list[str] = []
        seq = 0
        for line in block:
            name = _name(line)
            if name == "SEQUENCE":
                seq = int(line.split(":", 1)[1] or 0)
                continue
            if name in ("DTSTAMP", "LAST-MODIFIED"):
                old = _moment(line.split(":", 1)[1])
                line = f"{name}:{_text(max(old, self.build) if old <= self.build else self.build)}"
            elif name == "STATUS":
                continue
            out.append(line)
        end = out.pop()
        return [*out, f"SEQUENCE:{seq + 1}", "STATUS:CANCELLED", end]


def build_moment(as_of: datetime) -> datetime:
    """The moment a build may stamp a change with: the as-of moment, or now when that is earlier."""
    return min(as_of.astimezone(UTC), datetime.now(UTC)).replace(microsecond=0)


def continued(folder: Path, as_of: datetime, render: Callable[[FeedHistory], dict[str, bytes]]) -> dict[str, bytes]:
    """The files *render* gives for *folder*, continuing what the feeds already there showed."""
    history = FeedHistory.read(folder, build_moment(as_of))
    return history.cancel_dropped(render(history))

