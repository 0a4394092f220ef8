"""Calendar dates written the way people write them: the formats of the week-4 data set.

:func:`render` writes a date in one of :data:`FORMATS`: numeric US and European orders,
two-digit years, month names and abbreviations, ordinals, weekdays, an RFC 2822 style, and
dates spelled out in words.

>>> render(datetime.date(2021, 3, 3), "the_ordinal_of")
'the 3rd of March, 2021'
>>> render(datetime.date(1997, 9, 27), "spelled")
'the twenty-seventh of September, nineteen ninety-seven'

Conventions, so that every string has exactly one reading:

* ``m/d/y`` with slashes is the US order; ``d.m.y`` with dots and ``d-m-y`` with dashes are
  day-first (as in Germany and the Netherlands); ``y/m/d`` puts the year first.
* Two-digit years follow POSIX ``strptime``'s ``%y``: 69-99 mean 1969-1999 and 00-68 mean
  2000-2068, so those formats only write years 1969-2068.
* Years in words: "nineteen oh five", "nineteen hundred", "two thousand eight", "twenty
  twenty-one" (or, in the ``thousand`` style, "two thousand and twenty-one").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

__all__ = [
    "FIRST_DATE",
    "FORMATS",
    "LAST_DATE",
    "MONTHS",
    "WEEKDAYS",
    "can_render",
    "number_words",
    "ordinal_suffix",
    "ordinal_words",
    "render",
    "year_words",
]

FIRST_DATE = datetime.date(1900, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]  # fmt: skip
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_ONES = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                 "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
                 "sixteenth", "seventeenth", "eighteenth", "nineteenth"]  # fmt: skip


# ----------------------------------------------------------------------------- numbers in words
def number_words(n: int) -> str:
    """``21 -> 'twenty-one'`` for 0 <= n < 100."""
    if not 0 <= n < 100:
        raise ValueError(f"number_words handles 0..99, got {n}")
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])


def ordinal_words(n: int) -> str:
    """``23 -> 'twenty-third'``, ``30 -> 'thirtieth'`` for 1 <= n < 100."""
    if not 1 <= n < 100:
        raise ValueError(f"ordinal_words handles 1..99, got {n}")
    if n < 20:
        return _ORDINAL_ONES[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return _TENS[tens][:-1] + "ieth"  # twenty -> twentieth
    return _TENS[tens] + "-" + _ORDINAL_ONES[ones]


def ordinal_suffix(n: int) -> str:
    """``1 -> '1st'``, ``12 -> '12th'``, ``23 -> '23rd'``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def year_words(year: int, style: str = "pairs") -> str:
    """A year as people say it, for 1900..2099.

    ``style="pairs"``: 1905 -> 'nineteen oh five', 1999 -> 'nineteen ninety-nine',
    2005 -> 'two thousand five', 2021 -> 'twenty twenty-one'.
    ``style="thousand"``: the 2000s as 'two thousand and twenty-one' (1900s as in pairs).
    """
    if not FIRST_DATE.year <= year <= LAST_DATE.year:
        raise ValueError(f"year_words handles {FIRST_DATE.year}..{LAST_DATE.year}, got {year}")
    if style not in ("pairs", "thousand"):
        raise ValueError(f"style={style!r} must be 'pairs' or 'thousand'")
    century, rest = divmod(year, 100)
    if century == 20 and (style == "thousand" or rest < 10):
        if rest == 0:
            return "two thousand"
        return "two thousand " + ("and " if style == "thousand" else "") + number_words(rest)
    head = number_words(century)
    if rest == 0:
        return head + " hundred"
    if rest < 10:
        return head + " oh " + number_words(rest)
    return head + " " + number_words(rest)


# ----------------------------------------------------------------------------- the formats
def _two_digit_year(d: datetime.date) -> bool:
    return 1969 <= d.year <= 2068  # the POSIX %y window (see the module docstring)


def _formats() -> dict[str, tuple[Callable[[datetime.date], str], Callable[[datetime.date], bool]]]:
    def M(d):  # noqa: N802 - month name
        return MONTHS[d.month - 1]

    def W(d):  # noqa: N802 - weekday name
        return WEEKDAYS[d.weekday()]

    always = lambda d: True  # noqa: E731
    return {
        "iso": (lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}", always),
        "iso_basic": (lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}", always),
        "ymd_slash": (lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}", always),
        "us_slash": (lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}", always),
        "us_short": (lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}", _two_digit_year),
        "eu_dot": (lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}", always),
        "eu_dot_short": (lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}", _two_digit_year),
        "eu_dash": (lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}", always),
        "day_month_year": (lambda d: f"{d.day} {M(d)} {d.year}", always),
        "day_mon_year": (lambda d: f"{d.day} {M(d)[:3]} {d.year}", always),
        "day_mon_year_upper": (lambda d: f"{d.day:02d}-{M(d)[:3].upper()}-{d.year}", always),
        "month_day_year": (lambda d: f"{M(d)} {d.day}, {d.year}", always),
        "mon_day_year": (lambda d: f"{M(d)[:3]} {d.day} {d.year}", always),
        "month_day_year_lower": (lambda d: f"{M(d).lower()} {d.day} {d.year}", always),
        "ordinal_day_month": (lambda d: f"{ordinal_suffix(d.day)} {M(d)} {d.year}", always),
        "the_ordinal_of": (lambda d: f"the {ordinal_suffix(d.day)} of {M(d)}, {d.year}", always),
        "month_ordinal": (lambda d: f"{M(d)} {ordinal_suffix(d.day)}, {d.year}", always),
        "weekday_day_month": (lambda d: f"{W(d)}, {d.day} {M(d)} {d.year}", always),
        "rfc2822": (lambda d: f"{W(d)[:3]}, {d.day:02d} {M(d)[:3]} {d.year}", always),
        "weekday_us": (lambda d: f"{W(d)}, {M(d)} {d.day}, {d.year}", always),
        "spelled": (lambda d: f"the {ordinal_words(d.day)} of {M(d)}, {year_words(d.year)}", always),
        "spelled_month_first": (lambda d: f"{M(d)} the {ordinal_words(d.day)}, {year_words(d.year)}", always),
        "spelled_weekday": (
            lambda d: f"{W(d)} the {ordinal_words(d.day)} of {M(d)}, {year_words(d.year, 'thousand')}",
            always,
        ),
    }


_FORMATS = _formats()
FORMATS: tuple[str, ...] = tuple(_FORMATS)


def render(date: datetime.date, fmt: str) -> str:
    """The date written in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown date format {fmt!r}: choose one of {', '.join(FORMATS)}")
    write, allowed = _FORMATS[fmt]
    if not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(f"date {date} is outside {FIRST_DATE}..{LAST_DATE}")
    if not allowed(date):
        raise ValueError(f"format {fmt!r} has a two-digit year and only covers 1969..2068, not {date}")
    return write(date)


def can_render(date: datetime.date, fmt: str) -> bool:
    """Whether format ``fmt`` can write ``date`` (two-digit years only cover 1969..2068)."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown date format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return FIRST_DATE <= date <= LAST_DATE and _FORMATS[fmt][1](date)
