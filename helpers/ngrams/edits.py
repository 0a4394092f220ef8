"""Edits between strings: candidate generation, Damerau-Levenshtein distance, an error model.

- :func:`edits1` / :func:`edits2`: every string one or two edits away (insertion, deletion,
  substitution, transposition of adjacent letters; Damerau 1964, CACM 7(3)), as in Norvig's
  essay "How to Write a Spelling Corrector" (2007). Clear, but edits2 makes ~10^5 strings.
- :class:`DeleteIndex`: the same known words, fast: an index of every word and its one-letter
  deletions (the idea behind SymSpell, Garbe 2012); two strings one edit apart share an entry.
- :func:`damerau_levenshtein`: the unrestricted distance (Lowrance & Wagner 1975).
- :func:`learn_edit_rates`: an error model learned from a frequency list alone, in the spirit
  of Whitelaw et al. (2009, EMNLP, "Using the web for language independent spellchecking and
  autocorrection"): a form rarer than one per million words and one edit from a word at least
  100 times more frequent is taken as a typo of it. Per class of edit, the rate is the typo
  frequency over the frequency-weighted number of places the edit could happen, e.g.
  ``P(speling | spelling) = rate["double-drop"]``. Kernighan, Church & Gale (1990) estimate
  letter-by-letter confusion matrices from real typos instead; we keep seven classes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import groupby

import numpy as np

__all__ = [
    "EDIT_CLASSES",
    "LETTERS",
    "DeleteIndex",
    "damerau_levenshtein",
    "edit_class",
    "edits1",
    "edits2",
    "learn_edit_rates",
]

LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOWELS = frozenset("aeiou")
EDIT_CLASSES = ("double-drop", "drop", "double-add", "add", "transpose", "vowel-sub", "sub")


def edits1(word: str, letters: str = LETTERS) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``.

    >>> sorted(edits1("ab", letters="ab"))
    ['a', 'aa', 'aab', 'ab', 'aba', 'abb', 'b', 'ba', 'bab', 'bb']
    """
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | transposes | replaces | inserts


def edits2(word: str, letters: str = LETTERS) -> set[str]:
    """Every string two edits away (``edits1`` twice): large, so keep only known words."""
    return {e2 for e1 in edits1(word, letters) for e2 in edits1(e1, letters)}


