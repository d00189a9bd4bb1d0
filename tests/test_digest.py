"""`workplan digest`: one .eml per recipient, whose sections agree with the listing commands; a
party whose only open task has no deadline reads it in a section of its own, with its age (issue 18)."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import commitments
import pytest
import yaml
from commitments import _project
from golden import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st
from test_agenda import HOSTILE, _html_text, hostile_project

from conftest import REPO, Runner, run_cli

AS_OF = "2019-01-15"


def read_eml(path: Path) -> EmailMessage:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    # the message is written with CRLF line ends, as on the wire
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def text_section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = re.search(r"\n\n\n[A-Z]", text[start:])
    return text[start: start + nxt.start() if nxt else len(text)]


def text_items(section: str) -> list[tuple[str, str, int | None]]:
    """(action, party, days late) of each item of a text section; an item naming several
    owners (a fanned-out action) stands for one assignment per owner."""
    items = []
    for chunk in section.split("\n  * ")[1:]:
        flat = " ".join(chunk.split())
        lead = re.match(r"(\d+) days late: ", flat)
        found = re.search(r"\[([^\]]+)\] (.+?) · (?:due|no deadline)", flat)
        assert found, chunk
        for party in found.group(2).split(", "):
            items.append((found.group(1), party, int(lead.group(1)) if lead else None))
    return items


class _Rows(HTMLParser):
    """The data-* attributes of the rows of the table with the given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == self.table_id:
            self.depth = 1
        elif tag == "table" and self.depth:
            self.depth += 1
        elif tag == "tr" and self.depth == 1 and "data-action" in a:
            self.rows.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1


def html_rows(html: str, table_id: str) -> list[dict[str, Any]]:
    parser = _Rows(table_id)
    parser.feed(html)
    return parser.rows


def expected_recipients() -> set[str]:
    doc = yaml.safe_load((REPO / "actions.yaml").read_text(encoding="utf-8"))
    return {p["id"] for p in doc["parties"] if p.get("email") or p.get("kind") == "secretariat"}


@pytest.fixture(scope="module")
def digests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EmailMessage]:
    import shutil

    folder = tmp_path_factory.mktemp("rcm")
    shutil.copy(REPO / "actions.yaml", folder / "actions.yaml")
    out = folder / "out"
    # English for every party (most have lang: es): these tests read the words; test_i18n the languages
    result = run_cli(folder, "digest", "--all", "--as-of", AS_OF, "--out", str(out), "--lang", "en")
    assert result.code == 0, result.err
    messages = {p.stem: read_eml(p) for p in sorted(out.glob("*.eml"))}
    overdue = {pid: run_cli(folder, "overdue", "--as-of", AS_OF, *(("--owner", pid) if pid != "TS" else ()),
                            "--format", "json").json() for pid in messages}
    return {"messages": messages, "overdue": overdue}  # type: ignore[dict-item]


def test_one_file_per_party_with_an_address_plus_the_secretariat(digests: dict[str, Any]) -> None:
    assert set(digests["messages"]) == expected_recipients()
    assert "TROIKA" not in digests["messages"]  # a body with no mailbox gets no digest


@pytest.mark.parametrize("party", sorted(expected_recipients()))
def test_overdue_section_matches_the_overdue_command(digests: dict[str, Any], party: str) -> None:
    msg = digests["messages"][party]
    text, html = parts(msg)
    want = [(r["action"], r["party"], r["days_overdue"]) for r in digests["overdue"][party]]
    assert text_items(text_section(text, "OVERDUE (")) == want
    rows = html_rows(html, "overdue")
    assert [(r["data-action"], p, int(r["data-days-overdue"])) for r in rows
            for p in r["data-parties"].split()] == want
    assert f"{len(want)} overdue" in msg["Subject"]


def test_headers(digests: dict[str, Any]) -> None:
    cr = digests["messages"]["CR"]
    assert cr["Subject"] == "[RCM Ad Hoc Group on Extra-regional Migration] CR: 2 overdue, 0 due soon, 0 blocked"
    assert cr["To"] == "Costa Rica <focal.cr@example.org>"
    assert cr["From"] == "RCM Ad Hoc Group on Extra-regional Migration <ts@example.org>"
    assert cr["Message-ID"] == "<digest.2019-w03.cr@rcm.example.org>"
    assert cr["Date"].datetime.date().isoformat() == AS_OF
    ts = digests["messages"]["TS"]
    assert "TS (whole group): 33 overdue" in ts["Subject"]


