"""Reading a reply to a digest: commands in both languages, only the sender's own text, and the
messages that must apply nothing (automatic replies, bounces, HTML only, quoted only, too long)."""

from __future__ import annotations

import base64
import hashlib
import quopri
from email.message import EmailMessage

import pytest

from workplan.planning import TRANSITIONS
from workplan.replies import MAX_BYTES, MAX_OWN_LINES, Command, parse

TOKEN = "abcdefghijklmnopqrstuvwxyz234567"
REPLY_TO = f"workplan+{TOKEN}@secretariat.example.org"

# what a digest looks like when it is quoted back: every item carries its number
DIGEST_LINES = [
    "Workplan digest for Belize, week 2026-W50",
    "",
    "Overdue",
    "[1] statistics-matrix-2018: Send the statistics matrix (due 2026-11-30)",
    "[2] focal-point-list: Confirm the focal point (due 2026-12-01)",
    "",
    "Due soon",
    "[3] workshop-report: Report on the workshop (due 2026-12-14)",
    "",
    "Reply to this message with one line per item, for example:",
    "  done 3",
    "  started 3",
    "  cannot 3: the reason",
    "  hecho 3",
]


def message(body: str, *, charset: str = "utf-8", cte: str | None = None, html: str | None = None,
            headers: dict[str, str] | None = None, flowed: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Pérez <Ana.Perez@Example.BZ>"
    msg["To"] = REPLY_TO
    msg["Subject"] = "Re: Workplan digest for Belize"
    msg["Message-ID"] = "<CAF=reply-1@mail.example.bz>"
    for name, value in (headers or {}).items():
        del msg[name]
        msg[name] = value
    params = {"format": "flowed"} if flowed else {}
    msg.set_content(body, charset=charset, cte=cte, params=params)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def commands(raw: bytes) -> list[tuple[str, int, str]]:
    reply = parse(raw)
    assert reply.refusal is None, reply.refusal
    return [(c.verb, c.number, c.note) for c in reply.commands]


# ---------------------------------------------------------------------------
# the grammar


@pytest.mark.parametrize(("line", "expected"), [
    ("done 3", ("done", 3, "")),
    ("Done 3", ("done", 3, "")),
    ("DONE [3]", ("done", 3, "")),
    ("done #3", ("done", 3, "")),
    ("done 3.", ("done", 3, "")),
    ("  done   12  ", ("done", 12, "")),
    ("done 3: sent on Monday", ("done", 3, "sent on Monday")),
    ("started 3", ("start", 3, "")),
    ("Started [2]: drafting", ("start", 2, "drafting")),
    ("cannot 3: the ministry has not sent the figures", ("waive", 3, "the ministry has not sent the figures")),
    ("CANNOT #1: no budget", ("waive", 1, "no budget")),
    ("hecho 3", ("done", 3, "")),
    ("Hecho [3]: enviado el lunes", ("done", 3, "enviado el lunes")),
    ("iniciado 2", ("start", 2, "")),
    ("Iniciado #2", ("start", 2, "")),
    ("no puede 1: falta presupuesto", ("waive", 1, "falta presupuesto")),
    ("No  Puede [1]: falta presupuesto", ("waive", 1, "falta presupuesto")),
    ("NO PUÉDE 1: razón válida", ("waive", 1, "razón válida")),
    ("héchó 3", ("done", 3, "")),
    ("ＨＥＣＨＯ ３", ("done", 3, "")),  # full-width forms, as some phones type them
    ("done 3: note: with a colon", ("done", 3, "note: with a colon")),
])
def test_every_command_form(line: str, expected: tuple[str, int, str]) -> None:
    reply = parse(message(f"{line}\n"))
    assert [(c.verb, c.number, c.note) for c in reply.commands] == [expected]
    assert reply.commands[0].line == line.strip()
    assert reply.not_understood == ()


def test_the_verbs_are_the_status_rules_verbs() -> None:
    reply = parse(message("done 1\nstarted 2\ncannot 3: why\n"))
    assert {c.verb for c in reply.commands} <= set(TRANSITIONS)


@pytest.mark.parametrize("line", [
    "done x", "done", "done 3 sent on Monday", "cannot 3", "cannot 3:", "no puede 2", "no puede 2:   ",
    "hecho tres", "started 3 4", "done 3:", "Done with it, thanks", "cannot attend on Monday",
])
def test_lines_that_start_with_a_command_word_but_do_not_parse(line: str) -> None:
    reply = parse(message(f"Hello,\n{line}\ndone 1\n"))
    assert reply.refusal is None
    assert reply.not_understood == (line.strip(),)
    assert [c.number for c in reply.commands] == [1]


def test_prose_is_ignored() -> None:
    reply = parse(message("Dear secretariat,\n\nThe matrix went out. Item 3 is done.\nDonations aside,"
                          " nothing else.\nnothing to add\nBest,\nAna\n"))
    assert reply.refusal is None
    assert reply.commands == () and reply.not_understood == ()


def test_the_note_keeps_what_was_written() -> None:
    reply = parse(message("no puede 2: el Ministerio aún no envió las cifras (¡otra vez!)\n"))
    assert reply.commands == (Command("waive", 2, "el Ministerio aún no envió las cifras (¡otra vez!)",
                                      "no puede 2: el Ministerio aún no envió las cifras (¡otra vez!)"),)


# ---------------------------------------------------------------------------
# headers


def test_sender_token_subject_and_message_id() -> None:
    reply = parse(message("done 1\n", headers={
        "To": f"Workplan <workplan+{TOKEN.upper()}@secretariat.example.org>",
        "Subject": "=?utf-8?q?Re=3A_Resumen_de_la_semana_=E2=80=94_Belice?="}))
    assert reply.sender == "ana.perez@example.bz"
    assert reply.token == TOKEN
    assert reply.subject == "Re: Resumen de la semana — Belice"
    assert reply.message_id == "<CAF=reply-1@mail.example.bz>"


def test_the_token_is_taken_from_delivery_headers_first() -> None:
    other = "b" * 32
    raw = message("done 1\n", headers={"Delivered-To": f"workplan+{other}@secretariat.example.org",
                                       "Cc": "someone@example.org"})
    assert parse(raw).token == other
    raw = message("done 1\n", headers={"X-Original-To": f"workplan+{other}@secretariat.example.org"})
    assert parse(raw).token == other


def test_the_token_from_cc_when_to_has_none() -> None:
    raw = message("done 1\n", headers={"To": "secretariat@example.org, workplan@secretariat.example.org",
                                       "Cc": f"Workplan <{REPLY_TO}>"})
    assert parse(raw).token == TOKEN


@pytest.mark.parametrize("to", [
    "workplan@secretariat.example.org",
    "workplan+short@secretariat.example.org",
    "workplan+abcdefghijklmnopqrstuvwxyz234561@secretariat.example.org",  # 1 is not base32
    "workplan+abcdefghijklmnopqrstuvwxyz2345678@secretariat.example.org",  # 33 characters
])
def test_no_token(to: str) -> None:
    assert parse(message("done 1\n", headers={"To": to})).token is None


def test_no_message_id_gives_a_stable_hash() -> None:
    raw = message("done 1\n").replace(b"Message-ID: <CAF=reply-1@mail.example.bz>\n", b"")
    assert b"Message-ID" not in raw
    reply = parse(raw)
    assert reply.message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse(raw).message_id == reply.message_id
    assert parse(raw.replace(b"\n", b"\r\n")).message_id == reply.message_id  # as IMAP hands it over
    assert parse(raw.replace(b"done 1", b"done 2")).message_id != reply.message_id


def test_garbage_does_not_raise() -> None:
    reply = parse(b"\xff\xfe not a message at all \x00\n\n\xc3")
    assert reply.message_id.startswith("sha256:")
    assert reply.sender == "" and reply.token is None


# ---------------------------------------------------------------------------
# only the reply's own text: replies as mail programs write them


def gmail(body: str, attribution: str, quoted: list[str]) -> bytes:
    text = body + "\n\n" + attribution + "\n\n" + "\n".join("> " + q if q else ">" for q in quoted) + "\n"
    html = "<div dir=\"ltr\">" + body.replace("\n", "<br>") + "</div><blockquote>[3] done</blockquote>"
    return message(text, cte="quoted-printable", html=html,
                   headers={"Message-ID": "<CAJ3x=abc@mail.gmail.com>"})


def test_gmail_english() -> None:
    raw = gmail("done 1: sent on Monday\nstarted 2",
                "On Mon, 7 Dec 2026 at 08:00, Workplan <\nworkplan+" + TOKEN + "@secretariat.example.org> wrote:",
                DIGEST_LINES)
    assert commands(raw) == [("done", 1, "sent on Monday"), ("start", 2, "")]


def test_gmail_spanish() -> None:
    raw = gmail("Buenos días:\n\nhecho 1\nno puede 3: no hubo taller este año\n\nSaludos,\nAna",
                "El lun, 7 dic 2026 a las 8:00, Workplan (<" + REPLY_TO + ">) escribió:", DIGEST_LINES)
    assert commands(raw) == [("done", 1, ""), ("waive", 3, "no hubo taller este año")]


def outlook(body: str, header: list[str], charset: str = "windows-1252") -> bytes:
    text = body + "\r\n\r\n" + "\r\n".join(header) + "\r\n\r\n" + "\r\n".join(DIGEST_LINES) + "\r\n"
    return message(text, charset=charset, cte="quoted-printable", html="<p>" + body + "</p>",
                   headers={"Message-ID": "<DM6PR01MB@namprd01.prod.outlook.com>"})


def test_outlook_english_keeps_nothing_of_the_unquoted_digest() -> None:
    raw = outlook("Done 2\r\nThanks", ["________________________________", "From: Workplan <" + REPLY_TO + ">",
                                       "Sent: Monday, December 7, 2026 8:00 AM", "To: Ana Pérez <ana.perez@example.bz>",
                                       "Subject: Workplan digest for Belize"])
    assert commands(raw) == [("done", 2, "")]


def test_outlook_spanish_without_the_underscores() -> None:
    raw = outlook("Iniciado 1: en redacción", ["De: Workplan <" + REPLY_TO + ">",
                                              "Enviado: lunes, 7 de diciembre de 2026 8:00",
                                              "Para: Ana Pérez <ana.perez@example.bz>",
                                              "Asunto: Resumen de Workplan"])
    assert commands(raw) == [("start", 1, "en redacción")]


def test_outlook_original_message() -> None:
    for marker in ("-----Original Message-----", "-----Mensaje original-----", "----- Original Message -----"):
        raw = outlook("hecho 3", [marker, "From: Workplan", "Sent: Monday"])
        assert commands(raw) == [("done", 3, "")], marker


def test_thunderbird_flowed_keeps_a_wrapped_note_whole() -> None:
    body = ("cannot 2: the focal point left the ministry in November and the new one \n"
            "has not been appointed yet\n"
            "\n"
            "On 07/12/2026 08:00, Workplan wrote:\n"
            "> [2] focal-point-list: Confirm the focal point (due \n"
            "> 2026-12-01)\n"
            ">\n"
            "> done 3\n"
            "\n"
            "-- \n"
            "Ana Pérez\n"
            "done 9\n")
    raw = message(body, flowed=True, headers={"Message-ID": "<1b2c@example.bz>",
                                              "User-Agent": "Mozilla Thunderbird"})
    assert commands(raw) == [("waive", 2, "the focal point left the ministry in November and the new one "
                                          "has not been appointed yet")]


def test_apple_mail_quotes_its_attribution() -> None:
    body = ("Hecho [1]\n\nEnviado desde mi iPhone\n\n"
            "> El 7 dic 2026, a las 8:00, Workplan <" + REPLY_TO + "> escribió:\n>\n"
            + "\n".join("> " + q for q in DIGEST_LINES) + "\n")
    raw = message(body, cte="quoted-printable", html="<div>Hecho [1]</div>",
                  headers={"Message-ID": "<8F3A@example.bz>", "X-Mailer": "iPhone Mail (20A362)"})
    assert commands(raw) == [("done", 1, "")]


@pytest.mark.parametrize("attribution", [
    "Le lun. 7 déc. 2026 à 08:00, Workplan <" + REPLY_TO + "> a écrit :",
    "Workplan wrote:",
    "On 2026-12-07 08:00, Workplan wrote:",
])
def test_other_attributions(attribution: str) -> None:
    body = "done 1\n\n" + attribution + "\n" + "\n".join("> " + q for q in DIGEST_LINES) + "\n"
    assert commands(message(body)) == [("done", 1, "")]


def test_unquoted_text_after_the_signature_is_not_read() -> None:
    assert commands(message("started 1\n-- \nAna\ndone 2\n")) == [("start", 1, "")]


def test_a_line_of_underscores_ends_the_own_text() -> None:
    assert commands(message("done 1\n______________\ndone 2\n")) == [("done", 1, "")]


# ---------------------------------------------------------------------------
# charsets and transfer encodings


@pytest.mark.parametrize(("charset", "cte"), [
    ("utf-8", "quoted-printable"), ("utf-8", "base64"), ("utf-8", "8bit"),
    ("iso-8859-1", "quoted-printable"), ("iso-8859-1", "8bit"), ("windows-1252", "base64"),
])
def test_charsets(charset: str, cte: str) -> None:
    raw = message("Señora: no puede 2: razón válida\nno puede 2: razón válida\n", charset=charset, cte=cte)
    assert commands(raw) == [("waive", 2, "razón válida")]


def test_raw_latin1_quoted_printable() -> None:
    body = quopri.encodestring("no pu\xe9de 1: a\xfan no\r\n".encode("latin-1")).decode("ascii")
    raw = ("From: ana@example.bz\r\nTo: " + REPLY_TO + "\r\nSubject: Re: x\r\nMessage-ID: <q@x>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body).encode("ascii")
    assert commands(raw) == [("waive", 1, "aún no")]


def test_a_wrong_or_unknown_charset_falls_back() -> None:
    payload = base64.b64encode("hecho 1: envié el informe\n".encode()).decode()
    for declared in ("us-ascii", "x-unknown-charset"):
        raw = ("From: ana@example.bz\r\nTo: " + REPLY_TO + "\r\nSubject: Re: x\r\nMessage-ID: <c@x>\r\n"
               f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={declared}\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n" + payload + "\r\n").encode("ascii")
        assert commands(raw) == [("done", 1, "envié el informe")], declared


def test_an_attachment_is_not_the_text() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "ana@example.bz", REPLY_TO, "Re: x", "<a@x>"
    msg.set_content("done 1: matrix attached\n")
    msg.add_attachment("done 2\n", filename="notes.txt")
    assert commands(msg.as_bytes()) == [("done", 1, "matrix attached")]


# ---------------------------------------------------------------------------
# messages that apply nothing


def refusal(raw: bytes) -> str:
    reply = parse(raw)
    assert reply.refusal is not None
    assert reply.commands == () and reply.not_understood == ()
    assert reply.refusal.count(".") <= 1 and "\n" not in reply.refusal
    return reply.refusal


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated; owner-email=x@example.org"},
    {"X-Autoreply": "yes"},
    {"X-Autorespond": "Out of office"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"Precedence": "list"},
    {"Precedence": "auto_reply"},
    {"Subject": "Out of Office: Workplan digest for Belize"},
    {"Subject": "Automatic reply: Workplan digest for Belize"},
    {"Subject": "Respuesta automática: Resumen de Workplan"},
    {"Subject": "Fuera de la oficina: Resumen de Workplan"},
    {"Subject": "AUTO-REPLY"},
])
def test_automatic_replies(headers: dict[str, str]) -> None:
    assert "automatic reply" in refusal(message("done 1\n", headers=headers))
    assert parse(message("done 1\n", headers=headers)).automatic  # never answered: mail loops


def test_auto_submitted_no_is_a_person() -> None:
    assert commands(message("done 1\n", headers={"Auto-Submitted": "no"})) == [("done", 1, "")]


def test_bounces() -> None:
    assert "bounce" in refusal(message("done 1\n", headers={"From": "MAILER-DAEMON@mx.example.bz"}))
    assert "bounce" in refusal(message("done 1\n", headers={"From": "Mail System <postmaster@example.bz>"}))
    assert "bounce" in refusal(message("done 1\n", headers={"Return-Path": "<>"}))
    raw = ("Return-Path: <MAILER-DAEMON>\r\nFrom: mail@mx.example.bz (Mail Delivery System)\r\n"
           "To: " + REPLY_TO + "\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b@mx>\r\n"
           "MIME-Version: 1.0\r\n"
           'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
           "--B1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you... done 1\r\n"
           "--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.bz\r\n\r\n"
           "Final-Recipient: rfc822; x@example.bz\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B1--\r\n")
    assert "bounce" in refusal(raw.encode("ascii"))
    assert parse(raw.encode("ascii")).automatic


def test_html_only() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "ana@example.bz", REPLY_TO, "Re: x", "<h@x>"
    msg.set_content("<p>done 1</p>", subtype="html")
    assert "HTML" in refusal(msg.as_bytes())
    assert not parse(msg.as_bytes()).automatic  # a person wrote it: they are told why


def test_only_quoted_text() -> None:
    body = "\n\nOn Mon, 7 Dec 2026, Workplan wrote:\n" + "\n".join("> " + q for q in DIGEST_LINES) + "\n"
    assert "no text of its own" in refusal(message(body))
    assert "no text of its own" in refusal(message("\n".join("> " + q for q in DIGEST_LINES) + "\n"))
    assert "no text of its own" in refusal(message("   \n\n-- \nAna\n"))


def test_too_many_own_lines() -> None:
    assert commands(message("done 1\n" + "line\n" * (MAX_OWN_LINES - 1)))
    assert commands(message("done 1\n" + "line\n\n" * (MAX_OWN_LINES - 1)))  # blank lines are not counted
    text = refusal(message("done 1\n" + "line\n" * 499))
    assert "500" in text and str(MAX_OWN_LINES) in text


def test_too_large() -> None:
    raw = message("done 1\n" + "x" * MAX_BYTES)
    text = refusal(raw)
    assert "larger than 1 MB" in text
    assert parse(raw).message_id == "<CAF=reply-1@mail.example.bz>"


def test_refusals_in_spanish() -> None:
    from workplan.i18n import language

    with language("es"):
        text = refusal(message("done 1\n", headers={"Auto-Submitted": "auto-replied"}))
    assert "automatic" not in text


# ---------------------------------------------------------------------------
# answers below the quote or between its lines (Thunderbird, mailing-list habits)


def test_an_answer_below_the_quote_is_read() -> None:
    body = ("On 07/12/2026 08:00, Workplan wrote:\n" + "\n".join("> " + q for q in DIGEST_LINES)
            + "\n\ndone 1: sent on Monday\n\n-- \nAna\n")
    assert commands(message(body, flowed=True)) == [("done", 1, "sent on Monday")]


def test_answers_between_the_quoted_items_are_read() -> None:
    body = ("El lun, 7 dic 2026 a las 8:00, Workplan (<" + REPLY_TO + ">)\nescribió:\n"
            "> [1] statistics-matrix-2018: Send the statistics matrix (due 2026-11-30)\n"
            "hecho 1\n"
            "> [2] focal-point-list: Confirm the focal point (due 2026-12-01)\n"
            "\n"
            "no puede 2: sin nombramiento\n"
            "> [3] workshop-report: Report on the workshop\n"
            ">   done 3\n")
    assert commands(message(body)) == [("done", 1, ""), ("waive", 2, "sin nombramiento")]


def test_an_attribution_followed_by_the_unquoted_original_ends_the_own_text() -> None:
    body = ("started 2\n\nOn Monday, December 7, 2026, 08:00:00 AM GMT, Workplan <" + REPLY_TO + "> wrote:\n\n"
            + "\n".join(DIGEST_LINES) + "\n")
    assert commands(message(body)) == [("start", 2, "")]


def test_thunderbird_spanish() -> None:
    body = ("Iniciado 3: el borrador está listo a medias \n"
            "y se termina el viernes\n\n"
            "El 7/12/26 a las 8:00, Workplan escribió:\n"
            + "\n".join("> " + q for q in DIGEST_LINES) + "\n")
    raw = message(body, flowed=True, charset="utf-8", cte="8bit")
    assert commands(raw) == [("start", 3, "el borrador está listo a medias y se termina el viernes")]


def test_apple_mail_english() -> None:
    body = ("Cannot 2: our focal point retired\n\nSent from my iPad\n\n"
            "> On 7 Dec 2026, at 08:00, Workplan <" + REPLY_TO + "> wrote:\n>\n"
            + "\n".join("> " + q for q in DIGEST_LINES) + "\n")
    raw = message(body, cte="quoted-printable", html="<div>Cannot 2: our focal point retired</div>",
                  headers={"X-Mailer": "iPad Mail (21A329)"})
    assert commands(raw) == [("waive", 2, "our focal point retired")]


def test_outlook_bold_header_block_as_converted_to_plain_text() -> None:
    raw = outlook("done 1", ["*From:* Workplan <" + REPLY_TO + ">", "*Sent:* Monday, December 7, 2026 8:00 AM",
                             "*To:* Ana Pérez", "*Subject:* Workplan digest"], charset="utf-8")
    assert commands(raw) == [("done", 1, "")]
