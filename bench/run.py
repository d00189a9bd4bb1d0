"""Measure workplan at several sizes beside Taskwarrior 2.6 and the interpreter's floor.

    .venv/bin/python bench/run.py --sizes 1000,10000 --runs 5

Each command is a whole process, timed from spawn to exit over ``--runs`` runs (median,
min and max), with its peak resident memory (``wait4``'s rusage of that one child). The
workplans come from ``bench/generate.py`` (seeded), and the same assignments, due dates and
dependencies are imported into a private Taskwarrior database so that ``task overdue`` and
``task list`` run on the same data in the same run. Results go to ``bench/results.json`` and
the table between the markers in ``bench/README.md``; a size measured earlier and not
re-measured is kept, marked with the time it was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PYTHON = sys.executable
WORKPLAN = [str(Path(PYTHON).parent / "workplan") if (Path(PYTHON).parent / "workplan").exists() else "workplan"]
# --lift-file-limit: workplan's limit on actions files (the setting actions.max_megabytes, 20 MB by
# default) raised for the measured commands: a 100,000-action workplan is about 50 MB
LIFTED_LIMIT = {"WORKPLAN_ACTIONS_MAX_MEGABYTES": "2048"}
OWNER = "MX"
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"

FLOORS = {
    "python -c pass": [PYTHON, "-c", "pass"],
    "python -c 'import click'": [PYTHON, "-c", "import click"],
    "python -c 'import sqlalchemy.orm'": [PYTHON, "-c", "import sqlalchemy.orm"],
}

# name: (argv after `workplan`, the floor it is compared with)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "workplan --help": (["--help"], "python -c 'import click'"),
    "sync (first)": (["sync", "-q"], "python -c 'import sqlalchemy.orm'"),
    "sync (nothing changed)": (["sync", "-q"], "python -c 'import sqlalchemy.orm'"),
    "overdue --format json": (["overdue", "--format", "json"], "python -c 'import sqlalchemy.orm'"),
    f"list --owner {OWNER}": (["list", "--owner", OWNER], "python -c 'import sqlalchemy.orm'"),
    "agenda --next-virtual": (["agenda", "--next-virtual"], "python -c 'import sqlalchemy.orm'"),
    "digest --all --out DIR": (["digest", "--all", "--out", "{work}/digests"], "python -c 'import sqlalchemy.orm'"),
    "calendars --out DIR": (["calendars", "--out", "{work}/calendars"], "python -c 'import sqlalchemy.orm'"),
}
TASK_COMMANDS = {
    "task overdue": (["overdue"], "overdue --format json"),
    f"task owner:{OWNER} list": ([f"owner:{OWNER}", "list"], f"list --owner {OWNER}"),
}


# ---------------------------------------------------------------------------
# timing


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 900) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one whole process."""
    # a child forked from this process inherits its resident size as its peak (the kernel keeps the
    # high-water mark across exec), so the peak is read by /usr/bin/time, a small process, when it is there
    with tempfile.NamedTemporaryFile(suffix=".rss", delete=False) as rss_file:
        pass
    if Path("/usr/bin/time").exists():
        argv = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name, *argv]
    with tempfile.TemporaryFile() as errfile:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errfile)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errfile.seek(0)
        err = errfile.read().decode(errors="replace")
    if proc.returncode != 0:
        print(f"  ! {' '.join(argv)} exited {proc.returncode}: {err.strip()[:300]}", file=sys.stderr)
    peak_kb = usage.ru_maxrss
    text = Path(rss_file.name).read_text().strip().splitlines()
    os.unlink(rss_file.name)
    if text and text[-1].isdigit():
        peak_kb = int(text[-1])
    return elapsed, usage.ru_utime + usage.ru_stime, peak_kb / 1024, proc.returncode


SKIP_TASKWARRIOR = False
PATIENCE = 60.0  # a command slower than this is run once: its spread matters less than the run's length