def test_sections_and_sources(digests: dict[str, Any]) -> None:
    text, html = parts(digests["messages"]["PA"])
    for heading in ("OVERDUE (", "DUE IN THE NEXT 14 DAYS (", "BLOCKED AND AT RISK (", "COMPLETED SINCE",
                    "WHERE YOU TAKE PART (", "UPCOMING MEETINGS"):
        assert heading in text
    assert "[lodging-manual-sharing] PA · no deadline; waits on" in text
    assert 'Source: V Meeting of the Ad Hoc Group on Extra-regional Migrants, "Manual' in text
    taking_part = text_section(text, "WHERE YOU TAKE PART")
    assert "[workplan-v2-discussion] TS" in taking_part  # PA takes part as a member
    meetings = text_section(text, "UPCOMING MEETINGS")
    assert "expected in the first semester of 2019" in " ".join(meetings.split())
    assert 'style="' in html and "<style" not in html.split("</head>")[1]  # CSS inlined


def test_completed_in_the_week_before(wp: Runner, tmp_path: Path) -> None:
    assert wp("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-10").code == 0
    assert wp("digest", "--party", "BZ", "--as-of", AS_OF, "--out", str(tmp_path)).code == 0
    text, _ = parts(read_eml(tmp_path / "BZ.eml"))
    completed = text_section(text, "COMPLETED SINCE 8 JANUARY 2019 (1)")
    assert "BZ, done on 2019-01-10: Send the updated statistical information matrix" in " ".join(completed.split())
    assert wp("digest", "--party", "BZ", "--as-of", "2019-01-25", "--out", str(tmp_path)).code == 0
    assert "COMPLETED SINCE 18 JANUARY 2019 (0)" in parts(read_eml(tmp_path / "BZ.eml"))[0]


def test_digest_golden(wp: Runner, tmp_path: Path) -> None:
    result = wp("digest", "--party", "PA", "--as-of", AS_OF, "--out", str(tmp_path), "--lang", "en")
    assert result.code == 0, result.err
    data = (tmp_path / "PA.eml").read_bytes()
    check_golden("digest-PA-2019-01-15.eml", data)
    again = wp("digest", "--party", "PA", "--as-of", AS_OF, "--out", str(tmp_path), "--lang", "en")
    assert again.code == 0
    assert (tmp_path / "PA.eml").read_bytes() == data  # the same digest is the same bytes


def test_usage_errors(wp: Runner, tmp_path: Path) -> None:
    neither = wp("digest", "--out", str(tmp_path))
    assert neither.code == 2 and "--party PARTY or --all" in neither.err
    unknown = wp("digest", "--party", "XX", "--out", str(tmp_path))
    assert unknown.code == 2 and "there is no party 'XX'" in unknown.err
    mailless = wp("digest", "--party", "TWG", "--out", str(tmp_path))
    assert mailless.code == 2 and "TWG has no email address" in mailless.err
    role = wp("digest", "--party", "TROIKA", "--out", str(tmp_path))  # a role: its holder's digest has it
    assert role.code == 2 and "TROIKA is a role" in role.err


def test_smtp_from_setting(wp: Runner, project: Path, tmp_path: Path) -> None:
    (project / "workplan.toml").write_text('[smtp]\nfrom = "Workplan <noreply@example.org>"\n', encoding="utf-8")
    assert wp("digest", "--party", "CR", "--out", str(tmp_path)).code == 0
    assert read_eml(tmp_path / "CR.eml")["From"] == "Workplan <noreply@example.org>"


