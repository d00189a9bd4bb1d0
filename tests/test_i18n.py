"""Spanish and English: catalogs, --lang, LANG, per-party digests, texts given per language."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest
from golden import check_golden

from conftest import MINIMAL, Runner, run_cli, write_project
from workplan import catalogs, i18n

AS_OF = "2019-01-15"


@pytest.fixture(autouse=True)
def _english_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests say which language they want; the machine's own LANG must not decide."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


def test_catalogs_translate_every_message_and_are_compiled() -> None:
    """Every message of the code and packaged templates is in es.po, translated, and the .mo
    files are compiled from the .po files (fix: python -m workplan.catalogs, then translate)."""
    template = catalogs.extract()
    assert len(template) > 150  # the extraction really found the messages
    assert list(catalogs.problems(template)) == []


def test_catalog_check_notices_a_missing_translation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = catalogs.extract()
    template.add("a message nobody translated yet")
    found = list(catalogs.problems(template))
    assert any("a message nobody translated yet" in p and "es" in p for p in found)


def test_a_compiled_catalog_is_stale_when_its_messages_differ_not_its_babel_version() -> None:
    """The .mo files are committed; a newer Babel writes its own version into their header, which
    gettext never reads, so only a change of header or message makes one stale."""
    catalog = catalogs.read("es")
    compiled = catalogs.mo_bytes(catalog)
    version = compiled[compiled.index(b"Generated-By: Babel "):].split(b"\n", 1)[0]
    older = compiled.replace(version, b"Generated-By: Babel " + b"0" * (len(version) - len(b"Generated-By: Babel ")))
    assert older != compiled and catalogs.mo_says(older) == catalogs.mo_says(compiled)
    message = next(m for m in catalog if m.id and isinstance(m.id, str) and m.string)
    message.string = message.string + "!"
    assert catalogs.mo_says(catalogs.mo_bytes(catalog)) != catalogs.mo_says(compiled)
    catalog.language_team = "another team"
    assert catalogs.mo_says(catalogs.mo_bytes(catalog))[0] != catalogs.mo_says(compiled)[0]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_agenda_golden_per_language(wp: Runner, lang: str) -> None:
    result = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--lang", lang)
    assert result.code == 0, result.err
    check_golden(f"agenda-next-virtual-2018-06-02.{lang}.md", result.out)


def test_spanish_agenda_is_spanish_throughout(wp: Runner) -> None:
    md = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--lang", "es").out
    for heading in ("## 1. Apertura de la reunión", "## 3. Seguimiento de las conclusiones de la reunión anterior",
                    "## 4. Asuntos que vencen en esta reunión", "## 9. Cadenas bloqueadas", "## 11. Asuntos varios"):
        assert heading in md
    assert "Periodo propuesto: 1 de julio – 31 de diciembre de 2018." in md
    assert "Preparada el 2 de junio de 2018" in md
    assert "**Discutir el Plan de Trabajo v2.0 en la próxima reunión virtual**" in md
    assert "segundo semestre de 2018" in md
    for english in ("Discuss the Work Plan", "Opening of the meeting", "June", "December", "overdue", "[en]"):
        assert english not in md, english
    en = wp("agenda", "--next-virtual", "--as-of", "2018-06-02", "--lang", "en").out
    assert "**Discuss the Work Plan v2.0 at the next virtual meeting**" in en
    assert "Proposed slot: 1 July – 31 December 2018." in en
    for spanish in ("Discutir", "Apertura", "junio", "diciembre", "reunión"):
        assert spanish not in en, spanish


def _message(path: Path) -> email.message.EmailMessage:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_each_party_gets_its_digest_in_its_language(wp: Runner, tmp_path: Path) -> None:
    result = wp("digest", "--all", "--as-of", AS_OF, "--out", str(tmp_path))
    assert result.code == 0, result.err
    cr, us = _message(tmp_path / "CR.eml"), _message(tmp_path / "US.eml")  # lang: es / lang: en
    assert cr["Subject"] == "[Grupo Ad Hoc sobre Migración Extrarregional de la CRM] CR: 2 vencidas, 0 por vencer, 0 bloqueadas"
    assert us["Subject"].startswith("[RCM Ad Hoc Group on Extra-regional Migration] US: ")
    assert "overdue" in us["Subject"]
    cr_text = cr.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    us_text = us.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Resumen de situación para Costa Rica (CR)" in cr_text
    assert "Al 15 de enero de 2019" in cr_text
    assert "VENCIDAS (2)" in cr_text
    assert "Enviar a la ST la matriz" not in cr_text or "vence" in cr_text
    assert "Status digest for United States (US)" in us_text
    assert "As of 15 January 2019" in us_text
    assert "Send the updated statistical information matrix" in us_text
    cr_html = cr.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="es">' in cr_html and "Próximas reuniones" in cr_html
    # --lang overrides the party's language
    again = wp("digest", "--party", "CR", "--as-of", AS_OF, "--out", str(tmp_path), "--lang", "en")
    assert again.code == 0, again.err
    assert "2 overdue" in _message(tmp_path / "CR.eml")["Subject"]


def test_spanish_digest_golden(wp: Runner, tmp_path: Path) -> None:
    result = wp("digest", "--party", "PA", "--as-of", AS_OF, "--out", str(tmp_path))  # PA: lang: es
    assert result.code == 0, result.err
    check_golden("digest-PA-2019-01-15.es.eml", (tmp_path / "PA.eml").read_bytes())


def test_overdue_in_spanish(wp: Runner) -> None:
    result = wp("overdue", "--as-of", AS_OF, "--owner", "BZ", "--lang", "es")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["RETRASO", "VENCE", "RESPONSABLE", "ACCIÓN", "TÍTULO"]
    assert lines[1].startswith("901 días  2016-07-28 ")
    assert "Remitir a la" in lines[1]
    assert lines[-1].startswith("* prevista: esa reunión aún no está convocada")
    english = wp("overdue", "--as-of", AS_OF, "--owner", "BZ")
    assert english.out.splitlines()[0].split() == ["LATE", "DUE", "OWNER", "ACTION", "TITLE"]
    assert english.out.splitlines()[1].startswith("901d  2016-07-28 ")
    # machine output is a contract: the same field names and values in every language
    assert wp("overdue", "--as-of", AS_OF, "--format", "json", "--lang", "es").json()[0]["status"] == "open"


def test_errors_follow_lang_of_the_environment(wp: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    result = wp("show", "no-such-action")
    assert result.code == 2
    assert result.err.strip().endswith("workplan: no existe la acción 'no-such-action'")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL wins over LANG, as POSIX says
    assert wp("show", "no-such-action").err.strip().endswith("there is no action 'no-such-action'")


def test_lang_lasts_one_run(wp: Runner) -> None:
    assert "RETRASO" in wp("overdue", "--as-of", AS_OF, "--lang", "es").out
    assert "LATE" in wp("overdue", "--as-of", AS_OF).out
    assert i18n.current() == "en"


BILINGUAL = MINIMAL.replace(
    "group: {id: g, name: Test Group, timezone: America/Panama, domain: test.example.org}",
    "group: {id: g, name: {en: Test Group, es: Grupo de prueba}, timezone: America/Panama,"
    " domain: test.example.org, languages: [es, en]}",
)


def _bilingual_project(tmp_path: Path, actions: str) -> Path:
    return write_project(tmp_path / "p", BILINGUAL.split("actions:\n")[0] + actions)


def test_missing_language_falls_back_marked_and_check_warns(tmp_path: Path) -> None:
    folder = _bilingual_project(tmp_path, """\
