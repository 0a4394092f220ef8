"""The generated dates data set (helpers.data.dates).

Oracles: Python's own date parser (``datetime.strptime``, whose ``%y`` follows POSIX) reads
every numeric and month-name format back to the target; the spelled-out formats are read back
by a small word parser written here from hand-typed number words; weekday names come from
``date.strftime("%A")``; splits are checked as invariants (disjoint dates, fixed test set).
"""

import datetime
import random
import re

import pytest
import torch

from helpers.data import (
    SEQ2SEQ_SPECIALS,
    Vocab,
    batches,
    dates,
    encode_pairs,
    generate_dates,
    load_dates,
    source_vocab,
    split_of,
    target_vocab,
)
from helpers.data.date_formats import (
    FORMATS,
    can_render,
    ordinal_suffix,
    ordinal_words,
    render,
    year_words,
)
from helpers.data.dates import join_dates

STRPTIME = {
    "iso": "%Y-%m-%d",
    "iso_basic": "%Y%m%d",
    "ymd_slash": "%Y/%m/%d",
    "us_slash": "%m/%d/%Y",
    "us_short": "%m/%d/%y",
    "eu_dot": "%d.%m.%Y",
    "eu_dot_short": "%d.%m.%y",
    "eu_dash": "%d-%m-%Y",
    "day_month_year": "%d %B %Y",
    "day_mon_year": "%d %b %Y",
    "day_mon_year_upper": "%d-%b-%Y",
    "month_day_year": "%B %d, %Y",
    "mon_day_year": "%b %d %Y",
    "month_day_year_lower": "%B %d %Y",
    "ordinal_day_month": "%d %B %Y",  # after removing the ordinal suffix
    "the_ordinal_of": "the %d of %B, %Y",
    "month_ordinal": "%B %d, %Y",
    "weekday_day_month": "%A, %d %B %Y",
    "rfc2822": "%a, %d %b %Y",
    "weekday_us": "%A, %B %d, %Y",
}
SPELLED = {"spelled", "spelled_month_first", "spelled_weekday"}

# Typed by hand, independently of helpers.data.dates.
CARDINALS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
             "fifteen sixteen seventeen eighteen nineteen").split()  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth "
            "twenty-first twenty-second twenty-third twenty-fourth twenty-fifth twenty-sixth "
            "twenty-seventh twenty-eighth twenty-ninth thirtieth thirty-first").split()  # fmt: skip
MONTHS = "January February March April May June July August September October November December".split()


def words_to_number(text: str) -> int:
    """'twenty-one' -> 21, 'nine' -> 9 (0..99)."""
    if text in CARDINALS:
        return CARDINALS.index(text)
    if text in TENS:
        return TENS[text]
    tens, ones = text.split("-")
    return TENS[tens] + CARDINALS.index(ones)


def parse_year(text: str) -> int:
    """'nineteen oh five' -> 1905, 'two thousand and twenty-one' -> 2021, 'twenty ten' -> 2010."""
    words = text.replace(" and ", " ").split()
    if words[:2] == ["two", "thousand"]:
        return 2000 + (words_to_number(words[2]) if len(words) > 2 else 0)
    century = words_to_number(words[0]) * 100
    rest = words[1:]
    if rest == ["hundred"]:
        return century
    if rest[0] == "oh":
        return century + words_to_number(rest[1])
    return century + words_to_number(rest[0])


def parse_spelled(source: str) -> datetime.date:
    m = re.fullmatch(r"(?:(\w+) )?the ([\w-]+) of (\w+), (.+)", source)  # [weekday] the X of Month, year
    if m:
        day, month, year = m.group(2), m.group(3), m.group(4)
    else:
        m = re.fullmatch(r"(\w+) the ([\w-]+), (.+)", source)  # Month the X, year
        month, day, year = m.group(1), m.group(2), m.group(3)
    return datetime.date(parse_year(year), MONTHS.index(month) + 1, ORDINALS.index(day) + 1)


def parse(source: str, fmt: str) -> datetime.date:
    if fmt in SPELLED:
        return parse_spelled(source)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", source)
    return datetime.datetime.strptime(text, STRPTIME[fmt]).date()