def test_hostile_title_in_digest(tmp_path: Path) -> None:
    folder = hostile_project(tmp_path)
    result = run_cli(folder, "digest", "--all", "--as-of", "2020-04-15", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    for name in ("CR", "TS"):
        text, html = parts(read_eml(tmp_path / "out" / f"{name}.eml"))
        assert HOSTILE in " ".join(text.split())
        assert "<script>" not in html
        assert HOSTILE in " ".join(_html_text(html).split())
    pa_text, pa_html = parts(read_eml(tmp_path / "out" / "PA.eml"))  # PA waived it with a hostile note
    assert f"Note: note {HOSTILE}" in " ".join(_html_text(pa_html).split())
    assert "PA, waived on 2020-04-10" in pa_text


def test_names_cannot_inject_headers(tmp_path: Path) -> None:
    from conftest import MINIMAL, write_project

    # a line break in a party or group name is refused by the loader (test_check.py:
    # test_party_name_cannot_carry_a_header, test_the_group_name_and_domain_cannot_carry_a_header); the rest must be quoted
    hostile = (MINIMAL.replace("name: Costa Rica", 'name: "Costa Rica <x@evil> \\"q\\""')
               .replace("name: Test Group", 'name: "Test Bcc: evil@example.org"'))
    folder = write_project(tmp_path / "p", hostile)
    result = run_cli(folder, "digest", "--all", "--as-of", "2020-04-15", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    msg = read_eml(tmp_path / "out" / "CR.eml")
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "cr@example.org"
    assert msg["Subject"].startswith("[Test Bcc: evil@example.org] CR:")


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab =.\t\n\r·é€\u00a0F"), max_size=300))
def test_a_body_reads_back_as_written(text: str) -> None:
    """Digest bodies are quoted-printable by binascii, not the email package: a mail client reading
    the part gets the text back (CR, LF and CRLF read as line breaks, one added at the end when it
    has none), no line of the encoding is longer than RFC 2045's 76 characters, and none ends in a
    space."""
    from workplan.render.digest import quoted_printable

    msg = EmailMessage(policy=policy.SMTP)
    msg.set_content("", cte="quoted-printable")
    msg.set_payload(quoted_printable(text))
    wire = msg.as_bytes()
    back = email.message_from_bytes(wire, policy=policy.default).get_content()
    written = text.replace("\r\n", "\n").replace("\r", "\n")
    assert back.replace("\r\n", "\n") == written + ("" if written.endswith("\n") or not written else "\n")
    body = wire.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 and not line.endswith((b" ", b"\t")) for line in body.split(b"\r\n"))


@pytest.mark.usefixtures("db_backend")
def test_a_party_whose_only_open_task_has_no_deadline_reads_it_in_its_digest(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    out = tmp_path / "out"
    assert run_cli(folder, "digest", "--all", "--as-of", commitments.AS_OF, "--out", str(out), "--lang", "en").code == 0
    text, html = parts(read_eml(out / "GT.eml"))
    section = " ".join(text_section(text, "OPEN, NO DEADLINE (").split())
    assert section.startswith("OPEN, NO DEADLINE (1) * agreed 82 days ago: Keep the focal points informed"), section
    assert "[a3] GT · no deadline" in section and 'Source: First, "2"' in section
    assert [(r["data-action"], r["data-parties"], r["data-age-days"]) for r in html_rows(html, "no-deadline")] \
        == [("a3", "GT", "82")]
    assert "agreed 82 days ago" in html
    assert "No open commitment is without a deadline." in " ".join(text_section(
        parts(read_eml(out / "PA.eml"))[0], "OPEN, NO DEADLINE (0)").split())

    # the secretariat's group-wide digest: every open one, the oldest first, the unknown age last;
    # a closed one is not open any more
    ts_text, ts_html = parts(read_eml(out / "TS.eml"))
    rows = [(r["data-action"], r["data-parties"], r.get("data-age-days")) for r in html_rows(ts_html, "no-deadline")]
    assert rows == [("a3", "GT", "82"), ("a5", "CR", "82"), ("a4", "CR", None)]
    ts_section = text_section(ts_text, "OPEN, NO DEADLINE (3)")
    assert "a6" not in ts_section and "[a4] CR · no deadline" in " ".join(ts_section.split())

    # in Spanish
    es = tmp_path / "es"
    assert run_cli(folder, "digest", "--party", "GT", "--as-of", commitments.AS_OF, "--out", str(es), "--lang", "es").code == 0
    es_text, es_html = parts(read_eml(es / "GT.eml"))
    es_section = " ".join(text_section(es_text, "ABIERTO, SIN PLAZO (").split())
    assert es_section.startswith("ABIERTO, SIN PLAZO (1) * acordado hace 82 días: Keep the focal points"), es_section
    assert "Abierto, sin plazo (1)" in es_html and "acordado hace 82 días" in es_html