actions:
  - id: both
    title: {es: Enviar el informe, en: Send the report}
    owners: [TS]
    due: 2030-01-31
  - id: only-en
    title: {en: Only in English}
    owners: [TS]
    due: 2030-01-31
  - id: plain
    title: Texto sin traducir
    owners: [TS]
    due: 2030-01-31
""")
    check = run_cli(folder, "check")
    assert check.code == 0, check.err
    assert "warning: action only-en has no title in es" in check.err
    assert "warning: action plain has no title in en" in check.err
    assert "action both" not in check.err
    assert "3 warnings" not in check.out and "2 warnings" in check.out
    es = run_cli(folder, "list", "--lang", "es").out
    assert "Enviar el informe" in es and "[en] Only in English" in es and "Texto sin traducir" in es
    en = run_cli(folder, "list", "--lang", "en").out
    assert "Send the report" in en and "Only in English" in en and "[en]" not in en
    assert "[es] Texto sin traducir" in en


def test_a_language_workplan_does_not_write_is_an_error(tmp_path: Path) -> None:
    folder = _bilingual_project(tmp_path, """\
actions:
  - id: a
    title: {fr: Envoyer le rapport}
    owners: [TS]
""")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert "unknown key 'fr' in title of action a" in result.err


def test_changing_a_translation_is_a_change(tmp_path: Path) -> None:
    folder = _bilingual_project(tmp_path, """\
actions:
  - id: a
    title: {es: Enviar el informe, en: Send the report}
    owners: [TS]
    due: 2030-01-31
