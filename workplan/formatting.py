"""Formatters: the same rows as a table for people, JSON or CSV for scripts.

The JSON objects are a contract (SPEC §3): field names never change meaning.
"""

from __future__ import annotations

import csv
import io
import json
import json.encoder
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .i18n import _, days_late, kind_word, ngettext, word
from .planning import assignment_state, is_external, to_be_scheduled
from .queries import ActionDetail, LogEntry, MeetingRow, Row

if TYPE_CHECKING:
    from .inbox import InboxLine
    from .planning import Deadline, MoveEffects
    from .reports import ConclusionsReport

FORMATS = ("table", "json", "csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def due_text(row: Row) -> str:
    if row.due is None:
        return _("to be scheduled") if to_be_scheduled(row.due_kind) else "-"
    mark = "*" if row.due_kind == "expected" else ""
    return f"{row.due.isoformat()}{mark}"


def row_json(row: Row) -> dict[str, Any]:
    return {
        "action": row.action,
        "title": row.title,
        "party": row.party,
        "occurrence": row.occurrence or None,
        "due": row.due.isoformat() if row.due else None,
        "due_kind": row.due_kind,
        "due_meeting": row.due_meeting,
        "status": row.status,
        "overdue": row.overdue,
        "days_overdue": row.days_overdue,
        "blocked_by": list(row.blocked_by),
        "at_risk": row.at_risk,
        "source": {"meeting": row.source_meeting or None, "ref": row.source_ref or None},
        "visibility": row.visibility,
        "tags": list(row.tags),
    }


def dumps(data: Any) -> str:
    """``json.dumps(data, ensure_ascii=False, indent=2)``, dates as ISO text, and a newline."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"


def _json_default(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(header: Sequence[str], records: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([csv_cell(v) for v in record])
    return buf.getvalue()


# A terminal acts on control characters: ESC starts sequences that clear the screen, move the
# cursor, retitle the window or hide what follows; CR and BS overwrite; C1 controls (U+0080-U+009F)
# are 8-bit forms of the same. Text from the workplan (titles, descriptions, notes, names) goes to
# a terminal with each of them shown as a visible escape (``\x1b``), newlines included: a line of
# a table or of `show` stays one line. JSON and CSV keep the exact data.
_CONTROL_CODES = (*range(0x20), *range(0x7F, 0xA0))
_VISIBLE = str.maketrans({code: f"\\x{code:02x}" for code in _CONTROL_CODES})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _has_control(text: str) -> bool:
    # str.isprintable is false for every control character (and for a few harmless ones, such as
    # a no-break space, which the search then clears); it is true for almost all text, and five
    # times faster than the search: the check of `list` at 34,000 rows is 0.01 s, not 0.05 s
    return not text.isprintable() and _CONTROL.search(text) is not None


def printable(text: str) -> str:
    """*text* as a terminal may show it: control characters as visible escapes (``\\x1b``).

    Text without any is returned as it is, unexamined by the translation, which looks every
    character up in a dictionary when the text is not ASCII."""
    return text.translate(_VISIBLE) if _has_control(text) else text


def width() -> int:
    return max(60, shutil.get_terminal_size((80, 24)).columns)


def table(header: Sequence[str], records: Sequence[Sequence[str]], flex: int = -1) -> str:
    """Columns padded to their widest cell; column *flex* is cut to fit the terminal."""
    if not records:
        return ""
    cols = len(header)
    # column by column, and each line formatted in one call: `workplan list` at 10,000 actions
    # prints 34,000 lines
    columns = [list(map(str, column)) for column in zip(header, *records, strict=False)]
    for i, column in enumerate(columns):
        if _has_control("".join(column)):  # one check per column; almost never true
            columns[i] = [printable(text) for text in column]
    widest = [max(map(len, column)) for column in columns]
    widths = list(widest)
    flex = flex % cols
    others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (cols - 1)
    widths[flex] = max(10, min(widths[flex], width() - others - 1))
    for i, w in enumerate(widths):
        if widest[i] > w:
            columns[i] = [text if len(text) <= w else text[: w - 1] + "…" for text in columns[i]]
    line = "  ".join([*(f"{{:<{w}}}" for w in widths[:-1]), "{}"])
    return "\n".join([line.format(*cells).rstrip() for cells in zip(*columns, strict=True)]) + "\n"


ROW_CSV_HEADER = ("action", "title", "party", "occurrence", "due", "due_kind", "status", "overdue",
                  "days_overdue", "blocked_by", "at_risk", "source_meeting", "source_ref")


# -- fast path: the JSON of a listing, beside json.dumps ------------------------------------------
# With an indent, json.dumps runs CPython's pure-Python encoder. `workplan overdue --format json` at
# 10,000 actions (10,369 rows, 5.2 MB) has the target "at most 1.5x `import sqlalchemy.orm`" in
# bench/README.md (measured 1.22x, 0.403 s against 0.330 s). Through json.dumps it costs 0.15 s more
# CPU (0.498 -> 0.650 s, medians of 5 interleaved, 2026-12-06), past the limit; through a generic
# writer in Python 0.095 s more. Checked against json.dumps by tests/test_fast_paths.py.

_escape: Callable[[str], str] = json.encoder.encode_basestring  # the C function when CPython has it


def fast_rows_json(rows: Sequence[Row]) -> str:
    """``dumps([row_json(r) for r in rows])``, byte for byte, written row by row from a template."""
    if not rows:
        return "[]\n"
    esc = _escape
    parts = []
    for r in rows:
        occurrence = esc(r.occurrence) if r.occurrence else "null"
        parts.append(
            f'{{\n    "action": {esc(r.action)},\n    "title": {esc(r.title)},\n    "party": {esc(r.party)},'
            f'\n    "occurrence": {occurrence},'
            f'\n    "due": {esc(r.due.isoformat()) if r.due else "null"},\n    "due_kind": {esc(r.due_kind)},'
            f'\n    "due_meeting": {"null" if r.due_meeting is None else esc(r.due_meeting)},'
            f'\n    "status": {esc(r.status)},\n    "overdue": {"true" if r.overdue else "false"},'
            f'\n    "days_overdue": {"null" if r.days_overdue is None else int.__repr__(r.days_overdue)},'
            f'\n    "blocked_by": {_texts(r.blocked_by)},\n    "at_risk": {"true" if r.at_risk else "false"},'
            f'\n    "source": {{\n      "meeting": {esc(r.source_meeting) if r.source_meeting else "null"},'
            f'\n      "ref": {esc(r.source_ref) if r.source_ref else "null"}\n    }},'
            f'\n    "visibility": {esc(r.visibility)},\n    "tags": {_texts(r.tags)}\n  }}'
        )
    return "[\n  " + ",\n  ".join(parts) + "\n]\n"


def _texts(values: Sequence[str]) -> str:
    """A list of strings as a value at the depth of a row's fields."""
    if not values:
        return "[]"
    return "[\n      " + ",\n      ".join(map(_escape, values)) + "\n    ]"


def rows(rows: Sequence[Row], fmt: str, kind: str = "list") -> str:
    if fmt == "json":
        return fast_rows_json(rows)
    if fmt == "csv":
        return to_csv(ROW_CSV_HEADER, [
            (r.action, r.title, r.party, r.occurrence, r.due.isoformat() if r.due else "", r.due_kind, r.status,
             str(r.overdue).lower(), "" if r.days_overdue is None else r.days_overdue, " ".join(r.blocked_by),
             str(r.at_risk).lower(), r.source_meeting, r.source_ref)
            for r in rows
        ])
    if not rows:
        return ""
    waits = _("[waits on {actions}] ")
    words: dict[str, str] = {}  # each state's word, looked up once

    def title(r: Row) -> str:
        return waits.format(actions=", ".join(r.blocked_by)) + r.title if r.blocked_by else r.title

    def state(r: Row) -> str:
        name = assignment_state(r)
        said = words.get(name)
        if said is None:
            said = words[name] = word(name)
        return said

    if kind == "overdue":
        body = table((_("LATE"), _("DUE"), _("OWNER"), _("ACTION"), _("TITLE")),
                     [(days_late(r.days_overdue or 0), due_text(r), r.party, r.action, title(r)) for r in rows])
    else:
        body = table((_("ACTION"), _("OWNER"), _("DUE"), _("STATE"), _("TITLE")),
                     [(r.action, r.party, due_text(r), state(r), title(r)) for r in rows])
    if any(r.due_kind == "expected" for r in rows):
        body += "* " + _("expected: that meeting is not scheduled yet; due at the end of its cadence slot") + "\n"
    return body


def detail(d: ActionDetail, fmt: str) -> str:
    if fmt == "json":
        return dumps({
            "action": d.id, "title": d.title, "description": d.description, "theme": d.theme, "tags": d.tags,
            "owners": d.owners, "with": d.with_, "requested_by": d.requested_by, "conclusion": d.conclusion or None,
            "source": {"meeting": d.source_meeting or None, "ref": d.source_ref or None, "text": d.source_text or None},
            "due": d.due.isoformat() if d.due else None, "due_kind": d.due_kind, "due_meeting": d.due_meeting,
            "visibility": d.visibility, "depends_on": d.depends_on, "needed_by": d.dependants,
            "blocked_by": d.blocked_by, "recurrence": d.recurrence, "withdrawn": d.withdrawn,
            "assignments": [row_json(r) for r in d.assignments],
            **({"roles": d.role_labels} if d.role_labels else {}),
        })
    if fmt == "csv":
        return rows(d.assignments, "csv")
    if d.due_kind == "none":
        due = _("none (an ongoing commitment)")
    elif to_be_scheduled(d.due_kind):
        due = _("to be scheduled: at the next {kind} meeting, which nothing expects yet and none is scheduled").format(
            kind=word(d.due_next_kind))
    elif d.due_kind == "expected":
        due = _("{day} (expected: the next {kind} meeting is not scheduled yet; this is the end of the cadence slot "
                "it should fall in)").format(day=d.due, kind=word(d.due_next_kind) if d.due_next_kind else _("such"))
    elif d.due_kind == "meeting":
        due = _("{day} (at meeting {meeting})").format(day=d.due, meeting=d.due_meeting)
    else:
        due = str(d.due)
    if d.recurrence:
        due = _("recurring ({rule}), from {day}").format(
            rule=word(d.recurrence.get("repeat") or "") or d.recurrence.get("rrule"), day=d.recurrence.get("from"))
    # labels padded to one width, whatever their length in the language
    labels = {"source:": _("source:"), "due:": _("due:"), "owners:": _("owners:"), "with:": _("with:"),
              "depends on:": _("depends on:"), "needed by:": _("needed by:"), "BLOCKED by:": _("BLOCKED by:"),
              "visibility:": _("visibility:"), "theme/tags:": _("theme/tags:"), "assignments:": _("assignments:"),
              "conclusion:": _("conclusion:"), "asked by:": _("asked by:")}
    pad = max(len(label) for key, label in labels.items() if key != "assignments:") + 1

    def field(key: str, value: str) -> str:
        return f"  {labels[key].ljust(pad)}{value}"

    lines = [f"{d.id}: {d.title}" + (("  [" + _("WITHDRAWN") + "]") if d.withdrawn else "")]
    if d.source_meeting or d.source_ref:
        lines.append(field("source:", d.source_meeting + (f", {d.source_ref}" if d.source_ref else "")))
    if d.source_text:
        lines.extend(" " * (pad + 2) + line for line in f"\u201c{d.source_text}\u201d".splitlines())
    if d.conclusion:
        lines.append(field("conclusion:", d.conclusion))
    lines.append(field("due:", due))
    named = d.role_labels  # a role with its holder: PPT (Panama)
    lines.append(field("owners:", ", ".join(named.get(o, o) for o in d.owners) or "-"))
    if d.with_:
        lines.append(field("with:", ", ".join(named.get(w, w) for w in d.with_)))
    if d.requested_by:
        lines.append(field("asked by:", ", ".join(d.requested_by)))
    if d.depends_on:
        lines.append(field("depends on:", ", ".join(d.depends_on)))
    if d.dependants:
        lines.append(field("needed by:", ", ".join(d.dependants)))
    if d.blocked_by:
        lines.append(field("BLOCKED by:", _("{actions} (not closed yet)").format(actions=", ".join(d.blocked_by))))
    if d.visibility != "public":
        lines.append(field("visibility:", d.visibility))
    if d.theme or d.tags:
        lines.append(field("theme/tags:", ", ".join([t for t in [d.theme, *d.tags] if t])))
    if d.description:
        lines.append("")
        lines.extend("  " + line for line in d.description.splitlines())
    lines.append("")
    if d.assignments:
        lines.append("  " + labels["assignments:"])
        for r in d.assignments:
            extra = ", " + days_late_text(r.days_overdue or 0) if r.overdue else ""
            occ = f" {r.occurrence}" if r.occurrence else ""
            lines.append(f"    {named.get(r.party, r.party)}{occ}: {word(assignment_state(r))}{extra}")
    # the description and the quoted text keep their lines (split above); within a line, printable
    return "\n".join(map(printable, lines)) + "\n"


def log(entries: Sequence[LogEntry], fmt: str) -> str:
    if fmt == "json":
        return dumps([
            {"id": e.id, "action": e.action, "party": e.party, "occurrence": e.occurrence or None,
             "on": e.occurred_at.isoformat(), "recorded": e.recorded_at.isoformat(), "by": e.by,
             "from": e.from_status, "to": e.to_status, "note": e.note, "origin": e.origin, "evidence": e.evidence or None,
             **({"held_by": e.held_by.split()} if e.held_by is not None else {})}
            for e in entries
        ])
    header = ("on", "action", "party", "from", "to", "by", "origin", "note", "evidence")
    records = [
        (e.occurred_at.date().isoformat(), e.action,
         e.party + (f" ({', '.join(e.held_by.split())})" if e.held_by else "") + (f" {e.occurrence}" if e.occurrence else ""),
         e.from_status, e.to_status, e.by, e.origin, e.note, e.evidence)
        for e in entries
    ]
    if fmt == "csv":
        return to_csv(header, records)
    return table((_("ON"), _("ACTION"), _("PARTY"), _("CHANGE"), _("BY"), _("NOTE")),
                 [(r[0], r[1], r[2], f"{word(r[3])} → {word(r[4])}", _by(r[5], r[6]), " ".join(filter(None, r[7:9])))
                  for r in records])


def _by(by: str, origin: str) -> str:
    """Who made a change, and how when it came from a focal point (the report page, a reply)."""
    if origin in ("web", "email"):
        return f"{by} ({origin})" if by else origin
    return by or origin


def inbox_status(status: str) -> str:
    """What became of a reply (``inbox_message.status``) as the reader's language says it."""
    return {"applied": _("applied"), "partly": _("partly applied"), "nothing": _("nothing applied"),
            "held": _("held"), "ignored": _("ignored")}.get(status, status)


def inbox_lines(lines: Sequence[InboxLine], fmt: str) -> str:
    """`workplan inbox list`: the replies, newest first."""
    if fmt == "json":
        return dumps([
            {"received": f"{m.received_at.isoformat()}Z", "sender": m.sender, "party": m.party, "status": m.status,
             "reason": m.reason, "subject": m.subject, "message_id": m.message_id, "applied": list(m.applied),
             "not_applied": list(m.not_understood), "confirmation": m.confirmation or None,
             "confirmation_error": m.confirm_error or None, "text": m.raw}
            for m in lines
        ])
    if not lines:
        return _("No reply is held for the secretariat.") + "\n"

    def detail(m: InboxLine) -> str:
        done = "; ".join(f"[{a['number']}] {a['action']} → {word(str(a['status']))}" for a in m.applied)
        missed = "; ".join(f"“{u['line']}”: {u['reason']}" for u in m.not_understood)
        text = " | ".join(filter(None, (m.reason, done, (_("not applied: ") + missed) if missed else "")))
        if m.confirmation in ("pending", "sending", "failed"):
            text += " | " + {"pending": _("confirmation not sent yet"),
                             "sending": _("confirmation interrupted, may not have arrived"),
                             "failed": _("confirmation could not be sent")}[m.confirmation]
        return text

    return table((_("RECEIVED"), _("SENDER"), _("PARTY"), _("STATUS"), _("WHAT"), ),
                 [(f"{m.received_at:%Y-%m-%d %H:%M}", m.sender, m.party or "", inbox_status(m.status), detail(m))
                  for m in lines])


def meetings(items: Sequence[MeetingRow], periods: Sequence[Any], fmt: str) -> str:
    meeting_objs = [
        {"id": m.id, "title": m.title, "kind": m.kind, "start": m.start, "end": m.end, "timezone": m.timezone,
         "location": m.location or None, "url": m.url or None, "status": m.status,
         "body": m.body or None, "own": not is_external(m)}
        for m in items
    ]
    period_objs = [
        {"kind": p.kind, "per": p.per, "period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(),
         "required": p.required, "held": p.held, "scheduled": p.scheduled, "verdict": p.verdict}
        for p in periods
    ]
    if fmt == "json":
        return dumps({"meetings": meeting_objs, "cadence": period_objs})
    if fmt == "csv":
        return to_csv(("id", "kind", "start", "end", "status", "location", "title"),
                      [(m.id, m.kind, m.start, m.end or "", m.status, m.location, m.title) for m in items])
    out = table((_("MEETING"), _("KIND"), _("WHEN"), _("STATUS"), _("TITLE")),
                [(m.id, m.body or word(m.kind), m.start + (f" → {m.end}" if m.end and m.end != m.start else ""), word(m.status),
                  m.title) for m in items])
    kinds: dict[str, list[Any]] = {}
    for p in periods:
        kinds.setdefault(p.kind, []).append(p)
    for kind, plist in kinds.items():
        first = plist[0]
        out += "\n" + ngettext("Cadence: at least {count} {kind} meeting per {per}",
                               "Cadence: at least {count} {kind} meetings per {per}", first.required).format(
            count=first.required, kind=kind_word(kind, first.required), per=word(first.per)) + "\n"
        out += table((_("PERIOD"), _("VERDICT"), _("MEETINGS")), [
            (p.label, _verdict(p.verdict), ", ".join(p.held + [_("{meeting} (planned)").format(meeting=s)
                                                               for s in p.scheduled]) or "-")
            for p in plist
        ])
    return out


def _verdict(verdict: str) -> str:
    return {
        "met": _("met"),
        "scheduled": _("scheduled, not held yet"),
        "missed": _("MISSED"),
        "pending": _("not yet (period in progress)"),
        "partial": _("not required (rule began mid-period)"),
    }.get(verdict, verdict)


def days_late_text(days: int) -> str:
    return ngettext("{count} day late", "{count} days late", days).format(count=days)


def conclusions(report: ConclusionsReport, fmt: str) -> str:
    """The follow-up of conclusions for scripts: JSON (every field, texts whole) or CSV (a row
    per conclusion; its actions as ``id: state`` and the owners of each by state)."""
    entries: list[dict[str, Any]] = [{
        "id": c.id, "meeting": c.source.meeting, "ref": c.source.ref, "kind": c.kind, "state": c.state,
        "text": c.text, "requested_by": [p.id for p in c.requested_by], "addressed_to": [p.id for p in c.addressed_to],
        "actions": [{
            "action": a.action, "title": a.title, "state": a.state, "due": a.due, "due_kind": a.due_kind,
            "requested_by": [p.id for p in a.requested_by],
            "owners": [{"party": o.party.id, "state": o.state, "status": o.status} for o in a.owners],
        } for a in c.actions],
        "restricted_actions": c.restricted,
    } for c in report.conclusions]
    if fmt == "json":
        return dumps({"as_of": report.as_of, "meeting": report.meeting.id if report.meeting else None,
                      "counts": report.counts, "conclusions": entries})
    header = ["conclusion", "meeting", "ref", "kind", "state", "requested_by", "addressed_to", "actions", "owners",
              "text"]
    return to_csv(header, [[
        e["id"], e["meeting"], e["ref"], e["kind"], e["state"], " ".join(e["requested_by"]),
        " ".join(e["addressed_to"]), "; ".join(f"{a['action']}: {a['state']}" for a in e["actions"]),
        "; ".join(f"{a['action']}: " + ", ".join(f"{o['party']} {o['state']}" for o in a["owners"])
                  for a in e["actions"]),
        e["text"],
    ] for e in entries])


def _deadline_text(d: Deadline) -> str:
    if d.day is None:
        return _("to be scheduled") if to_be_scheduled(d.kind) else _("no deadline")
    if d.meeting:
        return _("{day} (at {meeting})").format(day=d.day.isoformat(), meeting=d.meeting)
    if d.kind == "expected":
        return _("{day} (expected)").format(day=d.day.isoformat())
    return d.day.isoformat()


def move_effects(effects: MoveEffects, fmt: str) -> str:
    """`workplan meetings move` (and the lines `sync` prints when a meeting moved)."""
    if fmt == "json":
        def deadline(d: Deadline) -> dict[str, Any]:
            return {"due": d.day.isoformat() if d.day else None, "due_kind": d.kind, "due_meeting": d.meeting}

        return dumps({
            "meetings": [{"id": m.meeting, "from": {"start": m.old_start, "end": m.old_end},
                          "to": {"start": m.new_start, "end": m.new_end}} for m in effects.meetings],
            "deadlines": [{"action": x.action, "party": x.party, "occurrence": x.occurrence or None,
                           "old": deadline(x.old), "new": deadline(x.new)} for x in effects.deadlines],
            "before_prerequisite": [{"action": x.action, "due": x.due.isoformat(), "waits_on": x.prerequisite,
                                     "waits_on_due": x.prerequisite_due.isoformat()} for x in effects.early],
            "cadence": [{"kind": x.kind, "period": x.period, "old": x.old or None, "new": x.new}
                        for x in effects.cadence],
        })
    return "".join(line + "\n" for line in move_lines(effects))


def move_lines(effects: MoveEffects) -> list[str]:
    out = []
    for m in effects.meetings:
        out.append(_("meeting {meeting}: {old} → {new}").format(
            meeting=m.meeting, old=m.old_start + (f"–{m.old_end}" if m.old_end and m.old_end != m.old_start else ""),
            new=m.new_start + (f"–{m.new_end}" if m.new_end and m.new_end != m.new_start else "")))
    if not effects.deadlines:
        out.append("  " + _("no deadline moves"))
    for x in effects.deadlines:
        out.append("  " + _("deadline {action} ({party}): {old} → {new}").format(
            action=x.action + (f"@{x.occurrence}" if x.occurrence else ""), party=x.party,
            old=_deadline_text(x.old), new=_deadline_text(x.new)))
    for e in effects.early:
        out.append("  " + _("{action} would fall due on {due}, before {prerequisite} it waits on ({prerequisite_due})")
                   .format(action=e.action, due=e.due.isoformat(), prerequisite=e.prerequisite,
                           prerequisite_due=e.prerequisite_due.isoformat()))
    for c in effects.cadence:
        out.append("  " + _("cadence of {kind} meetings, {period}: {old} → {new}").format(
            kind=word(c.kind), period=c.period, old=_verdict(c.old) if c.old else "-", new=_verdict(c.new)))
    return out