def measure(argv: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None,
            before: Any = None, timeout: float = 900) -> dict[str, Any]:
    times: list[float] = []
    cpu: list[float] = []
    rss: list[float] = []
    codes: list[int] = []
    for _ in range(runs):
        if before is not None:
            before()
        t, c, m, code = timed(argv, cwd, env, timeout)
        times.append(t)
        cpu.append(c)
        rss.append(m)
        codes.append(code)
        if t > PATIENCE:
            break
    return {
        "argv": argv, "times": [round(t, 4) for t in times], "median": round(statistics.median(times), 4),
        "min": round(min(times), 4), "max": round(max(times), 4), "cpu_median": round(statistics.median(cpu), 4),
        "peak_rss_mb": round(max(rss), 1),
        "ok": all(c == 0 for c in codes), "timed_out": max(times) >= timeout,
    }


# ---------------------------------------------------------------------------
# the machine


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.1f} GB"
    except (OSError, AttributeError):
        pass
    import sqlite3

    import yaml

    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "bytecode": "compiled before measuring",
        "taskwarrior": _version(["task", "--version"]), "wrk": _version(["wrk", "--version"]),
    }


def compile_workplan() -> None:
    """Give workplan's modules their bytecode before anything is timed, as an installed package
    has it. An editable install leaves it to the first import, and where PYTHONDONTWRITEBYTECODE
    is set (this machine kind sets it) every command compiled workplan's sources again: about a
    tenth of a second of each command measured before."""
    import workplan

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(Path(workplan.__file__).parent)], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def _version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    out = subprocess.run(argv, capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def ensure_debian(*packages: str) -> None:
    """Install the Debian packages whose commands are missing, when we may (root, apt-get)."""
    missing = [p for p in packages if shutil.which({"taskwarrior": "task"}.get(p, p)) is None]
    if not missing or shutil.which("apt-get") is None or os.geteuid() != 0:
        return
    print(f"installing {', '.join(missing)} with apt-get", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], stdout=subprocess.DEVNULL, check=False)


# ---------------------------------------------------------------------------
# Taskwarrior: the same assignments, due dates and dependencies


def taskwarrior_env(work: Path) -> dict[str, str]:
    rc = work / "taskrc"
    data = work / "taskdata"
    data.mkdir(parents=True, exist_ok=True)
    rc.write_text(
        f"data.location={data}\nconfirmation=off\nverbose=nothing\nhooks=off\ngc=on\n"
        "uda.owner.type=string\nuda.owner.label=Owner\nrecurrence=off\ndetection=off\ncolor=off\n",
        encoding="utf-8",
    )
    return {**os.environ, "TASKRC": str(rc), "TASKDATA": str(data)}


def task_records(project: Path) -> list[dict[str, Any]]:
    """One Taskwarrior task per assignment, from what workplan itself resolved."""
    from workplan import spec

    out = subprocess.run([*WORKPLAN, "list", "--format", "json"], cwd=project, capture_output=True, check=True)
    rows = json.loads(out.stdout)
    spec.MAX_FILE_BYTES = max(spec.MAX_FILE_BYTES, (project / "actions.yaml").stat().st_size + 1)  # only reading here
    doc = spec.load(project / "actions.yaml")
    tz_offset = timedelta(hours=5)  # America/Panama is UTC-5 all year: the end of the local day
    ids: dict[str, list[str]] = {}
    tasks = []
    for row in rows:
        key = f"{row['action']}|{row['party']}|{row['occurrence'] or ''}"
        task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
        ids.setdefault(row["action"], []).append(task_id)
        task: dict[str, Any] = {
            "uuid": task_id, "description": row["title"], "entry": "20160101T000000Z",
            "project": row["source"]["meeting"] or "none", "owner": row["party"],
            "tags": list(row["tags"] or []),
        }
        if row["due"]:
            end = datetime.combine(date.fromisoformat(row["due"]) + timedelta(days=1), datetime.min.time()) + tz_offset
            task["due"] = end.strftime("%Y%m%dT%H%M%SZ")
        status = row["status"]
        if status == "done":
            task.update(status="completed", end="20260601T000000Z")
        elif status in ("waived", "cancelled"):
            task.update(status="deleted", end="20260601T000000Z")
        else:
            task["status"] = "pending"
            if status == "in_progress":
                task["start"] = "20260101T000000Z"
        task["_action"] = row["action"]
        tasks.append(task)
    for task in tasks:
        deps = [t for d in doc.actions[task.pop("_action")].depends_on for t in ids.get(d, [])]
        if deps and task["status"] == "pending":
            task["depends"] = ",".join(deps)
    return tasks


