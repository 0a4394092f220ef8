"""Evaluation sets that ship inside installed packages: analogies, word similarity, real
misspellings and labelled sentences. Evaluation data: never use them to train or tune (the
one exception is the training half of the misspellings, :func:`misspelling_split`, which
week 1's spelling corrector learns its error model from).

- ``load_analogies()``: the Google analogy test set (Mikolov et al. 2013, "Efficient
  estimation of word representations in vector space"), ``questions-words.txt`` in gensim,
  Apache 2.0 (word2vec distribution).
- ``load_word_similarity("wordsim353" | "simlex999")``: WordSim-353 (Finkelstein et al. 2002)
  and SimLex-999 (Hill, Reichart & Korhonen 2015), as shipped with gensim.
- ``load_misspellings()``: codespell's dictionary of real misspellings (GPL-2.0 / CC BY-SA 3.0),
  and :func:`misspelling_split`, its two halves split by correction word (train / test);
  :func:`top_k_accuracy` scores a ranker.
- ``load_polarity()``: 200 labelled movie-review sentences (Pang & Lee 2005, sentence
  polarity data v1.0), ``pang_lee_polarity.cor`` in gensim.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from helpers.data.corpora import gensim_data

__all__ = [
    "load_analogies",
    "load_misspellings",
    "load_polarity",
    "load_word_similarity",
    "misspelling_split",
    "top_k_accuracy",
]

SIMILARITY_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
_LETTERS = re.compile(r"[a-z]+")


def load_analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """The Google analogy set by section: ``{"capital-common-countries": [(a, b, c, d), ...]}``
    for "a is to b as c is to d". 19,544 questions in 14 sections."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in gensim_data("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip() and current is not None:
            a, b, c, d = line.split()
            sections[current].append((a, b, c, d))
    return sections


def load_word_similarity(name: str = "wordsim353") -> list[tuple[str, str, float]]:
    """Word pairs with their mean human similarity score: ``[("love", "sex", 6.77), ...]``."""
    if name not in SIMILARITY_SETS:
        raise ValueError(f"unknown similarity set {name!r}: choose one of {', '.join(SIMILARITY_SETS)}")
    pairs = []
    for line in gensim_data(SIMILARITY_SETS[name]).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        first, second, score = line.split("\t")[:3]
        pairs.append((first, second, float(score)))
    return pairs


def load_misspellings(all_corrections: bool = False) -> dict:
    """codespell's list of real misspellings of English words.

    By default ``{misspelling: correction}`` for the entries with one unambiguous correction;
    with ``all_corrections=True`` ``{misspelling: (correction, ...)}`` for every entry.
    Never use it whole to train, or as a lookup table in a corrector: estimate on
    ``misspelling_split("train")`` and evaluate on ``misspelling_split("test")``.
    """
    import codespell_lib

    path = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
    result: dict = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "->" not in line:
            continue
        wrong, right = line.split("->", 1)
        corrections = tuple(w.strip() for w in right.split(",") if w.strip())
        if all_corrections:
            result[wrong.strip()] = corrections
        elif len(corrections) == 1 and not right.rstrip().endswith(","):
            result[wrong.strip()] = corrections[0]
    return result


def load_polarity() -> list[tuple[str, int]]:
    """Movie-review sentences with a label: 1 positive, 0 negative (200 sentences)."""
    rows = []
    for line in gensim_data("pang_lee_polarity.cor").read_text(encoding="cp1252", errors="replace").splitlines():
        label, _, sentence = line.partition(" ")
        if label in ("__label__pos", "__label__neg"):
            rows.append((sentence.strip(), int(label == "__label__pos")))
    return rows


def misspelling_split(part: str = "test", size: int | None = None) -> list[tuple[str, str]]:
    """Half of codespell's misspellings as ``(misspelling, correction)`` pairs, split by word.

    Only lower-case one-word entries with a single correction. A pair belongs to ``"train"``
    when the SHA-1 of its correction word (UTF-8), read as an integer, is even, and to
    ``"test"`` when it is odd: every misspelling of a word lands in the same half, so no
    word of the test half, and no pair, is ever seen by a model estimated on the training
    half, and the split does not move when codespell adds entries. Within a half the pairs
    are in the order of the SHA-1 of ``"misspelling<TAB>correction"``, so ``size`` keeps a
    fixed random sample (spread over many words).

    ``"train"`` may be used to estimate a model (week 1's learned channel) and to look at;
    ``"test"`` only to evaluate: never to build, tune or look up corrections.
    """
    if part not in ("train", "test"):
        raise ValueError(
            f"part={part!r} must be 'train' (to estimate and inspect) or 'test' (to evaluate only)"
        )
    if size is not None and (not isinstance(size, int) or size < 0):
        raise ValueError(f"size={size!r} must be a non-negative integer or None (every pair)")
    keyed = []
    for wrong, right in load_misspellings().items():
        if _LETTERS.fullmatch(wrong) and _LETTERS.fullmatch(right):
            odd = int(hashlib.sha1(right.encode("utf-8")).hexdigest(), 16) % 2 == 1
            if odd == (part == "test"):
                keyed.append((hashlib.sha1(f"{wrong}\t{right}".encode()).hexdigest(), wrong, right))
    keyed.sort()
    return [(w, r) for _, w, r in keyed[:size]]


def top_k_accuracy(
    rank: Callable[[str], Sequence[str]], pairs: Sequence[tuple[str, str]], k: int = 5
) -> dict[str, float]:
    """Top-1 and top-``k`` accuracy of ``rank(word) -> best-first list of corrections``."""
    if not pairs:
        raise ValueError("evaluate needs at least one (misspelling, correction) pair")
    top1 = topk = 0
    for wrong, right in pairs:
        ranked = list(rank(wrong))[:k]
        top1 += bool(ranked) and ranked[0] == right
        topk += right in ranked
    return {"top1": top1 / len(pairs), f"top{k}": topk / len(pairs), "n": len(pairs)}
