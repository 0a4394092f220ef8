"""Word vectors and what to ask of them: nearest neighbours, similarity and analogies.

:class:`Embeddings` holds a vocabulary and one vector per word (any source: our
:class:`helpers.embeddings.Word2Vec` is one) and answers
- ``most_similar``: the words of highest cosine similarity cos(x, y) = x.y / (|x| |y|);
- ``analogy`` "a is to b as c is to ?" by 3CosAdd, argmax_x cos(x, b - a + c) on unit vectors
  (Mikolov, Yih & Zweig 2013, "Linguistic regularities in continuous space word
  representations", NAACL, Sec. 4), or by 3CosMul, argmax_x cos(x,b) cos(x,c) / (cos(x,a) + eps)
  with cosines shifted to [0, 1] (Levy & Goldberg 2014, "Linguistic regularities in sparse and
  explicit word representations", CoNLL, Eq. 4, eps = 0.001); a, b and c are never answers.

Vectors are saved in word2vec's text format, which gensim and most tools read. Their
evaluation on analogy and similarity sets is in :mod:`helpers.embeddings.evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["METHODS", "Embeddings", "analogy_scores", "unit_rows"]

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
