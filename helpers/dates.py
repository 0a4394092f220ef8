"""Dates written the way people write them, paired with their ISO 8601 form: a generated,
offline sequence-to-sequence task for week 4.

The source side is a calendar date in one of :data:`FORMATS` (numeric US and European orders,
two-digit years, month names and abbreviations, ordinals, weekdays, RFC 2822 style, and dates
spelled out in words), the target side is the same date as ``YYYY-MM-DD`` (ISO 8601, extended
calendar format). Inputs run from 6 to about 65 characters, so the task has the two properties
the week is about: input and output lengths differ, and the input length varies a lot.

>>> render(datetime.date(2021, 3, 3), "the_ordinal_of")
'the 3rd of March, 2021'
>>> render(datetime.date(1997, 9, 27), "spelled")
'the twenty-seventh of September, nineteen ninety-seven'

Conventions (each documented so that every source has exactly one reading):

* ``m/d/y`` with slashes is the US order; ``d.m.y`` with dots and ``d-m-y`` with dashes are
  day-first (as in Germany and the Netherlands); ``y/m/d`` puts the year first.
* Two-digit years follow POSIX ``strptime``'s ``%y``: 69-99 mean 1969-1999 and 00-68 mean
  2000-2068, so those formats are only drawn for years 1969-2068.

Splits. Every date from :data:`FIRST_DATE` to :data:`LAST_DATE` belongs to exactly one of
train / valid / test (a fixed partition, 85/5/10 per cent), so a test date is never seen in
training in any format. :func:`load_dates` gives train, valid and test examples whose source is
at most ``max_train_len`` characters, plus a *long* set of longer sources (test dates again)
that no training example resembles in length: the held-out set for the length experiment,
as Bahdanau et al. (2015, Sec. 4.2 and Fig. 2) trained on sentences of up to 30 or 50 words and
tested on longer ones. The test and long sets do not depend on the seed.
"""

from __future__ import annotations

import datetime
import functools
import random
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "FIRST_DATE",
    "FORMATS",
    "LAST_DATE",
    "TEST_SEED",
    "DateBatch",
    "DatePair",
    "DateSplits",
    "Vocab",
    "batches",
    "encode_pairs",
    "generate_dates",
    "join_dates",
    "load_dates",
    "number_words",
    "ordinal_suffix",
    "ordinal_words",
    "render",
    "source_vocab",
    "split_of",
    "target_vocab",
    "year_words",
]

FIRST_DATE = datetime.date(1900, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)
TEST_SEED = 20150507  # the seed of the fixed test and long sets (never change it)
_PARTITION_SEED = 1409  # the fixed partition of the calendar into train/valid/test dates

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


# ----------------------------------------------------------------------------- examples and splits
@dataclass(frozen=True)
class DatePair:
    """One example: ``source`` (one or more human-written dates), ``target`` (the ISO 8601
    dates, separated by spaces) and the format of each date."""

    source: str
    target: str
    formats: tuple[str, ...]

    @property
    def n_dates(self) -> int:
        return len(self.formats)


@dataclass(frozen=True)
class DateSplits:
    """Train / valid / test examples (sources of at most ``max_train_len`` characters) and the
    held-out ``long`` examples (longer sources, test dates)."""

    train: list[DatePair]
    valid: list[DatePair]
    test: list[DatePair]
    long: list[DatePair]
    max_train_len: int


_SPLITS = ("train", "valid", "test")


@functools.cache  # a constant of the data set, computed once
def _partition() -> dict[str, list[int]]:
    """The fixed assignment of every date (as an ordinal) to train, valid or test."""
    days = list(range(FIRST_DATE.toordinal(), LAST_DATE.toordinal() + 1))
    random.Random(_PARTITION_SEED).shuffle(days)
    n_valid, n_test = len(days) // 20, len(days) // 10
    return {
        "valid": sorted(days[:n_valid]),
        "test": sorted(days[n_valid : n_valid + n_test]),
        "train": sorted(days[n_valid + n_test :]),
    }