def setup_taskwarrior(project: Path, work: Path, timeout: float) -> dict[str, Any]:
    if shutil.which("task") is None:
        return {"available": False, "reason": "taskwarrior is not installed"}
    shutil.rmtree(work, ignore_errors=True)
    env = taskwarrior_env(work)
    if SKIP_TASKWARRIOR:
        return {"available": False, "reason": "not run (--skip-taskwarrior)"}
    try:
        tasks = task_records(project)
    except subprocess.CalledProcessError as exc:
        return {"available": False, "reason": f"`workplan list --format json` failed: {exc.stderr.decode()[:200]}"}
    (work / "import.json").write_text(json.dumps(tasks), encoding="utf-8")
    start = time.perf_counter()
    try:
        subprocess.run(["task", "import", str(work / "import.json")], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"available": False, "reason": f"task import of {len(tasks)} tasks took over {timeout:.0f} s"}
    return {"available": True, "tasks": len(tasks), "import_seconds": round(time.perf_counter() - start, 2),
            "env": env}


# ---------------------------------------------------------------------------
# the feed server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_server(project: Path, seconds: int) -> dict[str, Any]:
    probe = subprocess.run([*WORKPLAN, "serve", "--help"], cwd=project, capture_output=True)
    if probe.returncode != 0:
        return {"available": False, "reason": "`workplan serve` is not available in this build"}
    if shutil.which("wrk") is None:
        return {"available": False, "reason": "wrk is not installed"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*WORKPLAN, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
                              cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        etag = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/calendars/all.ics", timeout=30) as resp:
                    etag = resp.headers.get("ETag")
                    size = len(resp.read())
                break
            except OSError:
                if server.poll() is not None:
                    err = server.stderr.read().decode(errors="replace") if server.stderr else ""
                    return {"available": False, "reason": f"`workplan serve` exited: {err.strip()[:200]}"}
                time.sleep(0.3)
        if etag is None:
            return {"available": False, "reason": "the server did not answer /calendars/all.ics with an ETag"}
        result: dict[str, Any] = {"available": True, "feed_bytes": size, "etag": etag}
        for name, extra in (("full", []), ("not_modified", ["-H", f"If-None-Match: {etag}"])):
            out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *extra,
                                  f"{base}/calendars/all.ics"], capture_output=True, text=True)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
            errors = re.search(r"Socket errors:.*", out.stdout)
            result[name] = {"requests_per_second": float(rps.group(1)) if rps else None,
                            "non_2xx_3xx": int(bad.group(1)) if bad else 0,
                            "socket_errors": errors.group(0) if errors else ""}
        return result
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


# ---------------------------------------------------------------------------
# one size