""")
    assert run_cli(folder, "sync").code == 0
    assert run_cli(folder, "calendars", "--lang", "es").code == 0
    feed = folder / "calendars" / "all.ics"
    assert "SEQUENCE:0" in feed.read_text(encoding="utf-8").split("UID:action-a@")[1][:200]
    actions = folder / "actions.yaml"
    actions.write_text(actions.read_text(encoding="utf-8").replace("Send the report", "Send the final report"),
                       encoding="utf-8")
    synced = run_cli(folder, "sync")
    assert "changed: action a" in synced.out
    assert "Send the final report" in run_cli(folder, "list", "--lang", "en").out
    # a subscriber reading the other language sees the event change too
    assert run_cli(folder, "calendars", "--lang", "es").code == 0
    assert "SEQUENCE:0" not in feed.read_text(encoding="utf-8").split("UID:action-a@")[1][:200]


def test_party_feeds_in_the_party_language_unless_lang_says(wp: Runner, project: Path) -> None:
    assert wp("calendars", "--as-of", AS_OF).code == 0
    folder = project / "calendars"
    assert "SUMMARY:Vence" in (folder / "CR.ics").read_text(encoding="utf-8")  # lang: es
    assert "SUMMARY:Due" in (folder / "US.ics").read_text(encoding="utf-8")  # lang: en
    assert "SUMMARY:Due" in (folder / "all.ics").read_text(encoding="utf-8")  # the shared ones: LANG, else English
    assert wp("calendars", "--as-of", AS_OF, "--lang", "en").code == 0
    assert "SUMMARY:Vence" not in (folder / "CR.ics").read_text(encoding="utf-8")
    assert wp("calendars", "--as-of", AS_OF, "--lang", "es").code == 0
    assert "SUMMARY:Due" not in (folder / "all.ics").read_text(encoding="utf-8")


BROKEN = MINIMAL.split("actions:\n")[0] + """\
actions:
  - id: a1
    title: First action
    owners: [XX]
    depends_on: [a2]
    due: 2020-13-45
  - id: a2
    title: Second action
    owners: [TS]
    depends_on: [a1]
    due: 2020-04-01
  - id: a2
    title: Again
    owners: [TS]
    due: 2020-04-01
