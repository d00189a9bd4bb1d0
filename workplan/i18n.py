"""Languages: which one a text is rendered in, its messages, and its dates.

Messages are gettext catalogs shipped in ``workplan/locale/{es,en}/LC_MESSAGES/workplan.mo``
(the English one is empty: the messages are written in English). The language of the
moment lives in a context variable, so that one run can render a digest in Spanish for one
party and in English for the next (:func:`language`). Which language, first match wins:
``--lang``; the party's ``lang`` (digests); ``LC_ALL``, ``LC_MESSAGES``, ``LANG``; English. A party's
digest and feed: ``--lang``, its ``lang``, the group's first language, then the same
(:func:`workplan.planning.party_language`, the one home of that rule).

Babel is imported only to format a date, so ``workplan --help`` does not pay for it.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "es")
DEFAULT = "en"
DOMAIN = "workplan"
LOCALE_DIR = Path(__file__).parent / "locale"
# Babel locale per language: British English writes "31 December 2018", as the group does
_BABEL_LOCALE = {"en": "en_GB", "es": "es"}

_current: ContextVar[str | None] = ContextVar("workplan_language", default=None)


def normalize(value: str | None) -> str | None:
    """``es_ES.UTF-8`` → ``es``; None for a language without a catalog (``C``, ``fr``)."""
    if not value:
        return None
    code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def from_environment() -> str:
    """The language of the terminal, as POSIX orders it: LC_ALL, LC_MESSAGES, LANG."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:  # the first one set decides, even when it names a language we lack
            return normalize(value) or DEFAULT
    return DEFAULT


def current() -> str:
    return _current.get() or from_environment()