def bench_size(n: int, runs: int, root: Path, seed: int, task_timeout: float, wrk_seconds: int) -> dict[str, Any]:
    work = root / str(n)
    project = work / "project"
    shutil.rmtree(work, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "actions.yaml").write_text(generate.generate(n, seed), encoding="utf-8")
    print(f"[{n}] generated {project / 'actions.yaml'}", file=sys.stderr)
    result: dict[str, Any] = {"actions": n, "seed": seed, "measured_at": _now(),
                              "file_bytes": (project / "actions.yaml").stat().st_size, "commands": {}}

    def fresh() -> None:
        shutil.rmtree(project / ".workplan", ignore_errors=True)

    for name, (args, _floor) in COMMANDS.items():
        argv = [*WORKPLAN, *(a.format(work=work) for a in args)]
        print(f"[{n}] {name}", file=sys.stderr)
        result["commands"][name] = measure(argv, project, runs, before=fresh if name == "sync (first)" else None)
    result["assignments"], result["events"] = _counts(project)
    tw = setup_taskwarrior(project, work / "taskwarrior", task_timeout)
    env = tw.pop("env", None)
    result["taskwarrior"] = tw
    if tw["available"]:
        print(f"[{n}] taskwarrior: imported {tw['tasks']} tasks in {tw['import_seconds']} s", file=sys.stderr)
        for name, (args, _ours) in TASK_COMMANDS.items():
            print(f"[{n}] {name}", file=sys.stderr)
            result["commands"][name] = measure(["task", *args], work, runs, env=env, timeout=task_timeout)
    print(f"[{n}] feed server", file=sys.stderr)
    result["server"] = measure_server(project, wrk_seconds)
    return result