@functools.cache
def _split_by_ordinal() -> dict[int, str]:
    return {day: name for name, days in _partition().items() for day in days}


def split_of(date: datetime.date) -> str:
    """Which split ``date`` belongs to: "train", "valid" or "test"."""
    if not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(f"date {date} is outside {FIRST_DATE}..{LAST_DATE}")
    return _split_by_ordinal()[date.toordinal()]


def join_dates(parts: Sequence[str]) -> str:
    """How a list of dates is written: "A", "A and B", "A; B and C", ..."""
    if len(parts) == 0:
        raise ValueError("join_dates needs at least one date")
    if len(parts) == 1:
        return parts[0]
    return "; ".join(parts[:-1]) + " and " + parts[-1]


def generate_dates(
    n: int,
    split: str = "train",
    seed: int = 0,
    n_dates: int | tuple[int, int] = (1, 3),
    min_len: int = 1,
    max_len: int | None = None,
    formats: Sequence[str] | None = None,
) -> list[DatePair]:
    """``n`` examples whose dates all come from ``split``.

    Each example has a number of dates drawn uniformly from ``n_dates`` (an int or an
    inclusive range); each date is drawn uniformly from the split and written in a format drawn
    uniformly among ``formats`` (default: all) that can write it; several dates are joined as
    "A; B and C". Only sources with ``min_len <= len(source) <= max_len`` are kept (rejection
    sampling), so the result is reproducible for a given ``seed``.
    """
    if split not in _SPLITS:
        raise ValueError(f"split={split!r} must be one of {', '.join(_SPLITS)}")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative integer")
    lo, hi = (n_dates, n_dates) if isinstance(n_dates, int) else tuple(n_dates)
    if not 1 <= lo <= hi:
        raise ValueError(f"n_dates={n_dates!r} must be a positive int or a range (lo, hi) with 1 <= lo <= hi")
    formats = list(FORMATS if formats is None else formats)
    unknown = [f for f in formats if f not in _FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown or no formats {unknown!r}: choose from {', '.join(FORMATS)}")
    if max_len is not None and max_len < min_len:
        raise ValueError(f"max_len={max_len} is below min_len={min_len}")
    days = _partition()[split]
    rng = random.Random(seed)
    pairs: list[DatePair] = []
    tries = 0
    while len(pairs) < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise ValueError(
                f"only {len(pairs)} of {n} examples have {min_len} <= length <= {max_len} with "
                f"n_dates={n_dates} and formats {formats}: widen the length range"
            )
        dates, chosen = [], []
        for _ in range(rng.randint(lo, hi)):
            date = datetime.date.fromordinal(rng.choice(days))
            usable = [f for f in formats if _FORMATS[f][1](date)]
            if not usable:  # only two-digit-year formats and a date outside their window
                break
            dates.append(date)
            chosen.append(rng.choice(usable))
        else:
            source = join_dates([_FORMATS[f][0](d) for d, f in zip(dates, chosen, strict=True)])
            if min_len <= len(source) and (max_len is None or len(source) <= max_len):
                target = " ".join(d.isoformat() for d in dates)
                pairs.append(DatePair(source, target, tuple(chosen)))
    return pairs


def load_dates(
    seed: int = 0,
    n_train: int = 20_000,
    n_valid: int = 500,
    n_test: int = 1_000,
    n_long: int = 500,
    n_dates: int | tuple[int, int] = (1, 3),
    max_train_len: int = 60,
    max_long_len: int = 100,
) -> DateSplits:
    """The week-4 data set: train/valid (drawn with ``seed``) and the fixed test and long sets.

    ``test`` has the training length range (sources of at most ``max_train_len`` characters);
    ``long`` has sources of ``max_train_len + 1`` to ``max_long_len`` characters. Both use test
    dates and :data:`TEST_SEED`, whatever ``seed`` is.
    """
    if max_long_len <= max_train_len:
        raise ValueError(f"max_long_len={max_long_len} must exceed max_train_len={max_train_len}")
    kw = {"n_dates": n_dates}
    return DateSplits(
        train=generate_dates(n_train, "train", seed=seed, max_len=max_train_len, **kw),
        valid=generate_dates(n_valid, "valid", seed=seed + 1, max_len=max_train_len, **kw),
        test=generate_dates(n_test, "test", seed=TEST_SEED, max_len=max_train_len, **kw),
        long=generate_dates(n_long, "test", seed=TEST_SEED + 1, min_len=max_train_len + 1, max_len=max_long_len, **kw),
        max_train_len=max_train_len,
    )


# ----------------------------------------------------------------------------- vocabularies
class Vocab:
    """A character vocabulary with the four special symbols of sequence-to-sequence models:
    padding (id 0), begin (1), end (2) and unknown (3).

    >>> v = Vocab("0123456789- ")
    >>> v.encode("2021", bos=True, eos=True)
    [1, 6, 4, 6, 5, 2]
    >>> v.decode([1, 6, 4, 6, 5, 2, 0, 0])
    '2021'
    """

    PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, chars: str | Sequence[str]):
        chars = list(dict.fromkeys(chars))
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("every vocabulary entry must be a single character")
        self.tokens = [self.PAD, self.BOS, self.EOS, self.UNK, *chars]
        self.index = {c: i for i, c in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocab({''.join(self.tokens[4:])!r})"

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of the characters of ``text`` (unknown ones -> ``unk_id``), optionally framed by
        the begin and end symbols."""
        ids = [self.index.get(c, self.unk_id) for c in text]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text for ``ids``: stops at the first end symbol, skips padding and begin symbols."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            if not isinstance(i, int) or not 0 <= i < len(self.tokens):
                raise ValueError(f"id {i!r} is not an integer in [0, {len(self.tokens)})")
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i] if i != self.unk_id else "\ufffd")
        return "".join(out)


def source_vocab() -> Vocab:
    """Letters, digits, space and ``,./-``: every character a format can write (fixed, so the
    ids never depend on the sample)."""
    return Vocab(string.ascii_lowercase + string.ascii_uppercase + string.digits + " ,./-")


def target_vocab() -> Vocab:
    """The characters of ISO 8601 dates (digits, hyphen) and the space between dates."""
    return Vocab("0123456789- ")


# ----------------------------------------------------------------------------- batches of ids
@dataclass
class DateBatch:
    """Padded id tensors: ``src`` (B, S) with ``src_mask`` (B, S) True on real characters, and
    ``tgt`` (B, T) = begin symbol + target + end symbol, padded."""

    src: torch.Tensor
    src_mask: torch.Tensor
    tgt: torch.Tensor

    def to(self, device: torch.device | str) -> DateBatch:
        return DateBatch(self.src.to(device), self.src_mask.to(device), self.tgt.to(device))


def _pad(rows: list[list[int]], pad_id: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long)


def encode_pairs(pairs: Sequence[DatePair], src_vocab: Vocab, tgt_vocab: Vocab) -> DateBatch:
    """One padded batch for ``pairs`` (at least one pair)."""
    if len(pairs) == 0:
        raise ValueError("encode_pairs needs at least one pair")
    src = _pad([src_vocab.encode(p.source) for p in pairs], src_vocab.pad_id)
    tgt = _pad([tgt_vocab.encode(p.target, bos=True, eos=True) for p in pairs], tgt_vocab.pad_id)
    return DateBatch(src, src != src_vocab.pad_id, tgt)


def batches(
    pairs: Sequence[DatePair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Iterator[DateBatch]:
    """Endless shuffled batches (a new order each epoch, drawn with ``seed``)."""
    if batch_size < 1 or len(pairs) < batch_size:
        raise ValueError(f"batch_size={batch_size} must be between 1 and the {len(pairs)} pairs")
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = encode_pairs([pairs[i] for i in order[start : start + batch_size]], src_vocab, tgt_vocab)
            yield batch if device is None else batch.to(device)
