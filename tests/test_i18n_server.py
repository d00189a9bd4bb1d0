"""Spanish and English on the server, in what changed since the last digest, and in the
messages of the delivery and feed commands (issue 9, for the code of issue 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mailserver import Recorder, smtp_server
from test_digest import parts
from test_mail import SmtpEnv, smtp_env  # noqa: F401  (the fixture)
from test_web import run_cli_env, serving

from conftest import MINIMAL, SHIPPED_ACTIONS, Runner, run_cli, write_project

AS_OF = "2019-01-15"


@pytest.fixture(autouse=True)
def _english_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests say which language they want; the machine's own LANG must not decide."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


def _shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "rcm"
    folder.mkdir()
    shutil.copy(SHIPPED_ACTIONS, folder / "actions.yaml")
    return folder


def test_board_and_agenda_in_the_group_first_language_and_lang_asks_for_the_other(tmp_path: Path) -> None:
    folder = _shipped(tmp_path)  # group.languages: [es, en]
    with serving(folder, "--as-of", AS_OF) as server:
        board = server.request("/")
        assert board.status == 200
        html = board.text
        assert '<html lang="es">' in html
        for heading in ("<h1>Tablero de estado</h1>", "Vencidas, por responsable", '<h2 id="meetings">Reuniones</h2>',
                        "Periodicidad de las reuniones", "Calendarios y agenda"):
            assert heading in html, heading
        assert "15 de enero de 2019" in html and "<h1>Status board" not in html and "Overdue, by owner" not in html
        assert "incumplido" in html  # no virtual meeting in the second semester of 2018
        assert 'href="agenda/next-virtual"' in html  # the default language needs no ?lang=

        english = server.request("/?lang=en")
        assert english.status == 200 and english.headers["etag"] != board.headers["etag"]
        assert '<html lang="en">' in english.text and "<h1>Status board</h1>" in english.text
        assert "Tablero de estado" not in english.text and 'href="agenda/next-virtual?lang=en"' in english.text
        # the parties' names too, where actions.yaml gives them in both languages
        assert "RCM Technical Secretariat" in english.text and "Secretaría Técnica de la CRM" not in english.text
        assert "Secretaría Técnica de la CRM" in html and "RCM Technical Secretariat" not in html
        # the cache keeps each language apart: the default is Spanish still, and so is another day's
        assert server.request("/").headers["etag"] == board.headers["etag"]
        other_day = server.request("/?as_of=2019-02-01")
        assert '<html lang="es">' in other_day.text and "1 de febrero de 2019" in other_day.text
        assert "1 February 2019" in server.request("/?as_of=2019-02-01&lang=en").text
        assert server.request("/?lang=es").headers["etag"] == board.headers["etag"]

        agenda = server.request("/agenda/next-virtual")
        assert agenda.status == 200 and '<html lang="es">' in agenda.text
        agenda_en = server.request("/agenda/next-virtual?lang=en")
        assert '<html lang="en">' in agenda_en.text and "Draft agenda" in agenda_en.text
        assert "Draft agenda" not in agenda.text

        # sentences of errors in the language asked for
        nowhere = server.request("/nada?lang=es")
        assert nowhere.status == 404 and nowhere.text.startswith("Aquí no hay nada")
        assert server.request("/nothing").text.startswith("Nothing here")
        wrong = server.request("/?lang=fr")
        assert wrong.status == 400 and "lang must be one of en, es" in wrong.text
        assert server.request("/?as_of=2019-02-30&lang=es").text.startswith(
            "as_of no se acepta: '2019-02-30' no es una fecha válida")


def test_feeds_served_in_each_party_language(tmp_path: Path) -> None:
    folder = _shipped(tmp_path)
    assert run_cli(folder, "sync").code == 0
    cr = run_cli(folder, "feeds", "token", "CR")
    us = run_cli(folder, "feeds", "token", "US")
    assert cr.code == 0 and us.code == 0, cr.err + us.err
    assert run_cli(folder, "calendars", "--as-of", AS_OF, "--out", "cal").code == 0
    with serving(folder, "--as-of", AS_OF) as server:
        for name in ("CR", "US", "all", "meetings"):
            served = server.request(f"/calendars/{name}.ics")
            # the same bytes as `workplan calendars` writes: CR's in Spanish, US's in English
            assert served.body == (folder / "cal" / f"{name}.ics").read_bytes(), name
        assert b"SUMMARY:Vence" in server.request("/calendars/CR.ics").body
        assert b"SUMMARY:Due" in server.request("/calendars/US.ics").body
        for out, word in ((cr.out, b"SUMMARY:Vence"), (us.out, b"SUMMARY:Due")):
            token = out.split("/feeds/")[1].split(".ics")[0]
            private = server.request(f"/feeds/{token}.ics")
            assert private.status == 200 and word in private.body


def test_what_changed_in_spanish_for_a_spanish_reading_party(
        project: Path, wp: Runner, smtp_env: SmtpEnv) -> None:  # noqa: F811
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp_env(port)
        # TS reads Spanish (lang: es), BZ English (lang: en): no --lang, each in its own
        for party in ("TS", "BZ"):
            assert wp("digest", "--party", party, "--send", "--as-of", "2019-01-15").code == 0
        text = (project / "actions.yaml").read_text(encoding="utf-8")
        (project / "actions.yaml").write_text(text.replace("    start: 2016-08-26\n", "    start: 2016-09-02\n"),
                                              encoding="utf-8")
        assert wp("sync").code == 0
        assert wp("done", "statistics-matrix-2018", "--party", "BZ", "--on", "2019-01-16").code == 0
        for party in ("TS", "BZ"):
            result = wp("digest", "--party", party, "--send", "--as-of", "2019-01-22")
            assert result.code == 0, result.err
    by_party = {}
    for d in recorder.delivered[-2:]:
        by_party["TS" if "ts@example.org" in d.rcpt_tos else "BZ"] = parts(d.message)
    ts_text, ts_html = by_party["TS"]
    flat = " ".join(ts_text.split())
    assert "QUÉ CAMBIÓ DESDE SU ÚLTIMO RESUMEN (15 de enero de 2019, 2019-W03)" in flat
    assert "Plazo cambiado:" in flat and "(se movió la reunión twg-2016-08)" in flat
    assert "Cerradas:" in flat and "[statistics-matrix-2018] BZ: cumplida" in flat
    assert "WHAT CHANGED" not in ts_text and "Deadline moved" not in ts_text
    assert "Qué cambió desde su último resumen" in ts_html and "Desde el 15 de enero de 2019" in ts_html
    bz_text = " ".join(by_party["BZ"][0].split())
    assert "WHAT CHANGED SINCE YOUR LAST DIGEST" in bz_text and "[statistics-matrix-2018] BZ: done" in bz_text
    # the send log, read in Spanish: headers and states in words; the JSON keeps its codes
    log = wp("digest", "--status", "--party", "TS", "--as-of", "2019-01-22", "--lang", "es")
    assert log.code == 0 and log.out.split()[:5] == ["PARTE", "PERIODO", "ESTADO", "INTENTOS", "INICIADO"]
    assert "2019-W04  enviado" in log.out
    as_json = wp("digest", "--status", "--party", "TS", "--as-of", "2019-01-22", "--lang", "es", "--format", "json")
    assert as_json.json()[0]["status"] == "sent"


def test_feed_and_delivery_messages_in_spanish_under_lang(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    spanish = {"LANG": "es_ES.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    result = run_cli_env(folder, spanish, "feeds", "token", "NOPE")
    assert result.code == 2 and "Traceback" not in result.err
    assert "no existe la parte 'NOPE' (un calendario privado pertenece a una parte, no a un conjunto)" in result.err
    both = run_cli_env(folder, spanish, "feeds", "token", "CR", "--rotate", "--revoke")
    assert both.code == 2 and "elija --rotate o --revoke, no ambos" in both.err
    nothing = run_cli_env(folder, spanish, "feeds", "token", "CR", "--revoke")
    assert nothing.code == 0 and "CR: no hay ningún token de calendario privado que revocar" in nothing.out
    assert "there is no party 'NOPE'" in run_cli(folder, "feeds", "token", "NOPE").err
