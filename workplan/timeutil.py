"""Every time-zone and calendar rule of the workplan, in one place.

Dates without a time are *local dates in the group's time zone*: a deadline of
2016-07-28 is met by anything done on that day in Panama. Datetimes are stored
in UTC and shown in the group's zone. A meeting known only by its month is a
:class:`When` with ``precision == "month"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .i18n import gettext as _

PERIODS = ("year", "semester", "quarter", "month")
Period = Literal["year", "semester", "quarter", "month"]
Precision = Literal["month", "date", "datetime"]

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_OFFSET_RE = re.compile(r"^([+-]?)(\d{1,4})\s*([dw])$")


def zone(name: str) -> ZoneInfo:
    """The IANA zone called *name*; ValueError with a readable message otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name longer than a file name may be
        shown = name if len(name) <= 60 else name[:40] + "…"
        raise ValueError(_("unknown time zone {shown!r} (use an IANA name such as America/Panama)").format(shown=shown)) from exc


@dataclass(frozen=True, order=True)
class When:
    """A point on the calendar, as precisely as it is known.

    ``day`` is the local date (first day of the month for month precision);
    ``at`` is the aware datetime when the time of day is known.
    """

    day: date
    precision: Precision = "date"
    at: datetime | None = None

    @property
    def last_day(self) -> date:
        """The last local date this value may stand for (the month's end for a month)."""
        if self.precision == "month":
            return month_end(self.day)
        return self.day

    def iso(self) -> str:
        if self.precision == "month":
            return self.day.strftime("%Y-%m")
        if self.at is not None:
            return self.at.isoformat()
        return self.day.isoformat()


def parse_when(text: str, tz: ZoneInfo) -> When:
    """Parse ``2016-09``, ``2016-07-28``, ``2016-08-26T10:00`` or an ISO datetime with offset.

    A datetime without an offset is read in *tz*. Years outside FIRST_YEAR–LAST_YEAR are refused:
    nobody plans a meeting there, and offsets, periods and time zones near the ends of the
    calendar would overflow far from the line that caused it.
    """
    text = text.strip()
    m = _MONTH_RE.match(text)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(_("{text!r} is not a valid month").format(text=text))
        return When(date(_year(year, text), month, 1), "month")
    if _DATE_RE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("{text!r} is not a valid date").format(text=text)) from None
        _year(day.year, text)
        return When(day, "date")
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            _("{text!r} is not a date (YYYY-MM-DD), a month (YYYY-MM) or a datetime (YYYY-MM-DDTHH:MM)").format(text=text)
        ) from None
    _year(moment.year, text)
    if moment.tzinfo is None:
        moment = local_moment(moment, tz, text)
    return When(moment.astimezone(tz).date(), "datetime", moment)


def local_moment(wall: datetime, tz: ZoneInfo, text: str) -> datetime:
    """The naive wall-clock time *wall* read in *tz*; ValueError when the clocks jump over it
    (the hour skipped when daylight saving time begins), which Python would silently move."""
    moment = wall.replace(tzinfo=tz)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        raise ValueError(_("{text!r} does not exist in {zone}: the clocks jump over it that day "
                           "(daylight saving time); give a time before or after the jump").format(
            text=text, zone=getattr(tz, "key", tz)))
    return moment


_UNTIL_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$")


def parse_rrule_until(text: str, tz: ZoneInfo) -> datetime:
    """The UNTIL of an RFC 5545 rule: a day (``20211231``, that whole local day included), a
    UTC moment (``20211231T235959Z``) or a local time (``20211231T235959``)."""
    m = _UNTIL_RE.match(text)
    try:
        if m is None:
            raise ValueError(text)
        year, month, mday, hour, minute, second = (int(g or 0) for g in m.groups()[:6])
        day = date(year, month, mday)
        wall = datetime.combine(day, time(hour, minute, second))
    except ValueError:
        raise ValueError(_("UNTIL={text} is not a day (YYYYMMDD) or a moment (YYYYMMDDTHHMMSSZ)").format(
            text=text)) from None
    _year(day.year, f"UNTIL={text}")
    if m.group(4) is None:
        return end_of_day(day, tz)
    if m.group(7):
        return wall.replace(tzinfo=UTC)
    return local_moment(wall, tz, f"UNTIL={text}")