def random_dates(n, seed=0, lo=dates.FIRST_DATE, hi=dates.LAST_DATE):
    rng = random.Random(seed)
    return [datetime.date.fromordinal(rng.randint(lo.toordinal(), hi.toordinal())) for _ in range(n)]


def test_every_format_has_an_oracle():
    assert set(FORMATS) == set(STRPTIME) | SPELLED


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_to_the_date(fmt):
    lo, hi = (datetime.date(1969, 1, 1), datetime.date(2068, 12, 31)) if fmt.endswith("_short") else (None, None)
    sample = random_dates(400, seed=len(fmt), lo=lo or dates.FIRST_DATE, hi=hi or dates.LAST_DATE)
    edges = [datetime.date(1900, 1, 1), datetime.date(1969, 1, 1), datetime.date(2000, 2, 29), datetime.date(2011, 11, 11),
             datetime.date(2068, 12, 31), datetime.date(2099, 12, 31)]  # fmt: skip
    sample += [d for d in edges if (lo or dates.FIRST_DATE) <= d <= (hi or dates.LAST_DATE)]
    for d in sample:
        source = render(d, fmt)
        assert parse(source, fmt) == d, (fmt, source)
        for name in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
            if name in source or name[:3] + "," in source:
                assert name == d.strftime("%A"), (source, d)


def test_worked_examples():
    d = datetime.date(2021, 3, 3)  # a Wednesday
    assert render(d, "us_short") == "3/3/21"
    assert render(d, "the_ordinal_of") == "the 3rd of March, 2021"
    assert render(d, "rfc2822") == "Wed, 03 Mar 2021"
    assert render(d, "spelled_weekday") == "Wednesday the third of March, two thousand and twenty-one"
    assert render(datetime.date(1997, 9, 27), "spelled") == "the twenty-seventh of September, nineteen ninety-seven"
    assert render(datetime.date(1905, 12, 1), "spelled_month_first") == "December the first, nineteen oh five"