def use(lang: str) -> None:
    """From now on (until the enclosing :func:`language` block ends), render in *lang*."""
    _current.set(normalize(lang) or DEFAULT)


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Render in *lang* inside the block (None: keep the surrounding choice)."""
    chosen = normalize(lang) or current()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@cache
def _translations(lang: str) -> _gettext.NullTranslations:
    try:
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as fp:
            return _gettext.GNUTranslations(fp)
    except FileNotFoundError:
        return _gettext.NullTranslations()


def translations(lang: str | None = None) -> _gettext.NullTranslations:
    return _translations(lang or current())


def gettext(message: str) -> str:
    return translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations().npgettext(context, singular, plural, n)


_ = gettext


# ---------------------------------------------------------------------------
# texts of the actions file written in several languages


def pick(text: str, translations: Mapping[str, Mapping[str, str]] | None, field: str) -> str:
    """The *field* of an action or meeting in the current language.

    *text* is the plain column (the group's first language); *translations* maps field →
    language → text. A missing language falls back to another one, marked ``[en] …``.
    """
    versions = (translations or {}).get(field)
    if not versions:
        return text
    lang = current()
    found = versions.get(lang)
    if found:
        return found
    for other, value in versions.items():
        if value:
            return f"[{other}] {value}"
    return text


# ---------------------------------------------------------------------------
# words that the code computes (states, kinds, periods) and that documents print


def word(value: str) -> str:
    """A state, status or kind as the reader's language says it."""
    return _words(current()).get(value, value)


@cache
def _words(lang: str) -> dict[str, str]:
    with language(lang):
        return {
            "open": _("open"),
            "in_progress": _("in progress"),
            "in progress": _("in progress"),
            "done": _("done"),
            "waived": _("waived"),
            "cancelled": _("cancelled"),
            "closed": _("closed"),
            "overdue": _("overdue"),
            "blocked": _("blocked"),
            "at risk": _("at risk"),
            "at_risk": _("at risk"),
            "received": _("received"),
            "missing": _("missing"),
            "virtual": _("virtual"),
            "face-to-face": _("face-to-face"),
            "vice-ministerial": _("vice-ministerial"),
            "other": _("other"),
            "external": _("of another body"),  # a meeting's kind: ``kind: external``
            "held": _("held"),
            "planned": _("planned"),
            "expected": _("expected"),
            "year": _("year"),
            "semester": _("semester"),
            "quarter": _("quarter"),
            "month": _("month"),
            "web": _("report page"),  # the origin of an event a focal point made on its page
            "email": _("email reply"),  # … or by replying to its digest
            # a conclusion's follow-up (planning.conclusion_state) and its kind (spec.CONCLUSION_KINDS)
            "not started": _("not started"),
            "no action needed": _("no action needed"),
            "agreed": _("agreed"),
            "decided": _("decided"),
            "took-note": _("took note"),
            "requested": _("requested"),
            "recommended": _("recommended"),
            "thanked": _("thanked"),
        }


def kind_word(kind: str, count: int) -> str:
    """A kind of meeting as an adjective agreeing with *count* meetings: "2 reuniones virtuales"."""
    forms = {
        "virtual": npgettext("meetings", "virtual", "virtual", count),
        "face-to-face": npgettext("meetings", "face-to-face", "face-to-face", count),
        "vice-ministerial": npgettext("meetings", "vice-ministerial", "vice-ministerial", count),
        "other": npgettext("meetings", "other", "other", count),
    }
    return forms.get(kind, kind)


def slot_label(start: date, per: str) -> str:
    """"second semester of 2018", "third quarter of 2019", "year 2019"."""
    if per == "year":
        return _("year {year}").format(year=start.year)
    if per == "semester":
        if start.month <= 6:
            return _("first semester of {year}").format(year=start.year)
        return _("second semester of {year}").format(year=start.year)
    if per == "quarter":
        quarters = (_("first quarter of {year}"), _("second quarter of {year}"), _("third quarter of {year}"),
                    _("fourth quarter of {year}"))
        return quarters[(start.month - 1) // 3].format(year=start.year)
    return month_year(start)


# ---------------------------------------------------------------------------
# dates, by Babel


def babel_locale(lang: str | None = None) -> str:
    return _BABEL_LOCALE.get(lang or current(), "en_GB")


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# English dates are written without Babel (whose import costs a read command a sixth of a
# second); Python's month names are English unless a program calls setlocale, which this one
# never does.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def long_date(value: date | datetime) -> str:
    """31 December 2018; 31 de diciembre de 2018."""
    day = _day(value)
    lang = current()
    if lang == "en":
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    from babel.dates import format_date

    return format_date(day, "long", locale=babel_locale(lang))


def full_date(value: date | datetime) -> str:
    """Friday, 26 August 2016; viernes, 26 de agosto de 2016."""
    day = _day(value)
    lang = current()
    if lang == "en":
        return f"{_WEEKDAYS[day.weekday()]}, {long_date(day)}"
    from babel.dates import format_date

    return format_date(day, "full", locale=babel_locale(lang))


def day_month(value: date | datetime) -> str:
    """31 May; 31 de mayo."""
    day = _day(value)
    lang = current()
    if lang == "en":
        return f"{day.day} {_MONTHS[day.month - 1]}"
    from babel.dates import format_skeleton

    return format_skeleton("MMMMd", day, locale=babel_locale(lang))


def month_year(value: date | datetime) -> str:
    """September 2016; septiembre de 2016."""
    day = _day(value)
    lang = current()
    if lang == "en":
        return f"{_MONTHS[day.month - 1]} {day.year}"
    from babel.dates import format_skeleton

    return format_skeleton("yMMMM", day, locale=babel_locale(lang))


def date_range(first: date, last: date | None) -> str:
    """31 May – 1 June 2018; 13–14 July 2016; 26 August 2016 (and the same in Spanish)."""
    if last is None or last == first:
        return long_date(first)
    if first.year != last.year:
        return f"{long_date(first)} – {long_date(last)}"
    if first.month != last.month:
        return f"{day_month(first)} – {long_date(last)}"
    return f"{first.day}–{long_date(last)}"


def days_late(days: int) -> str:
    """How late, for a table column: 901d in English (as it always read), 901 días in Spanish."""
    return ngettext("{count}d", "{count}d", days).format(count=days)


def days_ago(days: int) -> str:
    """901 days ago; hace 901 días."""
    from babel.dates import format_timedelta

    return str(format_timedelta(timedelta(days=-days), granularity="day", threshold=10**9, add_direction=True,
                                locale=babel_locale()))


def install(env: Any) -> None:
    """Give a Jinja2 environment ``_``, ``gettext`` and ``ngettext`` that follow :func:`current`."""
    env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext)
