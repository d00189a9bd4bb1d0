"""README.md's "The whole loop" section, run as it is written: the digest sent through a real SMTP
server (aiosmtpd), the report page served by `workplan serve` and a report posted with its form,
the reply piped into `workplan inbox receive`, its confirmation, and the log.

Each block of that section is marked on the line before it with ``loop: NAME``; a block with a
``$`` prompt is a command and what it prints, the others what the focal point reads or writes. The
report key is new in every digest, so the key the README shows stands for the one this run's
digest carries; its expiry date and the day the reply is applied (today) likewise. Everything
else must be printed exactly (``…`` standing for lines left out), as in test_readme_examples.
"""

from __future__ import annotations

import html
import http.client
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from mailserver import Recorder, smtp_server
from test_readme_examples import README, _environment, matches
from test_web import serving

from conftest import SHIPPED_ACTIONS

MARK = re.compile(r"<!--.*\bloop: ([\w-]+)")
KEY_IN_README = re.compile(r"[a-z2-7]{32}")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def loop_blocks() -> dict[str, list[str]]:
    """The section's marked blocks (indented code blocks), by name, without their indentation."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        found = MARK.search(line)
        if not found:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        body = []
        while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
            body.append(lines[j][4:])
            j += 1
        while body and not body[-1].strip():
            body.pop()
        blocks[found[1]] = body
    return blocks


BLOCKS = loop_blocks()


def commands(block: list[str]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for text in block:
        if text.startswith("$ "):
            out.append((text[2:], []))
        else:
            out[-1][1].append(text.rstrip())
    return out


def contains(expected: list[str], actual: list[str]) -> bool:
    """*expected* (with its "…") matches *actual* from some line on, up to its end or any further lines."""
    return any(matches([*expected, "…"], actual[n:]) or matches(expected, actual[n:]) for n in range(len(actual)))


def text_lines(msg: EmailMessage) -> list[str]:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return [line.rstrip() for line in str(part.get_content()).splitlines()]  # type: ignore[attr-defined]


@pytest.fixture
def rcm(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Recorder]]:
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    (folder / "workplan.toml").write_text("\n".join(BLOCKS["settings"]) + "\n", encoding="utf-8")
    env = _environment(tmp_path)
    run("workplan sync -q", folder, env)  # as after the tour's `workplan sync`
    recorder = Recorder()
    with smtp_server(recorder) as port:
        env.update(WORKPLAN_SMTP_HOST="127.0.0.1", WORKPLAN_SMTP_PORT=str(port))
        yield folder, env, recorder


def run(command: str, folder: Path, env: dict[str, str], stdin: str | None = None) -> list[str]:
    done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                          input=stdin, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]


def test_the_readme_has_the_whole_loop() -> None:
    assert set(BLOCKS) == {"settings", "send", "digest", "page", "reply", "receive", "confirmation", "log"}, BLOCKS


def test_the_whole_loop_as_the_readme_shows_it(rcm: tuple[Path, dict[str, str], Recorder]) -> None:
    folder, env, recorder = rcm
    shown_key = KEY_IN_README.search("\n".join(BLOCKS["digest"]))
    assert shown_key is not None
    # 1. the digest, sent
    for command, expected in commands(BLOCKS["send"]):
        actual = run(command, folder, env)
        assert matches(expected, actual), "\n".join(actual)
    digest = recorder.delivered[-1].message
    body = text_lines(digest)
    key = KEY_IN_README.search("\n".join(body))
    assert key is not None
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    shown_expiry = re.search(r"valid until (\d{4}-\d{2}-\d{2})", "\n".join(BLOCKS["digest"]))
    assert shown_expiry is not None
    as_shown = [line.replace(key[0], shown_key[0]).replace(expires, shown_expiry[1]) for line in body]
    assert contains(BLOCKS["digest"], as_shown), "\n".join(as_shown)
    assert digest["Reply-To"] == f"workplan+{key[0]}@rcm.example.org"
    # 2. the page: its form for item [4], as the README says the focal point fills it
    page_step = dict(line.split(": ", 1) for line in BLOCKS["page"] if ": " in line)
    with serving(folder) as server:
        page = server.request(f"/report/{key[0]}")
        assert page.status == 200
        article = next(a for a in page.text.split("<article")[1:] if f'value="{page_step["action"]}"' in a)
        assert f'<span class="num">[{page_step["item"]}]</span>' in article
        token = TOKEN.search(page.text)
        assert token is not None
        fields = {"csrf_token": token[1], "kind": "report", "action": page_step["action"], "occurrence": "",
                  "status": page_step["status"], "note": page_step["note"], "evidence": page_step["evidence"],
                  "on": page_step["on"]}
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        conn.request("POST", f"/report/{key[0]}", body=urlencode(fields),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        answer.read()
        conn.close()
        assert answer.status == 303
        after = server.request(answer.getheader("Location") or "")
        assert page_step["says"] in html.unescape(after.text), (answer.getheader("Location"), re.findall(
            r'<p class="notice[^"]*"[^>]*>.*?</p>|<p class="error".*?</p>', after.text))
    # 3. the reply, piped in by the mail server; 4. its confirmation
    reply = "\n".join(BLOCKS["reply"]).replace(shown_key[0], key[0]) + "\n"
    (folder / "reply.eml").write_text(reply, encoding="utf-8")
    for command, expected in commands(BLOCKS["receive"]):
        actual = run(command, folder, env)
        assert matches(expected, actual), "\n".join(actual)
    confirmation = recorder.delivered[-1].message
    assert confirmation["To"] == "focal.bz@example.org" and confirmation["Auto-Submitted"] == "auto-replied"
    assert contains(BLOCKS["confirmation"], text_lines(confirmation)), "\n".join(text_lines(confirmation))
    # 5. the log: the reply's changes are dated when they were applied, today
    shown_days = re.findall(r"^\d{4}-\d{2}-\d{2}", "\n".join(BLOCKS["log"]), re.M)
    today = datetime.now(ZoneInfo("America/Panama")).date().isoformat()  # the shipped group's zone
    assert shown_days, BLOCKS["log"]
    shown_today = shown_days[-1]
    for command, expected in commands(BLOCKS["log"]):
        actual = [line.replace(today, shown_today) for line in run(command, folder, env)]
        assert matches(expected, actual), "\n".join(actual)
    assert message_from_bytes(reply.encode(), policy=policy.default)["Message-ID"]
