"""Keep the message catalogs in step with the code: extract, update, compile, check.

    python -m workplan.catalogs            # extract, update es.po and en.po, compile the .mo files
    python -m workplan.catalogs --check    # exit 1 when a catalog lacks a message or a .mo is stale

Messages are extracted from ``workplan/**.py`` (``_``, ``gettext``, ``ngettext``) and from the
packaged templates (``_()``, ``ngettext()``, ``{% trans %}``). The ``.po`` files are what
translators edit; the ``.mo`` files are compiled from them and committed, so that a plain
``pip install -e .`` needs no build step. Run from anywhere; paths are the package's own.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from .i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE = Path(__file__).parent
# English is the language the messages are written in: its catalog stays empty on purpose
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
_METHODS = [("**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2"),
            ("templates/**.md", "jinja2")]
# the headers carry no clock time, so that regenerating unchanged catalogs changes no byte
_FIXED = datetime(2026, 1, 1, tzinfo=UTC)
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true",
                  "silent": "false"}


def extract() -> Catalog:
    """Every message the code and the packaged templates use."""
    template = Catalog(project="workplan", domain=DOMAIN, charset="utf-8", creation_date=_FIXED,
                       revision_date=_FIXED)
    options = {pattern: _JINJA_OPTIONS for pattern, method in _METHODS if method == "jinja2"}
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), _METHODS, options, strip_comment_tags=True):
        template.add(message, None, [(f"workplan/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="workplan", charset="utf-8", creation_date=_FIXED,
                       revision_date=_FIXED)
    with path.open("rb") as fp:
        return read_po(fp, locale=lang, domain=DOMAIN)


def po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    # no line numbers: a catalog changes when its messages do, not when code moves
    write_po(buf, catalog, width=100, include_lineno=False, omit_header=False, sort_output=True)
    return buf.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def mo_says(data: bytes) -> tuple[list[tuple[str, str]], list[tuple[object, object, str | None]]]:
    """What compiled catalog bytes tell gettext: the headers and every message, read back, without
    the Babel version that wrote them (a new Babel release must not make the shipped files stale)."""
    catalog = read_mo(io.BytesIO(data))
    headers = [(k, v) for k, v in catalog.mime_headers if k != "Generated-By"]
    return headers, sorted(((m.id, m.string, m.context) for m in catalog if m.id), key=repr)


def update(template: Catalog) -> None:
    """Add new messages to each catalog (untranslated), drop the ones no longer used, compile."""
    for lang in LANGUAGES:
        catalog = read(lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        catalog.revision_date = _FIXED
        catalog.last_translator = "workplan contributors"
        catalog.language_team = f"{lang} <https://example.org/workplan>"
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(po_bytes(catalog))
        mo_path(lang).write_bytes(mo_bytes(read(lang)))


def problems(template: Catalog | None = None) -> Iterable[str]:
    """What is wrong with the shipped catalogs: messages missing or untranslated, stale .mo files."""
    template = template if template is not None else extract()
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    for lang in LANGUAGES:
        catalog = read(lang)
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        for missing in sorted(wanted - have):
            yield f"{po_path(lang)}: lacks the message {missing!r}"
        for unused in sorted(have - wanted):
            yield f"{po_path(lang)}: holds {unused!r}, which the code no longer uses"
        if lang in TRANSLATED:
            for message in catalog:
                if not message.id:
                    continue
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if not all(strings) or message.fuzzy:
                    yield f"{po_path(lang)}: {message.id!r} is not translated" + (" (fuzzy)" if message.fuzzy else "")
        mo = mo_path(lang)
        if not mo.exists() or mo_says(mo.read_bytes()) != mo_says(mo_bytes(catalog)):
            yield f"{mo}: is not compiled from {po_path(lang).name}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        found = list(problems())
        for line in found:
            print(line, file=sys.stderr)
        print(f"{len(found)} problem(s) in the catalogs" if found else "catalogs: ok")
        return 1 if found else 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    template = extract()
    update(template)
    print(f"{len(template)} messages; catalogs updated and compiled in {LOCALE_DIR}")
    for line in problems(template):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
