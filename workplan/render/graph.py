"""The dependency graph as Graphviz DOT, Mermaid, or SVG drawn by Graphviz's ``dot``.

An edge points from a dependency to the action that waits on it (draft → discussion →
approval). Each node is coloured by its action's state.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from typing import TYPE_CHECKING

from ..errors import MissingProgram, WorkplanError
from ..i18n import _, word

if TYPE_CHECKING:
    from ..reports import Graph, GraphNode

# state: (fill, border, text)
COLOURS = {
    "done": ("#c6efce", "#2e7d32", "#1b4d20"),
    "overdue": ("#f8c4c4", "#c62828", "#7a1010"),
    "blocked": ("#ffd8a8", "#e07b00", "#6b3a00"),
    "at risk": ("#fff1a8", "#b59a00", "#5c4d00"),
    "in progress": ("#cfe2ff", "#1f5fbf", "#123a75"),
    "open": ("#e6e8eb", "#7a828c", "#2b3137"),
    "waived": ("#f3e8c8", "#9c7c2c", "#4d3d12"),
    "cancelled": ("#f4f4f4", "#b0b0b0", "#6b6b6b"),
}
LEGEND = ("done", "overdue", "blocked", "at risk", "in progress", "open")


def _label_lines(node: GraphNode) -> list[str]:
    lines = textwrap.wrap(node.title, width=34, break_long_words=False) or [node.action]
    due = node.due.isoformat() + ("*" if node.due_kind == "expected" else "") if node.due else _("no deadline")
    status = word(node.state) + (_(", {done}/{total} done").format(done=node.done, total=node.total)
                                 if node.total > 1 else "")
    return [*lines, f"[{node.action}]", f"{', '.join(node.owners)} · {due} · {status}"]


def _dot_string(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as centred breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(graph: Graph) -> str:
    title = _("{group}: dependencies as of {day}").format(group=graph.group_name, day=graph.as_of.date().isoformat())
    legend = _("state")
    out = [
        "digraph workplan {",
        f"  label={_dot_string(title)};",
        '  labelloc="t"; fontname="Helvetica"; rankdir="LR";',
        '  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10"];',
        '  edge [color="#5a6575"];',
    ]
    for node in graph.nodes:
        fill, border, text = COLOURS.get(node.state, COLOURS["open"])
        out.append(f"  {_dot_string(node.action)} [label={_dot_string(chr(10).join(_label_lines(node)))}, "
                   f'fillcolor="{fill}", color="{border}", fontcolor="{text}"];')
    for dep, action in graph.edges:
        out.append(f"  {_dot_string(dep)} -> {_dot_string(action)};")
    out.append(f'  subgraph cluster_legend {{ label={_dot_string(legend)}; fontsize="10"; color="#c3cad4";')
    for state in LEGEND:
        fill, border, text = COLOURS[state]
        out.append(f'    {_dot_string("legend: " + state)} [label={_dot_string(word(state))}, fillcolor="{fill}", '
                   f'color="{border}", fontcolor="{text}"];')
    # invisible edges lay the legend out in one row
    out.append("    " + " -> ".join(_dot_string("legend: " + state) for state in LEGEND) + ' [style="invis"];')
    out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def _mermaid_text(text: str) -> str:
    """Mermaid label text: entity codes for the characters its parser or HTML labels would take."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;"))


def mermaid(graph: Graph) -> str:
    ids: dict[str, str] = {}
    for n, node in enumerate(graph.nodes):
        ids[node.action] = f"a{n}_{_MERMAID_ID.sub('_', node.action)}"
    out = ["flowchart LR"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_text(line) for line in _label_lines(node))
        out.append(f'  {ids[node.action]}["{label}"]')
    for dep, action in graph.edges:
        out.append(f"  {ids[dep]} --> {ids[action]}")
    for state, (fill, border, text) in COLOURS.items():
        out.append(f"  classDef {state.replace(' ', '_')} fill:{fill},stroke:{border},color:{text}")
    for node in graph.nodes:
        out.append(f"  class {ids[node.action]} {node.state.replace(' ', '_')}")
    return "\n".join(out) + "\n"


def svg(dot_source: str) -> bytes:
    """Draw *dot_source* with Graphviz; a clear error when ``dot`` is not installed."""
    program = shutil.which("dot")
    if program is None:
        raise MissingProgram("cannot draw SVG: the Graphviz program `dot` is not installed "
                             "(install graphviz, or use --format dot or --format mermaid)")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkplanError(f"Graphviz `dot` failed to run: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise WorkplanError(f"Graphviz `dot` failed: {message[0] if message else f'exit {done.returncode}'}")
    return done.stdout