def _counts(project: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(project / ".workplan" / "workplan.db") as conn:
        assignments = conn.execute("SELECT count(*) FROM assignment").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM event").fetchone()[0]
    return int(assignments), int(events)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------
# ratios and targets


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    floors = results["floors"]
    sizes = results["sizes"]
    out: dict[str, Any] = {"ours_over_floor": {}, "taskwarrior_over_ours": {}, "growth_100k_over_10k": {}}
    for size, data in sizes.items():
        cmds = data["commands"]
        run_floors = data.get("floors", floors)
        out["ours_over_floor"][size] = {
            name: round(cmds[name]["median"] / run_floors[floor]["median"], 2)
            for name, (_a, floor) in COMMANDS.items() if name in cmds
        }
        out["taskwarrior_over_ours"][size] = {
            name: round(cmds[name]["median"] / cmds[ours]["median"], 2)
            for name, (_a, ours) in TASK_COMMANDS.items() if name in cmds and ours in cmds
        }
    if "10000" in sizes and "100000" in sizes:
        small, big = sizes["10000"]["commands"], sizes["100000"]["commands"]
        out["growth_100k_over_10k"] = {
            name: {"time": round(big[name]["median"] / small[name]["median"], 2),
                   "memory": round(big[name]["peak_rss_mb"] / small[name]["peak_rss_mb"], 2)}
            for name in big if name in small
        }
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 7 with the measured value (wall clock) and the same from CPU time
    (user + system: what the machine's other load does not inflate); `met` is None when it
    could not be measured."""
    floors, sizes = results["floors"], results["sizes"]
    out: list[dict[str, Any]] = []

    def add(what: str, value: float | None, cpu: float | None, limit: float, unit: str,
            higher_is_better: bool = False) -> None:
        met = None if value is None else (value >= limit if higher_is_better else value <= limit)
        out.append({"target": what, "value": value, "cpu_value": cpu, "limit": limit, "unit": unit, "met": met,
                    "higher_is_better": higher_is_better})

    def get(size: str | None, name: str, key: str = "median") -> float | None:
        cmd = sizes.get(size or "", {}).get("commands", {}).get(name)
        return cmd[key] if cmd and cmd["ok"] else None

    def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
        return None if a is None or b is None or not b else round(a / b, digits)

    first = next(iter(sizes), None)
    click_floor = sizes.get(first or "", {}).get("floors", floors)["python -c 'import click'"]
    orm_floor = sizes.get("10000", {}).get("floors", floors)["python -c 'import sqlalchemy.orm'"]
    add("workplan --help ÷ import click", ratio(get(first, "workplan --help"), click_floor["median"]),
        ratio(get(first, "workplan --help", "cpu_median"), click_floor["cpu_median"]), 1.5, "×")
    ten = "10000"
    add("overdue --format json at 10k ÷ import sqlalchemy.orm",
        ratio(get(ten, "overdue --format json"), orm_floor["median"]),
        ratio(get(ten, "overdue --format json", "cpu_median"), orm_floor["cpu_median"]), 1.5, "×")
    add("task overdue ÷ overdue --format json at 10k",
        ratio(get(ten, "task overdue"), get(ten, "overdue --format json"), 1),
        ratio(get(ten, "task overdue", "cpu_median"), get(ten, "overdue --format json", "cpu_median"), 1),
        20, "×", higher_is_better=True)
    for name, limit in (("sync (first)", 10), ("sync (nothing changed)", 2), ("calendars --out DIR", 5),
                        ("digest --all --out DIR", 5)):
        add(f"{name} at 10k", get(ten, name), get(ten, name, "cpu_median"), limit, "s")
    growth = results["ratios"]["growth_100k_over_10k"]
    if growth:
        ours = {k: v for k, v in growth.items() if not k.startswith("task")}
        worst = max(ours.items(), key=lambda kv: kv[1]["time"])
        small, big = sizes["10000"]["commands"][worst[0]], sizes["100000"]["commands"][worst[0]]
        add(f"worst growth 100k ÷ 10k ({worst[0]})", worst[1]["time"],
            ratio(big["cpu_median"], small["cpu_median"]), 12, "×")
        peak = max(c["peak_rss_mb"] for n, c in sizes["100000"]["commands"].items() if not n.startswith("task"))
        add("peak memory at 100k", peak, None, 500, "MB")
    server = sizes.get(ten, {}).get("server", {})
    if server.get("available"):
        add("304 responses per second at 10k", server["not_modified"]["requests_per_second"], None, 1000, "/s", True)
        add("full all.ics responses per second at 10k", server["full"]["requests_per_second"], None, 100, "/s", True)
    else:
        add("feed server 304/s and full/s at 10k (" + server.get("reason", "not measured") + ")", None, None, 1000,
            "/s", True)
    return out


# ---------------------------------------------------------------------------
# the README table


def table(results: dict[str, Any]) -> str:
    sizes = sorted(results["sizes"], key=int)
    m = results["machine"]
    lines = [
        f"Measured {results['generated_at']} on {m['cpu']} ({m['cores']} cores, {m['memory']}), {m['os']}; "
        f"Python {m['python']}, SQLite {m['sqlite']}, libyaml {'yes' if m['libyaml'] else 'no'}, "
        f"{m['taskwarrior'] and 'Taskwarrior ' + m['taskwarrior'] or 'no Taskwarrior'}; "
        f"load average at start {', '.join(map(str, m['load_average_at_start']))}. "
        f"{results['runs']} runs per command; wall seconds: median (min–max); CPU seconds (user + system): "
        "median; peak RSS in MB.",
        "",
    ]
    for size in sizes:
        data = results["sizes"][size]
        lines.append(f"- {int(size):,} actions: {data['assignments']:,} assignments, {data['events']:,} recorded "
                     f"events, actions.yaml {data['file_bytes'] / 1e6:.1f} MB"
                     + (" (over workplan's 20 MB limit, lifted for this run)" if data.get("file_limit_lifted") else "")
                     + f" (measured {data['measured_at']})"
                     + (f"; Taskwarrior import of {data['taskwarrior']['tasks']:,} tasks "
                        f"{data['taskwarrior']['import_seconds']} s" if data["taskwarrior"].get("available") else
                        f"; Taskwarrior: {data['taskwarrior'].get('reason')}"))
    lines += ["", "| command | " + " | ".join(f"{int(s):,}: wall | CPU | MB" for s in sizes) + " | ÷ floor |"
              + (" 100k ÷ 10k |" if results["ratios"]["growth_100k_over_10k"] else ""),
              "|---|" + "---:|---:|---:|" * len(sizes) + "---:|"
              + ("---:|" if results["ratios"]["growth_100k_over_10k"] else "")]
    for name in results["floors"]:
        per_size = [results["sizes"][size].get("floors", results["floors"])[name] for size in sizes]
        cells = " | ".join(f"{stats['median']:.3f} ({stats['min']:.3f}–{stats['max']:.3f}) | "
                           f"{stats['cpu_median']:.3f} | {stats['peak_rss_mb']:.0f}" for stats in per_size)
        lines.append(f"| floor: `{name}` | {cells} | |" + (" |" if results["ratios"]["growth_100k_over_10k"] else ""))
    names = list(COMMANDS) + list(TASK_COMMANDS)
    for name in names:
        cells = []
        for size in sizes:
            c = results["sizes"][size]["commands"].get(name)
            if c is None:
                cells.append("n/a | | ")
            else:
                flag = "" if c["ok"] else " (timed out)" if c.get("timed_out") else " (failed)"
                if len(c["times"]) < results["runs"]:
                    flag += f" [{len(c['times'])} run{'' if len(c['times']) == 1 else 's'}]"
                cells.append(f"{c['median']:.3f} ({c['min']:.3f}–{c['max']:.3f}){flag} | {c['cpu_median']:.3f} | "
                             f"{c['peak_rss_mb']:.0f}")
        ratio_parts = []
        for size in sizes:
            r = results["ratios"]["ours_over_floor"].get(size, {}).get(name)
            if r is None:
                r = results["ratios"]["taskwarrior_over_ours"].get(size, {}).get(name)
                if r is not None:
                    ratio_parts.append(f"{r}× ours")
            else:
                ratio_parts.append(f"{r}×")
        label = f"`task {' '.join(TASK_COMMANDS[name][0])}`" if name in TASK_COMMANDS else f"`{name}`" if name.startswith("workplan") else f"`workplan {name}`"
        row = f"| {label} | " + " | ".join(cells) + " | " + " / ".join(ratio_parts) + " |"
        growth = results["ratios"]["growth_100k_over_10k"]
        if growth:
            g = growth.get(name)
            row += f" {g['time']}× time, {g['memory']}× memory |" if g else " |"
        lines.append(row)
    lines += ["", "Feed server (`wrk -t2 -c16` on loopback, `/calendars/all.ics`):", ""]
    for size in sizes:
        s = results["sizes"][size]["server"]
        if s.get("available"):
            lines.append(f"- {int(size):,} actions: full responses ({s['feed_bytes'] / 1e6:.1f} MB) "
                         f"{s['full']['requests_per_second']}/s, 304 Not Modified "
                         f"{s['not_modified']['requests_per_second']}/s")
        else:
            lines.append(f"- {int(size):,} actions: not available ({s.get('reason')})")
    lines += ["", "Targets (verdict on wall time; the CPU column is the same measure from CPU time):", "",
              "| target | measured | CPU | limit | verdict |", "|---|---:|---:|---:|---|"]
    for t in results["targets"]:
        if t["met"] is None:
            verdict = "not measured"
        elif t["met"]:
            verdict = "met"
        else:
            miss = t["limit"] / t["value"] if t["higher_is_better"] else t["value"] / t["limit"]
            verdict = f"**missed** ({miss:.1f}× off)"
        value = "—" if t["value"] is None else f"{t['value']} {t['unit']}"
        cpu = "—" if t.get("cpu_value") is None else f"{t['cpu_value']} {t['unit']}"
        lines.append(f"| {t['target']} | {value} | {cpu} | {t['limit']} {t['unit']} | {verdict} |")
    return "\n".join(lines)


def write_readme(readme: Path, text: str) -> None:
    body = readme.read_text(encoding="utf-8") if readme.exists() else f"{START_MARK}\n{END_MARK}\n"
    if START_MARK not in body:
        body += f"\n{START_MARK}\n{END_MARK}\n"
    head, rest = body.split(START_MARK, 1)
    _old, tail = rest.split(END_MARK, 1)
    readme.write_text(f"{head}{START_MARK}\n{text}\n{END_MARK}{tail}", encoding="utf-8")


def finish(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Ratios and verdicts from the results, written to results.json and as the README's table."""
    results["ratios"] = ratios(results)
    results["targets"] = targets(results)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = table(results)
    write_readme(args.readme, text)
    print(text)


def server_only(args: argparse.Namespace, sizes: list[int]) -> None:
    """Measure the feed server alone (for a build that gained it after the rest was measured):
    the same generated workplan, synced, then `wrk`; the other numbers are kept as they were."""
    results = json.loads(args.results.read_text(encoding="utf-8"))
    for n in sizes:
        work = args.work / str(n)
        project = work / "project"
        shutil.rmtree(work, ignore_errors=True)
        project.mkdir(parents=True)
        (project / "actions.yaml").write_text(generate.generate(n, args.seed), encoding="utf-8")
        subprocess.run([*WORKPLAN, "sync"], cwd=project, check=True, capture_output=True)
        print(f"[{n}] feed server", file=sys.stderr)
        entry = results["sizes"].setdefault(str(n), {"actions": n, "seed": args.seed, "commands": {}})
        entry["server"] = measure_server(project, args.wrk_seconds)
        entry["server"]["measured_at"] = _now()
    finish(args, results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark workplan beside Taskwarrior and the interpreter floor.")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated numbers of actions")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median, min, max)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=HERE / "work", help="scratch folder (deleted per size)")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install taskwarrior or wrk")
    parser.add_argument("--task-timeout", type=float, default=900, help="seconds allowed for one Taskwarrior step")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--patience", type=float, default=PATIENCE,
                        help="a command whose run takes longer than this many seconds is not run again")
    parser.add_argument("--lift-file-limit", action="store_true",
                        help="raise workplan's 20 MB limit on actions files (actions.max_megabytes) for this run "
                        "(recorded in the results)")
    parser.add_argument("--skip-taskwarrior", action="store_true", help="do not run Taskwarrior (it takes minutes a "
                        "command from 10,000 actions on)")
    parser.add_argument("--render-only", action="store_true", help="recompute ratios and the table from the results")
    parser.add_argument("--server-only", action="store_true",
                        help="measure only the feed server at --sizes, into the existing results")
    args = parser.parse_args(argv)
    globals()["PATIENCE"] = args.patience
    globals()["SKIP_TASKWARRIOR"] = args.skip_taskwarrior
    if args.lift_file_limit:
        os.environ.update(LIFTED_LIMIT)  # every measured command inherits it
    if args.render_only:
        results = json.loads(args.results.read_text(encoding="utf-8"))
        results["ratios"] = ratios(results)
        results["targets"] = targets(results)
        args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        write_readme(args.readme, table(results))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    compile_workplan()
    if not args.no_install:
        ensure_debian("taskwarrior", "wrk")
    if args.server_only:
        server_only(args, sizes)
        return
    previous: dict[str, Any] = {}
    if args.results.exists():
        previous = json.loads(args.results.read_text(encoding="utf-8"))
    results: dict[str, Any] = {"generated_at": _now(), "runs": args.runs, "machine": machine(), "floors": {},
                               "sizes": {k: v for k, v in previous.get("sizes", {}).items()
                                         if int(k) not in sizes}}
    for name, floor in FLOORS.items():
        results["floors"][name] = measure(floor, HERE, args.runs)
    for n in sizes:
        results["sizes"][str(n)] = bench_size(n, args.runs, args.work, args.seed, args.task_timeout, args.wrk_seconds)
        results["sizes"][str(n)]["file_limit_lifted"] = args.lift_file_limit
        results["sizes"][str(n)]["floors"] = results["floors"]  # ratios use the floor of the same run
    results["sizes"] = dict(sorted(results["sizes"].items(), key=lambda kv: int(kv[0])))
    finish(args, results)


if __name__ == "__main__":
    main()