def damerau_levenshtein(a: str, b: str) -> int:
    """The fewest insertions, deletions, substitutions and adjacent transpositions turning
    ``a`` into ``b`` (unrestricted: edits may touch transposed letters again).

    >>> damerau_levenshtein("teh", "the"), damerau_levenshtein("ca", "abc")
    (1, 2)
    """
    while a and b and a[0] == b[0]:  # a common prefix or suffix never changes the distance
        a, b = a[1:], b[1:]
    while a and b and a[-1] == b[-1]:
        a, b = a[:-1], b[:-1]
    big = len(a) + len(b)
    last_row: dict[str, int] = {}
    d = [[big] * (len(b) + 2)] + [[big] + [0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i + 1][1] = i
    for j in range(len(b) + 1):
        d[1][j + 1] = j
    for i in range(1, len(a) + 1):
        last_col = 0
        for j in range(1, len(b) + 1):
            k, m = last_row.get(b[j - 1], 0), last_col
            cost = 0 if a[i - 1] == b[j - 1] else 1
            if cost == 0:
                last_col = j
            d[i + 1][j + 1] = min(
                d[i][j] + cost,  # substitution (or match)
                d[i + 1][j] + 1,  # insertion
                d[i][j + 1] + 1,  # deletion
                d[k][m]
                + (i - k - 1)
                + 1
                + (j - m - 1),  # transposition, letters between deleted/inserted
            )
        last_row[a[i - 1]] = i
    return d[len(a) + 1][len(b) + 1]


def _doubled(s: str, i: int) -> bool:
    return (i > 0 and s[i - 1] == s[i]) or (i + 1 < len(s) and s[i + 1] == s[i])


def edit_class(intended: str, typed: str) -> str:
    """The class of the single edit that turns ``intended`` into ``typed`` (one of
    :data:`EDIT_CLASSES`). Raises ``ValueError`` if they are not exactly one edit apart.

    >>> edit_class("spelling", "speling"), edit_class("the", "teh"), edit_class("until", "untill")
    ('double-drop', 'transpose', 'double-add')
    """
    c, x = intended, typed
    if damerau_levenshtein(c, x) != 1:
        raise ValueError(f"{intended!r} and {typed!r} are not one edit apart")
    if len(x) == len(c) - 1:
        i = next((k for k in range(len(x)) if x[k] != c[k]), len(x))
        return "double-drop" if _doubled(c, i) else "drop"
    if len(x) == len(c) + 1:
        i = next((k for k in range(len(c)) if x[k] != c[k]), len(c))
        return "double-add" if _doubled(x, i) else "add"
    diff = [k for k in range(len(c)) if c[k] != x[k]]
    if len(diff) == 2:
        return "transpose"
    return "vowel-sub" if c[diff[0]] in VOWELS and x[diff[0]] in VOWELS else "sub"


def opportunities(word: str) -> dict[str, int]:
    """How many distinct strings one edit of each class makes from ``word`` (26 letters):
    they add up to ``len(edits1(word) - {word})``."""
    n = len(word)
    runs = [len(list(group)) for _, group in groupby(word)]  # "spelling": s p e ll i n g
    vowels = sum(ch in VOWELS for ch in word)
    return {
        "double-drop": sum(length >= 2 for length in runs),
        "drop": sum(length == 1 for length in runs),
        "double-add": len(runs),
        "add": 26 * (n + 1) - n - len(runs),
        "transpose": sum(word[i] != word[i + 1] for i in range(n - 1)),
        "vowel-sub": 4 * vowels,
        "sub": 25 * n - 4 * vowels,
    }


def learn_edit_rates(
    frequencies: Mapping[str, float], common: float = 1e-5, rare: float = 1e-6, ratio: float = 100.0
) -> dict[str, float]:
    """Per-class probability of one specific edit, learned from a frequency list.

    For every word with frequency >= ``common``, every form one edit away that is listed with
    frequency < ``rare`` and at most ``1/ratio`` of the word's is counted as its typo. The
    rate of a class is the summed typo frequency over the summed ``f(word) * opportunities``.
    """
    errors, chances = Counter(), Counter()
    for c, fc in frequencies.items():
        if fc < common:
            continue
        for k, v in opportunities(c).items():
            chances[k] += fc * v
        for x in edits1(c):
            fx = frequencies.get(x)
            if fx is not None and fx < rare and fc >= ratio * fx and x != c:
                errors[edit_class(c, x)] += fx
    if not errors:
        raise ValueError(
            "no typo found in the frequency list (too small?): cannot learn edit rates"
        )
    floor = sum(errors.values()) / sum(chances.values()) / 10  # unseen classes: a tenth of the mean
    return {k: max(errors[k] / chances[k], floor) if chances[k] else floor for k in EDIT_CLASSES}


class DeleteIndex:
    """All words of a list within Damerau-Levenshtein distance 1 or 2 of a string, fast.

    Stores the hash of every word and of each of its one-letter deletions, sorted, with the
    word's id. Candidates are checked with :func:`damerau_levenshtein`, so hash collisions
    cost time, never correctness. Same answer as filtering ``edits1``/``edits2`` (tested).
    """

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        keys, ids = [], []
        for i, w in enumerate(self.words):
            for s in {w, *(w[:j] + w[j + 1 :] for j in range(len(w)))}:
                keys.append(hash(s))
                ids.append(i)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self.keys = np.asarray(keys, dtype=np.int64)[order]
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.lengths = np.fromiter(map(len, self.words), dtype=np.int64, count=len(self.words))

    def _lookup(self, strings: set[str]) -> np.ndarray:
        """Ids of the words that hold one of ``strings`` (themselves or a one-letter deletion)."""
        q = np.unique(np.fromiter(map(hash, strings), dtype=np.int64, count=len(strings)))  # sorted
        lo = np.searchsorted(self.keys, q, "left")
        found = self.keys[np.minimum(lo, len(self.keys) - 1)] == q
        starts = lo[found]
        ends = np.searchsorted(self.keys, q[found], "right")
        if not len(starts):
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([self.ids[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]))

    def near(self, x: str, max_distance: int = 2) -> dict[str, int]:
        """``{word: distance}`` for listed words within ``max_distance`` (1 or 2) of ``x``.

        A word one edit from some ``e`` shares ``e`` or a deletion of ``e`` with the index, so
        looking up ``x`` (and for distance 2 every ``e`` in ``edits1(x)``) finds them all.
        """
        if max_distance not in (1, 2):
            raise ValueError(f"max_distance={max_distance!r} must be 1 or 2")
        centres = edits1(x) if max_distance == 2 else set()
        centres.add(x)
        probes = set(centres)
        for e in centres:
            probes.update([e[:j] + e[j + 1 :] for j in range(len(e))])
        ids = self._lookup(probes)
        ids = ids[np.abs(self.lengths[ids] - len(x)) <= max_distance]
        found = {}
        for i in ids.tolist():
            w = self.words[i]
            if (d := damerau_levenshtein(x, w)) <= max_distance:
                found[w] = d
        return found
