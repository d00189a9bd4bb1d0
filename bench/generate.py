"""A seeded generator of realistic workplans at any size, for the benchmarks.

    python bench/generate.py --actions 10000 --seed 7 --out bench/work/10000

writes ``actions.yaml``: the RCM's parties and sets, meetings of several kinds on a
cadence spread over 2016–2027, and N actions with the mix a secretariat meets over a
decade — dated deadlines, deadlines at or relative to a meeting, "the next virtual
meeting" (expected until one is scheduled), recurring reports, fan-out to the member
set, dependency chains and a DAG, restricted items — plus the progress recorded in the
minutes (status changes with dates and notes): most of what older meetings asked for has
been delivered or waived, less of what recent ones did.

The same seed and size always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path

MEMBERS = ["BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"]
MEMBER_NAMES = ["Belize", "Canada", "Costa Rica", "Dominican Republic", "El Salvador", "Guatemala", "Honduras",
                "Mexico", "Nicaragua", "Panama", "United States"]
ORGS = [("IOM", "International Organization for Migration"),
        ("UNHCR", "Office of the United Nations High Commissioner for Refugees"),
        ("UNODC", "United Nations Office on Drugs and Crime"),
        ("PAHO", "Pan American Health Organization"),
        ("ICRC", "International Committee of the Red Cross")]
BODIES = [("TROIKA", "RCM Troika"), ("TWG", "Technical working group of specialized focal points")]
CENTRAL = ["BZ", "CR", "SV", "GT", "HN", "NI", "PA"]

THEMES = ["Statistics and information exchange", "Health of migrants in transit", "International protection",
          "Smuggling of migrants", "Assisted voluntary return", "Consular cooperation", "Work plan and governance"]
TAGS = ["matrices", "health", "protection", "smuggling", "return", "consular", "work-plan", "training", "funding"]
VERBS = ["Send", "Prepare", "Update", "Circulate", "Present", "Review", "Consolidate", "Share", "Draft", "Submit"]
OBJECTS = ["the statistical information matrix on extra-regional flows", "the list of specialized focal points",
           "a report on the health needs of migrants in transit", "the protocol for the exchange of information",
           "a proposal for a joint RCM-SACM approach", "the mapping of assistance capacities at the borders",
           "the terms of reference of the technical working group", "the draft Work Plan",
           "the nationality statistics requested by the TS", "a note on good practices in consular assistance",
           "the training plan for border officers", "the budget estimate for the next meeting"]

START = date(2016, 1, 15)
END = date(2027, 12, 15)
HELD_BEFORE = date(2026, 6, 1)  # meetings before this were held; progress is recorded before it


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _meetings(rng: random.Random, count: int) -> list[dict[str, object]]:
    span = (END - START).days
    out: list[dict[str, object]] = []
    for i in range(count):
        day = START + timedelta(days=span * i // max(count - 1, 1))
        if i % 12 == 11:
            kind = "vice-ministerial"
        elif i % 3 == 0:
            kind = "face-to-face"
        else:
            kind = "virtual"
        status = "held" if day < HELD_BEFORE else "planned"
        if rng.random() < 0.02:
            status = "cancelled"
        meeting: dict[str, object] = {
            "id": f"m{i:05d}-{kind[:4]}", "kind": kind, "day": day, "status": status,
            "title": f"{kind.replace('-', ' ').capitalize()} meeting {i + 1} of the Ad Hoc Group",
        }
        if kind == "face-to-face":
            meeting["end"] = day + timedelta(days=1)
            meeting["location"] = rng.choice(["Panama City, Panama", "San José, Costa Rica", "Mexico City, Mexico",
                                              "Tegucigalpa, Honduras", "Guatemala City, Guatemala"])
        elif kind == "virtual":
            meeting["url"] = f"https://meet.example.org/ahg-{i}"
        out.append(meeting)
    return out


def _owners(rng: random.Random) -> list[str]:
    r = rng.random()
    if r < 0.30:
        return ["TS"]
    if r < 0.55:
        return [rng.choice(MEMBERS)]
    if r < 0.72:
        return ["members"]
    if r < 0.76:
        return ["central"]
    if r < 0.84:
        return ["PPT"]
    if r < 0.91:
        return [rng.choice(ORGS)[0]]
    if r < 0.95:
        return ["TWG"]
    return ["TS", "PPT"]


def _expand(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for party in {"members": MEMBERS, "central": CENTRAL}.get(name, [name]):
            if party not in out:
                out.append(party)
    return out


def generate(actions: int, seed: int = 7) -> str:
    """The text of an actions file with *actions* actions."""
    rng = random.Random(seed)
    meetings = _meetings(rng, max(6, actions // 40))
    lines = [
        f"# Generated by bench/generate.py --actions {actions} --seed {seed}; do not edit.",
        "workplan: 1",
        "group: {id: rcm-ahg-bench, name: RCM Ad Hoc Group on Extra-regional Migration (benchmark), "
        "timezone: America/Panama, domain: bench.example.org}",
        "parties:",
        "  - {id: TS, name: RCM Technical Secretariat, kind: secretariat, email: [ts@example.org]}",
        "  - {id: PPT, name: RCM Presidency Pro-Tempore, kind: presidency, email: [ppt@example.org]}",
    ]
    lines += [f"  - {{id: {p}, name: {_q(n)}, kind: member, email: [focal.{p.lower()}@example.org]}}"
              for p, n in zip(MEMBERS, MEMBER_NAMES, strict=True)]
    lines += [f"  - {{id: {p}, name: {_q(n)}, kind: organization, email: [{p.lower()}@example.org]}}" for p, n in ORGS]
    lines += [f"  - {{id: {p}, name: {_q(n)}, kind: body}}" for p, n in BODIES]
    lines += ["sets:", f"  members: [{', '.join(MEMBERS)}]", f"  central: [{', '.join(CENTRAL)}]", "meetings:"]
    for m in meetings:
        fields = [f"id: {m['id']}", f"title: {_q(str(m['title']))}", f"kind: {m['kind']}", f"start: {m['day']}"]
        if "end" in m:
            fields.append(f"end: {m['end']}")
        if "location" in m:
            fields.append(f"location: {_q(str(m['location']))}")
        if "url" in m:
            fields.append(f"url: {_q(str(m['url']))}")
        fields.append(f"status: {m['status']}")
        lines.append("  - {" + ", ".join(fields) + "}")
    lines += [
        "cadence:",
        "  - {kind: face-to-face, per: year, at_least: 1, from: 2016-01-01}",
        "  - {kind: virtual, per: semester, at_least: 1, from: 2016-01-01}",
        "actions:",
    ]
    per_meeting = max(1, actions // len(meetings))
    for i in range(actions):
        mi = min(i // per_meeting, len(meetings) - 1)
        meeting = meetings[mi]
        mday: date = meeting["day"]  # type: ignore[assignment]
        aid = f"{meeting['id']}-a{i:06d}"
        theme = rng.choice(THEMES)
        owners = _owners(rng)
        lines += [
            f"  - id: {aid}",
            f"    title: {_q(f'{rng.choice(VERBS)} {rng.choice(OBJECTS)} ({i + 1})')}",
            f"    source: {{meeting: {meeting['id']}, ref: \"{1 + i % per_meeting}.{'abcd'[i % 4]}\", "
            f"text: {_q(f'It was agreed that {owners[0]} would follow up on item {i + 1}.')}}}",
            f"    theme: {_q(theme)}",
            f"    tags: [{rng.choice(TAGS)}]",
            f"    owners: [{', '.join(owners)}]",
        ]
        if rng.random() < 0.25:
            lines.append(f"    with: [{rng.choice(['PPT', 'IOM', 'UNHCR', 'members', 'TS'])}]")
        recurring = rng.random() < 0.04
        if recurring:
            lines += [f"    repeat: {rng.choice(['semester', 'year'])}",
                      f"    until: {date(mday.year + 3, mday.month, min(mday.day, 28))}"]
        else:
            r = rng.random()
            later = [m for m in meetings[mi + 1:mi + 8]]
            if r < 0.45 or not later:
                lines.append(f"    due: {mday + timedelta(days=rng.randint(14, 200))}")
            elif r < 0.62:
                target = rng.choice(later)
                offset = rng.choice(["", ", offset: -14d", ", offset: -7d"])
                lines.append(f"    due: {{meeting: {target['id']}{offset}}}")
            elif r < 0.90:
                lines.append(f"    due: {{next: virtual, after: {meeting['id']}}}")
            # else: an ongoing commitment, no deadline
        if i > 0 and rng.random() < 0.35:
            # mostly the action just before (chains), sometimes further back (a DAG)
            deps = {i - 1 if rng.random() < 0.5 else rng.randint(max(0, i - 60), i - 1)}
            if rng.random() < 0.15:
                deps.add(rng.randint(max(0, i - 200), i - 1))
            lines.append("    depends_on: [" + ", ".join(_aid(meetings, d, per_meeting) for d in sorted(deps)) + "]")
        if rng.random() < 0.05:
            lines.append("    visibility: restricted")
        if not recurring and meeting["status"] == "held":
            facts = _progress(rng, _expand(owners), mday)
            if facts:
                lines.append("    progress:")
                lines += facts
    return "\n".join(lines) + "\n"


def _aid(meetings: list[dict[str, object]], i: int, per_meeting: int) -> str:
    return f"{meetings[min(i // per_meeting, len(meetings) - 1)]['id']}-a{i:06d}"


def _progress(rng: random.Random, parties: list[str], mday: date) -> list[str]:
    out: list[str] = []
    limit = (HELD_BEFORE - mday).days - 1
    if limit < 2:
        return out
    # the older the meeting, the more of what it asked for has been delivered or waived by now
    age = (HELD_BEFORE - mday).days
    recorded = 0.9 if age > 730 else 0.75 if age > 365 else 0.45
    for party in parties:
        if rng.random() > recorded:
            continue
        on = mday + timedelta(days=rng.randint(1, min(limit, 400)))
        r = rng.random()
        if r < 0.2:
            out.append(f"      - {{party: {party}, status: in_progress, on: {on}}}")
            if rng.random() < 0.5 and (HELD_BEFORE - on).days > 2:
                done = on + timedelta(days=rng.randint(1, min(60, (HELD_BEFORE - on).days - 1)))
                out.append(f"      - {{party: {party}, status: done, on: {done}, note: \"received by email\"}}")
        elif r < 0.85:
            out.append(f"      - {{party: {party}, status: done, on: {on}, by: \"TS officer\"}}")
        elif r < 0.95:
            out.append(f"      - {{party: {party}, status: waived, on: {on}, "
                       f"note: \"no data collected for this period\"}}")
        else:
            out.append(f"      - {{party: {party}, status: cancelled, on: {on}}}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, required=True, help="number of actions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="folder to write actions.yaml into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "actions.yaml").write_text(generate(args.actions, args.seed), encoding="utf-8")


if __name__ == "__main__":
    main()