FIRST_YEAR, LAST_YEAR = 1900, 2199


def _year(year: int, text: str) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(_("{text!r} is outside the years {first_year}–{last_year} that workplan plans in").format(text=text, first_year=FIRST_YEAR, last_year=LAST_YEAR))
    return year


def parse_offset(text: str) -> timedelta:
    """``-14d`` → 14 days earlier; ``+2w`` → two weeks later."""
    m = _OFFSET_RE.match(str(text).strip())
    if not m:
        raise ValueError(_("offset {text!r} does not parse (write it like -14d or +2w)").format(text=text))
    sign = -1 if m.group(1) == "-" else 1
    amount = int(m.group(2))
    days = amount * 7 if m.group(3) == "w" else amount
    return timedelta(days=sign * days)


def month_end(day: date) -> date:
    if day.month == 12:
        return date(day.year, 12, 31)
    return date(day.year, day.month + 1, 1) - timedelta(days=1)


def _months_per(per: str) -> int:
    return {"year": 12, "semester": 6, "quarter": 3, "month": 1}[per]


def period_start(day: date, per: str) -> date:
    """First day of the calendar period (year, semester, quarter, month) containing *day*."""
    size = _months_per(per)
    month = ((day.month - 1) // size) * size + 1
    return date(day.year, month, 1)


def period_end(start: date, per: str) -> date:
    """Last day of the calendar period starting on *start*."""
    return next_period_start(start, per) - timedelta(days=1)


def next_period_start(start: date, per: str) -> date:
    size = _months_per(per)
    month0 = start.month - 1 + size
    return date(start.year + month0 // 12, month0 % 12 + 1, 1)


def first_period_after(day: date, per: str) -> date:
    """Start of the first period that begins strictly after *day*."""
    return next_period_start(period_start(day, per), per)


def periods_between(first: date, last: date, per: str) -> list[tuple[date, date]]:
    """Every (start, end) of the periods from the one containing *first* to the one containing *last*."""
    out: list[tuple[date, date]] = []
    start = period_start(first, per)
    while start <= last:
        out.append((start, period_end(start, per)))
        start = next_period_start(start, per)
    return out


def period_label(start: date, per: str) -> str:
    if per == "year":
        return f"{start.year}"
    if per == "semester":
        return f"{start.year}-S{1 if start.month <= 6 else 2}"
    if per == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return start.strftime("%Y-%m")


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last representable moment of *day* in *tz* (an as-of date means "by the end of that day")."""
    return datetime.combine(day, time.max, tzinfo=tz)


def to_utc_naive(moment: datetime) -> datetime:
    """Storage form: naive UTC, identical on SQLite and PostgreSQL."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_utc_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_as_of(text: str, tz: ZoneInfo) -> datetime:
    """An ``--as-of`` or ``--on`` value: a date means the end of that day; a datetime is exact."""
    when = parse_when(text, tz)
    if when.precision == "month":
        raise ValueError(_("{text!r} is a month; give a day (YYYY-MM-DD)").format(text=text))
    if when.at is not None:
        return when.at
    return end_of_day(when.day, tz)


def parse_event_moment(text: str, tz: ZoneInfo) -> datetime:
    """An ``--on`` value for a status change: a date means the start of that day."""
    when = parse_when(text, tz)
    if when.precision == "month":
        raise ValueError(_("{text!r} is a month; give a day (YYYY-MM-DD)").format(text=text))
    if when.at is not None:
        return when.at
    return start_of_day(when.day, tz)
