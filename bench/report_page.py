"""Measure the report page (issue 20): pages per second, and how long a report takes to apply.

    .venv/bin/python bench/report_page.py --actions 10000 [--seconds 5] [--posts 40]

On a generated workplan (``bench/generate.py``, seeded) synced into the embedded SQLite file,
one party (``MX``, which owns about a tenth of the actions) is given a report key as a digest
would give it; then ``workplan serve`` runs on loopback and

- ``wrk`` asks for that party's page for ``--seconds`` (2 threads, 16 connections): pages per
  second, the issue's target being at least 200 at 10,000 actions;
- ``--posts`` reports are posted one after the other, each on another open assignment of the
  party, exactly as the page's form sends them (its CSRF token read from the page first), timed
  from the request to the answer's redirect: the issue's target is under 50 ms;
- beside them, ``workplan done`` for as many assignments as whole processes (what a secretariat
  typing the command waits), for scale.

Results go to ``bench/report-page.json`` and the table between the markers in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PYTHON = sys.executable
WORKPLAN = [str(Path(PYTHON).parent / "workplan")] if (Path(PYTHON).parent / "workplan").exists() else ["workplan"]
PARTY = "MX"
START_MARK = "<!-- report-page:start -->"
END_MARK = "<!-- report-page:end -->"

ISSUE_KEY = """
import sys
from datetime import UTC, datetime
from sqlalchemy import select
from sqlalchemy.orm import Session
from workplan import reporting
from workplan.config import load_settings
from workplan.db import make_engine
from workplan.models import Assignment
from pathlib import Path

settings = load_settings(Path.cwd())
engine = make_engine(settings.database_url)
with Session(engine) as session:
    rows = session.execute(select(Assignment.action_id, Assignment.occurrence).where(
        Assignment.party_id == sys.argv[1], Assignment.status.in_(("open", "in_progress")),
        Assignment.withdrawn_at.is_(None)).order_by(Assignment.action_id, Assignment.occurrence)).all()
    items = [reporting.Numbered(n, a, sys.argv[1], o) for n, (a, o) in enumerate(rows, 1)]
    key = reporting.issue(session, sys.argv[1], "bench", items, datetime.now(UTC), 30)
    session.commit()
print(key)
"""


class Forms(HTMLParser):
    """The report forms of a page: each form's action and its fields (hidden ones with their values)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}, "names": []}
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea") and self._form is not None and a.get("name"):
            name = str(a["name"])
            self._form["names"].append(name)
            if a.get("type") == "hidden":
                self._form["fields"][name] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def report_forms(page: bytes) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(page.decode("utf-8"))
    return [f for f in parser.forms if "status" in f["names"]]


def post(port: int, path: str, fields: dict[str, str]) -> tuple[int, float]:
    body = urllib.parse.urlencode(fields).encode("ascii")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return resp.status, elapsed


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1), "min_ms": round(ordered[0] * 1000, 1),
            "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1 if len(ordered) > 1 else 0] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "count": len(ordered)}


def measure(n: int, seed: int, work: Path, seconds: int, posts: int) -> dict[str, Any]:
    project = work / str(n)
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "actions.yaml").write_text(generate.generate(n, seed), encoding="utf-8")
    subprocess.run([*WORKPLAN, "sync", "-q"], cwd=project, check=True)
    key = subprocess.run([PYTHON, "-c", ISSUE_KEY, PARTY], cwd=project, check=True, capture_output=True,
                         text=True).stdout.strip()
    port = free_port()
    server = subprocess.Popen([*WORKPLAN, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
                              cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result: dict[str, Any] = {"actions": n, "seed": seed, "party": PARTY, "measured_at": _now()}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, page = get(port, f"/report/{key}")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.3)
        if status != 200:
            raise SystemExit(f"the report page answered {status}")
        forms = report_forms(page)
        result["page_bytes"], result["items_on_page"] = len(page), len(forms)
        if shutil.which("wrk"):
            out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}/report/{key}"],
                                 capture_output=True, text=True).stdout
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            result["pages_per_second"] = float(rps.group(1)) if rps else None
            result["non_2xx_3xx"] = int(bad.group(1)) if bad else 0
        timings = []
        statuses = []
        for form in forms[:posts]:
            fields = dict(form["fields"])
            fields.update(status="done", note="bench")
            code, elapsed = post(port, form["action"] or f"/report/{key}", fields)
            statuses.append(code)
            timings.append(elapsed)
        result["post"] = summary(timings) if timings else None
        result["post_statuses"] = sorted(set(statuses))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    # the command line's `done`, whole processes, on further open assignments of the party
    remaining = subprocess.run([*WORKPLAN, "list", "--owner", PARTY, "--status", "open", "--format", "json"],
                               cwd=project, check=True, capture_output=True, text=True).stdout
    ids = [r["action"] for r in json.loads(remaining) if not r.get("occurrence")][:max(3, min(posts, 10))]
    cli = []
    for aid in ids:
        started = time.perf_counter()
        subprocess.run([*WORKPLAN, "done", aid, "--party", PARTY], cwd=project, capture_output=True)
        cli.append(time.perf_counter() - started)
    result["cli_done"] = summary(cli) if cli else None
    return result


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| actions | page bytes | items | pages/s (wrk, 16 connections) | POST applied, median (p90) | "
             "`workplan done`, whole process, median |", "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        post = r.get("post") or {}
        cli = r.get("cli_done") or {}
        lines.append(f"| {r['actions']:,} | {r['page_bytes']:,} | {r['items_on_page']} | "
                     f"{r.get('pages_per_second') or 'n/a'} | {post.get('median_ms', 'n/a')} ms "
                     f"({post.get('p90_ms', 'n/a')} ms) | {cli.get('median_ms', 'n/a')} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure the report page.")
    parser.add_argument("--actions", default="10000", help="comma-separated sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "report-page")
    parser.add_argument("--results", type=Path, default=HERE / "report-page.json")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    args = parser.parse_args(argv)
    results = [measure(int(n), args.seed, args.work, args.seconds, args.posts) for n in args.actions.split(",")]
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = args.readme.read_text(encoding="utf-8")
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        _old, tail = rest.split(END_MARK, 1)
        args.readme.write_text(head + START_MARK + "\n" + table(results) + END_MARK + tail, encoding="utf-8")
    print(table(results), end="")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
