"""A generated, offline sequence-to-sequence task for week 4: lists of dates written the way
people write them (:mod:`helpers.data.date_formats`) -> the same dates in ISO 8601.

>>> generate_dates(2, seed=1)[0]  # doctest: +SKIP
DatePair(source='Jul 6 2002; October 12, 2093 and July 11, 2000', target='2002-07-06 2093-10-12 2000-07-11', ...)

A source holds one to three dates (each in its own format, joined as "A; B and C"); the
target is the ISO 8601 calendar dates ``YYYY-MM-DD`` separated by spaces. Sources run from 6
to 100 characters and the information the output needs grows with the number of dates: the
two properties that week 4 is about (variable lengths, and a fixed-size summary that cannot
hold a long input).

Splits. Every date from :data:`FIRST_DATE` to :data:`LAST_DATE` belongs to exactly one of
train / valid / test (a fixed partition, 85/5/10 per cent), so no test date is ever seen in
training, in any format. :func:`load_dates` gives train, valid and test examples whose source
has at most ``max_train_len`` characters, plus a *long* set of longer sources (test dates)
for the length experiment, as Bahdanau et al. (2015, Sec. 4.2 and Fig. 2) trained on sentences
of up to 30 or 50 words and tested on longer ones. The test and long sets do not depend on
the seed. :func:`source_vocab` and :func:`target_vocab` hold the characters plus padding, begin, end and
unknown symbols (:class:`helpers.data.Vocab` with ``SEQ2SEQ_SPECIALS``).
"""

from __future__ import annotations

import datetime
import functools
import random
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from helpers.data.date_formats import FIRST_DATE, FORMATS, LAST_DATE, can_render, render
from helpers.data.vocab import SEQ2SEQ_SPECIALS, UNK, Vocab

__all__ = [
    "FIRST_DATE",
    "FORMATS",
    "LAST_DATE",
    "TEST_SEED",
    "DateBatch",
    "DatePair",
    "DateSplits",
    "batches",
    "encode_pairs",
    "generate_dates",
    "join_dates",
    "load_dates",
    "render",
    "source_vocab",
    "split_of",
    "target_vocab",
]

TEST_SEED = 20150507  # the seed of the fixed test and long sets (never change it)
_PARTITION_SEED = 1409  # the fixed partition of the calendar into train/valid/test dates


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
    unknown = [f for f in formats if f not in FORMATS]
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
            usable = [f for f in formats if can_render(date, f)]
            if not usable:  # only two-digit-year formats and a date outside their window
                break
            dates.append(date)
            chosen.append(rng.choice(usable))
        else:
            source = join_dates([render(d, f) for d, f in zip(dates, chosen, strict=True)])
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
def source_vocab() -> Vocab:
    """Letters, digits, space and ``,./-;``: every character a source can hold (fixed, so the
    ids never depend on the sample)."""
    return Vocab(string.ascii_lowercase + string.ascii_uppercase + string.digits + " ,./-;",
                 specials=SEQ2SEQ_SPECIALS, unk=UNK)  # fmt: skip


def target_vocab() -> Vocab:
    """The characters of ISO 8601 dates (digits, hyphen) and the space between dates."""
    return Vocab("0123456789- ", specials=SEQ2SEQ_SPECIALS, unk=UNK)


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


def _pad(rows: list[torch.Tensor], pad_id: int) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad_id)  # (B, longest)


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