"""


def _located(err: str) -> list[tuple[str, str]]:
    """(FILE:LINE:COL, message) of each line `workplan check` printed."""
    out = []
    for line in err.strip().splitlines():
        prefix, _sep, message = line.partition(": ")
        assert prefix.count(":") == 2, line
        out.append((prefix, message))
    return out


def test_check_speaks_spanish_under_lang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_project(tmp_path / "p", BROKEN)
    english = run_cli(folder, "check")
    assert english.code == 2
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    spanish = run_cli(folder, "check")
    assert spanish.code == 2
    en, es = _located(english.err), _located(spanish.err)
    # the same findings at the same places, one line each, in the reader's language (the unknown
    # owner is one error: no "has no owner" warning beside it)
    assert [p for p, _m in es] == [p for p, _m in en] and len(es) == 4
    assert dict(en) == {
        "actions.yaml:16:14": "action a1: unknown party or set 'XX' in owners",
        "actions.yaml:17:18": "dependency cycle: a1 → a2 → a1",
        "actions.yaml:18:10": "due of action a1: '2020-13-45' is not a valid date",
        "actions.yaml:24:9": "action id 'a2' is used twice (first on line 19)",
    }
    assert dict(es) == {
        "actions.yaml:16:14": "acción a1: parte o conjunto desconocido 'XX' en owners",
        "actions.yaml:17:18": "ciclo de dependencias: a1 → a2 → a1",
        "actions.yaml:18:10": "el vencimiento de la acción a1: '2020-13-45' no es una fecha válida",
        "actions.yaml:24:9": "el id de acción 'a2' se usa dos veces (la primera en la línea 19)",
    }
    # a field that names its action translates as a whole: "title of action a2" → "el título de la acción a2"
    (folder / "actions.yaml").write_text(MINIMAL.replace("title: Second action", "title: [Second action]"),
                                         encoding="utf-8")
    result = run_cli(folder, "check")
    assert result.code == 2
    assert result.err.rstrip().endswith(": el título de la acción a2 debe ser un solo valor, no una lista ni un mapeo")


def test_a_bad_setting_is_a_spanish_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    toml = folder / "workplan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") if toml.exists() else "", encoding="utf-8")
    with toml.open("a", encoding="utf-8") as fh:
        fh.write('\n[smtp]\nsecurity = "tls"\n')
    assert run_cli(folder, "list").err.strip() == "workplan: smtp.security must be none, starttls or ssl, not 'tls'"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    result = run_cli(folder, "list")
    assert result.code == 2
    assert result.err.strip() == "workplan: smtp.security debe ser none, starttls o ssl, no 'tls'"
    toml.write_text('[smpt]\nhost = "mail.example.org"\n', encoding="utf-8")
    assert run_cli(folder, "list").err.strip().startswith("workplan: " + str(toml) + ": ajuste desconocido 'smpt.host'")


# ---------------------------------------------------------------------------
# counts agree with their number, in both languages

# Messages that carry a number but need no plural form, and why. Any other message with a
# count in it must be an ngettext message (test below).
COUNT_WITHOUT_PLURAL = {
    "{action} has {count} owners ({owners}); say which with --party": "said only of two owners or more",
    "%(count)d owners: %(parties)s": "shown only for two owners or more",
    ", {done}/{total} done": "a fraction, not a count of a noun",
    " +{count} more": "'more' / 'más' do not change with the number",
    "the group agreed to at least %(count)d per %(per)s": "no counted noun",
}


def test_every_count_in_a_message_is_a_plural_message() -> None:
    singular_counts = sorted(
        m.id for m in catalogs.extract()
        if isinstance(m.id, str) and re.search(r"%\(\w+\)d|\{(count|days|total|num|n)\b", m.id)
    )
    assert [m for m in singular_counts if m not in COUNT_WITHOUT_PLURAL] == []
    assert sorted(COUNT_WITHOUT_PLURAL) == singular_counts, "an allowed message is no longer used"


ONE_EACH = MINIMAL.replace("{id: CR, name: Costa Rica, kind: member,", "{id: CR, name: Costa Rica, kind: member, lang: es,")


def test_one_is_singular_and_two_plural_in_both_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_project(tmp_path / "p", ONE_EACH)
    out = tmp_path / "digests"
    result = run_cli(folder, "digest", "--all", "--as-of", "2020-04-15", "--out", str(out))
    assert result.code == 0, result.err
    cr, pa = _message(out / "CR.eml"), _message(out / "PA.eml")
    assert cr["Subject"] == "[Test Group] CR: 1 vencida, 0 por vencer, 0 bloqueadas"
    assert pa["Subject"] == "[Test Group] PA: 1 overdue, 0 due soon, 0 blocked"
    cr_text = cr.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "1 vencida, 0 vencen en los próximos 14 días, 0 bloqueadas o en riesgo." in cr_text
    cr_html = cr.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert re.search(r'<span class="n"[^>]*>1</span>vencida</td>', cr_html)
    ts = _message(out / "TS.eml")["Subject"]
    assert ts == "[Test Group] TS (whole group): 2 overdue, 0 due soon, 1 blocked"

    check = run_cli(folder, "check")
    assert check.out.strip() == "actions.yaml: ok (2 actions, 3 parties, 1 meeting, 0 warnings)"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    check = run_cli(folder, "check")
    assert check.out.strip() == "actions.yaml: correcto (2 acciones, 3 partes, 1 reunión, 0 advertencias)"
    meetings = run_cli(folder, "meetings", "--as-of", "2020-04-15").out
    assert "Periodicidad: al menos 1 reunión virtual por semestre" in meetings
    monkeypatch.delenv("LANG")
    twice = ONE_EACH.replace("at_least: 1", "at_least: 2")
    (folder / "actions.yaml").write_text(twice, encoding="utf-8")
    assert "Cadence: at least 2 virtual meetings per semester" in run_cli(folder, "meetings").out
    es = run_cli(folder, "meetings", "--lang", "es").out
    assert "Periodicidad: al menos 2 reuniones virtuales por semestre" in es
    agenda = run_cli(folder, "agenda", "--next-virtual", "--as-of", "2020-04-15", "--lang", "es").out
    assert "(al menos 2 reuniones virtuales por semestre)" in agenda
    assert "1 de 2 cerradas" not in agenda


def test_sync_summary_counts_agree(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", MINIMAL.replace(
        "    due: 2020-04-01\n", "    due: 2020-04-01\n    progress:\n      - {party: CR, status: done, on: 2020-03-20}\n", 1))
    first = run_cli(folder, "sync")
    assert first.code == 0, first.err
    assert first.out.splitlines()[-1] == "11 added, 0 changed, 0 withdrawn, 1 recorded fact imported"


def test_the_send_summary_counts_agree() -> None:
    from workplan.cli.delivery import _summary
    from workplan.mail import Outcome

    def outcome(party: str, status: str) -> Outcome:
        return Outcome(party=party, period="2019-W03", status=status, detail="")

    run = [outcome("CR", "sent"), outcome("PA", "sent"), outcome("MX", "skipped"), outcome("US", "failed")]
    with i18n.language("es"):
        assert _summary(run[:1] + run[2:]) == "2019-W03: 1 enviado, 1 ya enviado antes, 1 fallido"
        assert _summary(run) == "2019-W03: 2 enviados, 1 ya enviado antes, 1 fallido"
    with i18n.language("en"):
        assert _summary(run) == "2019-W03: 2 sent, 1 already sent before, 1 failed"
