"""Counterfactual evaluation of a classifier: does the prediction change when identity terms do?

Swap every identity term of a text for its counterpart (``he`` <-> ``she``, ``john`` <->
``mary``) and classify both versions. The **flip rate** is the share of texts that hold at
least one term and whose predicted class changes (Garg et al. 2019, "Counterfactual fairness in
text classification through robustness", AIES, call its complement counterfactual token
fairness; Kusner et al. 2017 define counterfactual fairness in general). A classifier of topics
should never flip; a flip says that the model uses the identity term as evidence.

**The swap list** (:data:`GENDER_SWAPS`, :data:`NAME_SWAPS`) is ours and is documented here, with
its known faults: English ``her`` is both ``his`` (possessive) and ``him`` (object), so a swap
table must pick one (we map ``her -> his``, and ``him``/``his -> her``), and the swapped text is
then sometimes ungrammatical ("she gave his the book"); titles (``mr``/``mrs``) and occupation
pairs (``actor``/``actress``) are included, names are pairs of common first names of about the same
frequency in our corpus's era. Words are matched whole, case-insensitively, and the case of the
first letter is kept. What a word list misses (a name not in it, "chairman") is not swapped, so
the flip rate is a lower bound on the model's sensitivity to gender.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GENDER_SWAPS",
    "NAME_SWAPS",
    "CounterfactualResult",
    "counterfactual_flip_rate",
    "swap_terms",
    "swap_table",
]

GENDER_SWAPS: tuple[tuple[str, str], ...] = (
    ("he", "she"), ("his", "her"), ("him", "her"), ("himself", "herself"), ("man", "woman"), ("men", "women"),
    ("boy", "girl"), ("boys", "girls"), ("father", "mother"), ("fathers", "mothers"), ("son", "daughter"),
    ("sons", "daughters"), ("brother", "sister"), ("brothers", "sisters"), ("husband", "wife"),
    ("husbands", "wives"), ("king", "queen"), ("kings", "queens"), ("prince", "princess"), ("uncle", "aunt"),
    ("nephew", "niece"), ("grandfather", "grandmother"), ("male", "female"), ("males", "females"),
    ("mr", "mrs"), ("sir", "madam"), ("actor", "actress"), ("emperor", "empress"), ("lord", "lady"),
    ("gentleman", "lady"), ("gentlemen", "ladies"),
)  # fmt: skip
NAME_SWAPS: tuple[tuple[str, str], ...] = (
    ("john", "mary"), ("william", "elizabeth"), ("james", "anne"), ("george", "margaret"), ("charles", "catherine"),
    ("robert", "sarah"), ("thomas", "jane"), ("michael", "susan"), ("david", "helen"), ("paul", "alice"),
)  # fmt: skip


def swap_table(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Both directions of each pair, lower case; a word in two pairs keeps its first mapping
    (``her -> his`` before ``her -> him``; ``lady -> lord`` before ``lady -> gentleman``)."""
    table: dict[str, str] = {}
    for pair in pairs:
        if len(pair) != 2 or not all(
            isinstance(w, str) and re.fullmatch(r"[\w'-]+", w) for w in pair
        ):
            raise ValueError(f"swap pair {pair!r} must be two single words")
        a, b = (w.lower() for w in pair)
        if a == b:
            raise ValueError(f"swap pair {pair!r} swaps a word with itself")
        table.setdefault(a, b)
        table.setdefault(b, a)
    return table


def swap_terms(text: str, pairs: Sequence[tuple[str, str]] = GENDER_SWAPS) -> tuple[str, int]:
    """``text`` with every listed term swapped, and the number of swaps.

    >>> swap_terms("He told his sister that John was home.", GENDER_SWAPS + NAME_SWAPS)
    ('She told her brother that Mary was home.', 4)
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    table = swap_table(pairs)
    pattern = re.compile(
        r"\b(" + "|".join(sorted(map(re.escape, table), key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        count += 1
        word = match.group(0)
        new = table[word.lower()]
        if word.isupper() and len(word) > 1:
            return new.upper()
        return new.capitalize() if word[0].isupper() else new

    return pattern.sub(replace, text), count


@dataclass(frozen=True)
class CounterfactualResult:
    """Flip rate over the texts that hold a listed term, and which texts flipped."""

    flip_rate: float
    n_with_terms: int
    n_texts: int
    flipped: list[int]  # indices into the input texts
    swapped: list[str]  # the counterfactual text of each input (unchanged where no term)

    def __str__(self) -> str:
        return (
            f"{len(self.flipped)} of {self.n_with_terms} texts with an identity term change class "
            f"({self.flip_rate:.1%}); {self.n_texts - self.n_with_terms} texts had none"
        )


def counterfactual_flip_rate(
    predict: Callable[[list[str]], Sequence[int]],
    texts: Sequence[str],
    pairs: Sequence[tuple[str, str]] = GENDER_SWAPS,
) -> CounterfactualResult:
    """Classify ``texts`` and their swapped versions with ``predict`` (list of texts -> classes)."""
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    swapped, counts = zip(*(swap_terms(t, pairs) for t in texts), strict=True)
    with_terms = [i for i, c in enumerate(counts) if c > 0]
    if not with_terms:
        raise ValueError(
            "no text holds a term of the swap list: nothing to compare (check the list and the texts' case)"
        )
    chosen = [texts[i] for i in with_terms]
    before = np.asarray(predict(chosen))
    after = np.asarray(predict([swapped[i] for i in with_terms]))
    if before.shape != (len(chosen),) or after.shape != (len(chosen),):
        raise ValueError(
            f"predict must return one class per text: {len(chosen)} texts, got shapes {before.shape}, {after.shape}"
        )
    flipped = [with_terms[j] for j in np.nonzero(before != after)[0]]
    return CounterfactualResult(
        len(flipped) / len(with_terms), len(with_terms), len(texts), flipped, list(swapped)
    )
