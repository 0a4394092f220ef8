"""Word vectors and what to ask of them: nearest neighbours, analogies and their evaluation.

:class:`Embeddings` holds a vocabulary and one vector per word (any source: our
:class:`helpers.word2vec.Word2Vec` is one) and answers
- ``most_similar``: the words of highest cosine similarity cos(x, y) = x.y / (|x| |y|);
- ``analogy`` "a is to b as c is to ?" by 3CosAdd, argmax_x cos(x, b - a + c) on unit vectors
  (Mikolov, Yih & Zweig 2013, "Linguistic regularities in continuous space word
  representations", NAACL, Sec. 4), or by 3CosMul, argmax_x cos(x,b) cos(x,c) / (cos(x,a) + eps)
  with cosines shifted to [0, 1] (Levy & Goldberg 2014, "Linguistic regularities in sparse and
  explicit word representations", CoNLL, Eq. 4, eps = 0.001); a, b and c are never answers.

:func:`evaluate_analogies` scores a question set such as Google's (Mikolov et al. 2013a) by
section, counting only questions whose four words are in the vocabulary (its coverage says how
many), exactly like gensim's ``KeyedVectors.evaluate_word_analogies``, and
:func:`evaluate_similarity` gives Spearman's rho between cosine similarities and human
judgements (WordSim-353, SimLex-999), like gensim's ``evaluate_word_pairs``. Both match words
case-insensitively by default (gensim's default), using the most frequent spelling.
Vectors are saved in word2vec's text format, which gensim and most tools read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "AnalogyResult",
    "Embeddings",
    "SimilarityResult",
    "analogy_scores",
    "evaluate_analogies",
    "evaluate_similarity",
    "spearman",
    "unit_rows",
]

METHODS = ("3cosadd", "3cosmul")


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean norm (rows of zeros stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def analogy_scores(unit: np.ndarray, a, b, c, method: str = "3cosadd", epsilon: float = 1e-3) -> np.ndarray:
    """Scores (n, V) of every word as the answer to n questions "a is to b as c is to ?".

    ``unit``: unit-length word vectors (V, d); ``a``, ``b``, ``c``: word indices, shape (n,).
    3CosAdd gives cos(x, b - a + c) (after unit vectors), 3CosMul the shifted-cosine ratio.
    Input words are not excluded here.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {', '.join(METHODS)}")
    if method == "3cosadd":
        target = unit_rows(unit[b] - unit[a] + unit[c])  # (n, d)
        return target @ unit.T  # (n, V)
    shifted = [(1 + unit[i] @ unit.T) / 2 for i in (a, b, c)]  # each (n, V), cosines in [0, 1]
    return shifted[1] * shifted[2] / (shifted[0] + epsilon)


class Embeddings:
    """A vocabulary with one vector per word, and the queries a lesson needs.

    >>> emb = Embeddings(["king", "queen", "man", "woman"], np.eye(4) + 0.1)
    >>> emb.most_similar("king", k=1)[0][0] in {"queen", "man", "woman"}
    True
    """

    def __init__(self, words: Sequence[str], vectors):
        vectors = np.array(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need one vector per word: {len(words)} words but vectors of shape {vectors.shape}")
        if len(set(words)) != len(words):
            raise ValueError("the vocabulary has repeated words: every word must appear once")
        vectors.flags.writeable = False
        self._words, self._vectors = list(words), vectors
        self._index = {w: i for i, w in enumerate(self._words)}

    @property
    def words(self) -> list[str]:
        return list(self._words)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, word) -> bool:
        return word in self._index

    def index(self, word: str) -> int:
        """Row of ``word``; a ``KeyError`` that names the word when it is not in the vocabulary."""
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(
                f"{word!r} is not in the vocabulary ({len(self._index)} words, e.g. "
                f"{', '.join(repr(w) for w in list(self._index)[:3])}): check its spelling and case, "
                "or train with a lower min_count"
            ) from None

    def vector(self, word: str) -> np.ndarray:
        """The vector of ``word`` (a copy)."""
        return np.array(self.vectors[self.index(word)])

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words."""
        x, y = unit_rows(np.stack([self.vector(first), self.vector(second)]))
        return float(x @ y)

    def most_similar(self, query, k: int = 10, exclude: Sequence[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine similarity to ``query`` (a word or a vector), most
        similar first, as ``(word, cosine)``. A query word is not its own neighbour."""
        _check_k(k)
        if isinstance(query, str):
            target, skip = self.vector(query), [self.index(query)]
        else:
            target = np.asarray(query, dtype=np.float64)
            if target.shape != (self.vectors.shape[1],):
                raise ValueError(f"a query vector must have shape ({self.vectors.shape[1]},), got {target.shape}")
            skip = []
        skip += [self.index(w) for w in exclude]
        scores = unit_rows(self.vectors) @ unit_rows(target[None])[0]  # (V,)
        return self._top(scores, k, skip)

    def analogy(self, a: str, b: str, c: str, k: int = 1, method: str = "3cosadd", epsilon: float = 1e-3):
        """"``a`` is to ``b`` as ``c`` is to ?": the ``k`` best answers as ``(word, score)``,
        never ``a``, ``b`` or ``c``. E.g. ``analogy("man", "king", "woman")`` hopes for queen."""
        _check_k(k)
        idx = [np.array([self.index(w)]) for w in (a, b, c)]
        scores = analogy_scores(unit_rows(self.vectors), *idx, method=method, epsilon=epsilon)[0]
        return self._top(scores, k, [int(i[0]) for i in idx])

    def _top(self, scores: np.ndarray, k: int, skip: Sequence[int]) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64)
        scores[list(skip)] = -np.inf
        k = min(k, len(scores) - len(set(skip)))
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self._words[i], float(scores[i])) for i in best]

    def save_word2vec_format(self, path) -> None:
        """Write the word2vec text format: a "V d" header, then "word x1 ... xd" per line."""
        if any(not w or any(ch.isspace() for ch in w) for w in self._words):
            raise ValueError("words with spaces cannot be saved in the word2vec text format")
        V, d = self.vectors.shape
        with open(Path(path), "w", encoding="utf-8") as f:
            f.write(f"{V} {d}\n")
            for word, row in zip(self._words, self.vectors, strict=True):
                f.write(word + " " + " ".join(repr(float(x)) for x in row) + "\n")

    @classmethod
    def load_word2vec_format(cls, path) -> Embeddings:
        """Read the word2vec text format (as written by :meth:`save_word2vec_format` or gensim)."""
        with open(Path(path), encoding="utf-8") as f:
            header = f.readline().split()
            if len(header) != 2:
                raise ValueError(f"{path}: the first line must be 'vocab_size dim', got {' '.join(header)!r}")
            V, d = map(int, header)
            words, rows = [], []
            for line in f:
                parts = line.rstrip("\n").split(" ")
                if len(parts) != d + 1:
                    raise ValueError(f"{path}: line {len(words) + 2} has {len(parts) - 1} numbers, expected {d}")
                words.append(parts[0])
                rows.append([float(x) for x in parts[1:]])
        if len(words) != V:
            raise ValueError(f"{path}: the header promises {V} words but the file has {len(words)}")
        return cls(words, np.array(rows, dtype=np.float32).reshape(V, d))


def _check_k(k) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k={k!r} must be a positive integer")


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
