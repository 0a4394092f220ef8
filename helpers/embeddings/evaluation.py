"""How good are word vectors? Analogy accuracy and correlation with human similarity judgements.

:func:`evaluate_analogies` scores a question set such as Google's (Mikolov et al. 2013a) by
section, counting only questions whose four words are in the vocabulary (its coverage says how
many), exactly like gensim's ``KeyedVectors.evaluate_word_analogies``, and
:func:`evaluate_similarity` gives Spearman's rho between cosine similarities and human
judgements (WordSim-353, SimLex-999), like gensim's ``evaluate_word_pairs``. Both match words
case-insensitively by default (gensim's default), using the most frequent spelling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from helpers.embeddings.vectors import analogy_scores, unit_rows

__all__ = ["AnalogyResult", "SimilarityResult", "evaluate_analogies", "evaluate_similarity", "spearman"]


def _lookup(model, case_insensitive: bool, restrict_vocab: int | None) -> tuple[dict[str, int], np.ndarray]:
    """Key -> row for the first ``restrict_vocab`` words (upper-cased keys: the first, most
    frequent spelling wins, as in gensim), and each row's key id (rows with one key share it)."""
    words = model.words[:restrict_vocab] if restrict_vocab else model.words
    lookup: dict[str, int] = {}
    key_id = np.empty(len(words), dtype=np.int64)
    for i, w in enumerate(words):
        key = w.upper() if case_insensitive else w
        lookup.setdefault(key, i)
        key_id[i] = lookup[key]
    return lookup, key_id


@dataclass
class AnalogyResult:
    """Accuracy over the answered questions (all four words known), overall and by section.

    ``sections[name] = (correct, answered, asked)``; ``answers`` lists (section, a, b, c,
    expected, predicted) for every answered question.
    """

    accuracy: float
    correct: int
    answered: int
    asked: int
    sections: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    answers: list[tuple[str, str, str, str, str, str]] = field(default_factory=list, repr=False)

    @property
    def coverage(self) -> float:
        """Fraction of the questions that could be asked of the model."""
        return self.answered / self.asked if self.asked else float("nan")


def evaluate_analogies(
    model,
    questions: Mapping[str, Sequence[tuple[str, str, str, str]]] | Sequence[tuple[str, str, str, str]],
    method: str = "3cosadd",
    case_insensitive: bool = True,
    restrict_vocab: int | None = None,
    epsilon: float = 1e-3,
) -> AnalogyResult:
    """Accuracy of ``model`` (anything with ``words`` and ``vectors``) on analogy ``questions``:
    ``{section: [(a, b, c, d), ...]}`` as :func:`helpers.data.load_analogies` gives, or one list.

    A question counts as right when the best word other than a, b, c is d; questions with a
    word outside the first ``restrict_vocab`` words are skipped (not counted wrong).
    """
    if not isinstance(questions, Mapping):
        questions = {"all": list(questions)}
    lookup, key_id = _lookup(model, case_insensitive, restrict_vocab)
    words = model.words
    unit = unit_rows(np.asarray(model.vectors, dtype=np.float64)[: len(key_id)])
    norm = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    result = AnalogyResult(float("nan"), 0, 0, 0)
    for section, items in questions.items():
        known = []
        for q in items:
            if len(q) != 4:
                raise ValueError(f"an analogy question has four words a, b, c, d; got {q!r} in {section!r}")
            if all(norm(w) in lookup for w in q):
                known.append(q)
        correct = 0
        for start in range(0, len(known), max(1, 2**22 // len(key_id))):  # bounded (n, V) scores
            chunk = known[start : start + max(1, 2**22 // len(key_id))]
            ids = np.array([[lookup[norm(w)] for w in q] for q in chunk])  # (n, 4)
            scores = analogy_scores(unit, ids[:, 0], ids[:, 1], ids[:, 2], method, epsilon)  # (n, V)
            for j in range(3):  # no input word (in any spelling) is an answer
                scores[key_id[None, :] == key_id[ids[:, j], None]] = -np.inf
            predicted = scores.argmax(axis=1)
            hits = key_id[predicted] == ids[:, 3]
            correct += int(hits.sum())
            result.answers += [(section, *q, words[p]) for q, p in zip(chunk, predicted, strict=True)]
        result.sections[section] = (correct, len(known), len(items))
        result.correct, result.answered, result.asked = (
            result.correct + correct, result.answered + len(known), result.asked + len(items)
        )  # fmt: skip
    if result.answered:
        result.accuracy = result.correct / result.answered
    return result


@dataclass
class SimilarityResult:
    """Spearman's rho between model cosines and human scores over the pairs with known words."""

    rho: float
    used: int
    total: int

    @property
    def coverage(self) -> float:
        return self.used / self.total if self.total else float("nan")


def evaluate_similarity(model, pairs: Sequence[tuple[str, str, float]], case_insensitive: bool = True) -> SimilarityResult:
    """Spearman's rho of ``model``'s cosine similarities with the human scores of ``pairs``
    (``[(w1, w2, score), ...]`` as :func:`helpers.data.load_word_similarity` gives)."""
    lookup, _ = _lookup(model, case_insensitive, None)
    norm = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    known = [(lookup[norm(a)], lookup[norm(b)], float(s)) for a, b, s in pairs if norm(a) in lookup and norm(b) in lookup]
    if len(known) < 2:
        return SimilarityResult(float("nan"), len(known), len(pairs))
    unit = unit_rows(np.asarray(model.vectors, dtype=np.float64))
    first, second, gold = (np.array(column) for column in zip(*known, strict=True))
    cosines = np.einsum("nd,nd->n", unit[first], unit[second])
    return SimilarityResult(spearman(cosines, gold), len(known), len(pairs))


def spearman(x, y) -> float:
    """Spearman's rank correlation: Pearson's r of the ranks (ties get their average rank).

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two 1-D arrays of the same length, got shapes {x.shape} and {y.shape}")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    total = np.bincount(inverse, weights=ranks, minlength=len(values))
    count = np.bincount(inverse, minlength=len(values))
    return (total / count)[inverse]