def test_number_words():
    assert [ordinal_suffix(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 30, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "30th", "31st"]  # fmt: skip
    assert [ordinal_words(n) for n in range(1, 32)] == ORDINALS
    assert year_words(1900) == "nineteen hundred"
    assert year_words(1905) == "nineteen oh five"
    assert year_words(2000) == "two thousand"
    assert year_words(2008) == "two thousand eight"
    assert year_words(2010) == "twenty ten"
    assert year_words(2021) == "twenty twenty-one"
    assert year_words(2021, "thousand") == "two thousand and twenty-one"
    for y in range(1900, 2100):
        assert parse_year(year_words(y)) == y and parse_year(year_words(y, "thousand")) == y


def test_two_digit_years_only_inside_the_posix_window():
    with pytest.raises(ValueError, match="two-digit"):
        render(datetime.date(1968, 5, 1), "us_short")
    assert not can_render(datetime.date(1968, 12, 31), "eu_dot_short") and can_render(datetime.date(1969, 1, 1), "eu_dot_short")
    assert can_render(datetime.date(2068, 12, 31), "us_short") and not can_render(datetime.date(2069, 1, 1), "us_short")
    pairs = generate_dates(3000, seed=3, n_dates=1, formats=["us_short", "eu_dot_short", "iso"])
    for p in pairs:
        if p.formats[0] != "iso":
            assert 1969 <= int(p.target[:4]) <= 2068


def test_generated_pairs_are_consistent():
    pairs = generate_dates(3000, "train", seed=1)
    for p in pairs:
        targets = p.target.split(" ")
        assert len(targets) == p.n_dates == len(p.formats)
        expected = join_dates([render(datetime.date.fromisoformat(t), f) for t, f in zip(targets, p.formats, strict=True)])
        assert p.source == expected
        assert all(datetime.date.fromisoformat(t).isoformat() == t for t in targets)
    # every format and every number of dates occurs
    assert {f for p in pairs for f in p.formats} == set(FORMATS)
    assert {p.n_dates for p in pairs} == {1, 2, 3}


def test_join_dates():
    assert join_dates(["a"]) == "a"
    assert join_dates(["a", "b"]) == "a and b"
    assert join_dates(["a", "b", "c"]) == "a; b and c"
    with pytest.raises(ValueError):
        join_dates([])


def test_splits_partition_the_calendar_and_test_dates_are_unseen():
    part = dates._partition()
    all_days = [d for days in part.values() for d in days]
    assert len(all_days) == len(set(all_days)) == dates.LAST_DATE.toordinal() - dates.FIRST_DATE.toordinal() + 1
    assert abs(len(part["test"]) / len(all_days) - 0.10) < 0.01
    data = load_dates(n_train=3000, n_valid=200, n_test=300, n_long=100)
    train_dates = {t for p in data.train for t in p.target.split()}
    for split, pairs in (("test", data.test), ("test", data.long), ("valid", data.valid)):
        for p in pairs:
            for t in p.target.split():
                assert split_of(datetime.date.fromisoformat(t)) == split
                assert t not in train_dates
    assert all(split_of(datetime.date.fromisoformat(t)) == "train" for t in train_dates)


def test_lengths_and_fixed_test_set():
    a = load_dates(seed=0, n_train=500, n_valid=50, n_test=200, n_long=100)
    b = load_dates(seed=1, n_train=500, n_valid=50, n_test=200, n_long=100)
    assert a.test == b.test and a.long == b.long  # fixed, whatever the seed
    assert a.train != b.train
    assert a.train == load_dates(seed=0, n_train=500, n_valid=50, n_test=200, n_long=100).train
    assert max(len(p.source) for p in a.train + a.valid + a.test) <= a.max_train_len
    assert all(a.max_train_len < len(p.source) <= 100 for p in a.long)
    assert min(len(p.source) for p in a.train) <= 10  # really variable lengths


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown date format"):
        render(datetime.date(2000, 1, 1), "klingon")
    with pytest.raises(ValueError, match="outside"):
        render(datetime.date(1899, 12, 31), "iso")
    with pytest.raises(ValueError, match="split"):
        generate_dates(5, "dev")
    with pytest.raises(ValueError, match="n_dates"):
        generate_dates(5, n_dates=(3, 1))
    with pytest.raises(ValueError, match="widen"):
        generate_dates(5, n_dates=1, formats=["iso"], min_len=11)
    with pytest.raises(ValueError, match="max_long_len"):
        load_dates(max_train_len=60, max_long_len=50)


def test_vocabularies():
    src, tgt = source_vocab(), target_vocab()
    assert (src.pad_id, src.bos_id, src.eos_id, src.unk_id) == (0, 1, 2, 3)
    pairs = generate_dates(3000, seed=2)
    for p in pairs:
        ids = src.encode(p.source).tolist()
        assert src.unk_id not in ids and src.decode(ids) == p.source
        ids = tgt.encode(p.target, bos=True, eos=True).tolist()
        assert ids[0] == tgt.bos_id and ids[-1] == tgt.eos_id and tgt.unk_id not in ids
        assert tgt.decode(ids + [tgt.pad_id] * 3) == p.target
    ab = Vocab("ab", specials=SEQ2SEQ_SPECIALS, unk="<unk>")
    assert ab.decode([4, 2, 5]) == "a"  # stops at the end symbol
    assert ab.encode("az").tolist() == [4, 3]  # unknown -> unk
    with pytest.raises(ValueError):
        ab.decode([99])


def test_batches():
    src, tgt = source_vocab(), target_vocab()
    pairs = generate_dates(100, seed=4)
    batch = encode_pairs(pairs[:8], src, tgt)
    lengths = torch.tensor([len(p.source) for p in pairs[:8]])
    assert batch.src.shape == (8, int(lengths.max()))
    assert torch.equal(batch.src_mask.sum(1), lengths)
    assert torch.equal(batch.src_mask, torch.arange(batch.src.shape[1])[None, :] < lengths[:, None])
    assert all(tgt.decode(row) == p.target for row, p in zip(batch.tgt, pairs[:8], strict=True))
    assert bool((batch.tgt[:, 0] == tgt.bos_id).all())
    first = [next(batches(pairs, src, tgt, 16, seed=7)).src for _ in range(2)]
    assert torch.equal(first[0], first[1])  # reproducible
    stream = batches(pairs, src, tgt, 16, seed=7)
    seen = [next(stream) for _ in range(20)]  # more than one epoch: endless
    assert len(seen) == 20
    with pytest.raises(ValueError):
        next(batches(pairs[:3], src, tgt, 16))
