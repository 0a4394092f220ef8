"""Document vectors from word vectors, and semantic search by cosine similarity.

A document (a list of tokens) becomes the average of the vectors of its known words, either
plain or weighted by a / (a + p(w)) with the common component removed: the smooth inverse
frequency (SIF) embedding of Arora, Liang & Ma (2017, "A simple but tough-to-beat baseline for
sentence embeddings", ICLR, Algorithm 1; a = 1e-3 in their experiments):

    v_s = 1/|s| sum_{w in s} a / (a + p(w)) v_w,      then v_s <- v_s - u u^T v_s,

where p(w) is the unigram probability of w and u the first singular vector of the matrix whose
rows are the document vectors of the collection. Here |s| counts the words that have a vector
(unknown words are skipped); a document without any known word gets the zero vector, which
has cosine 0 with everything. Search ranks the documents by cosine similarity with the query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from helpers.data.text import tokenize
from helpers.embeddings.vectors import unit_rows

__all__ = ["DocumentIndex", "average_vector", "first_component", "sif_weights"]

WEIGHTINGS = ("mean", "sif")


def average_vector(embeddings, tokens: Sequence[str], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """(Weighted) mean of the vectors of the known ``tokens``; zeros if none is known."""
    return _average({w: i for i, w in enumerate(embeddings.words)}, embeddings.vectors, tokens, weights)


def _average(index: Mapping[str, int], vectors: np.ndarray, tokens: Sequence[str], weights=None) -> np.ndarray:
    rows = [index[t] for t in tokens if t in index]
    if not rows:
        return np.zeros(vectors.shape[1])
    w = np.ones(len(rows)) if weights is None else np.array([weights[t] for t in tokens if t in index])
    return (w[:, None] * np.asarray(vectors[rows], dtype=np.float64)).sum(axis=0) / len(rows)


def sif_weights(counts: Mapping[str, int], a: float = 1e-3) -> dict[str, float]:
    """a / (a + p(w)) with p(w) = count(w) / total count (Arora et al. 2017, Sec. 3)."""
    if a <= 0:
        raise ValueError(f"a={a!r} must be positive (Arora et al. use 1e-4 to 1e-3)")
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("the word counts are empty: SIF needs word frequencies")
    return {w: a / (a + n / total) for w, n in counts.items()}


def first_component(X: np.ndarray) -> np.ndarray:
    """The first right singular vector of ``X`` (n, d), unit length (no centring, as in SIF)."""
    _, _, vt = np.linalg.svd(np.asarray(X, dtype=np.float64), full_matrices=False)
    return vt[0]


class DocumentIndex:
    """Documents embedded with one set of word vectors, searchable by meaning.

    ``documents``: strings (tokenized with :func:`helpers.data.tokenize`) or lists of tokens.
    ``weighting="mean"`` averages word vectors; ``"sif"`` uses the SIF weights and removes the
    collection's first component (from ``counts``, default the embeddings' own ``counts``).
    """

    def __init__(self, embeddings, documents: Sequence, weighting: str = "mean", a: float = 1e-3, counts=None):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting={weighting!r}: choose one of {', '.join(WEIGHTINGS)}")
        if len(documents) == 0:
            raise ValueError("no documents to index: pass at least one document")
        self.embeddings, self.weighting = embeddings, weighting
        self._index = {w: i for i, w in enumerate(embeddings.words)}
        self._word_vectors = np.asarray(embeddings.vectors, dtype=np.float64)  # one copy, read below
        self.weights = None
        self.component = None
        if weighting == "sif":
            if counts is None:
                if not hasattr(embeddings, "counts"):
                    raise ValueError("SIF needs word counts: pass counts={word: count, ...}")
                counts = dict(zip(embeddings.words, embeddings.counts, strict=True))
            self.weights = sif_weights(counts, a)
        self.vectors = np.stack([self._average(doc) for doc in documents])  # (n_docs, d)
        if weighting == "sif" and len(documents) > 1:
            self.component = first_component(self.vectors)  # (d,)
            self.vectors = self.vectors - np.outer(self.vectors @ self.component, self.component)

    def __len__(self) -> int:
        return len(self.vectors)

    def _average(self, document) -> np.ndarray:
        tokens = tokenize(document) if isinstance(document, str) else list(document)
        weights = None
        if self.weights is not None:  # words without a count get the largest weight, 1
            weights = {t: self.weights.get(t, 1.0) for t in tokens}
        return _average(self._index, self._word_vectors, tokens, weights)

    def embed(self, document) -> np.ndarray:
        """The vector of a new document (a string or tokens), made like the indexed ones."""
        v = self._average(document)
        if self.component is not None:
            v = v - (v @ self.component) * self.component
        return v

    def search(self, query, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` documents most similar to ``query`` (text, tokens or a vector) as
        ``(document number, cosine)``, best first."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer")
        if isinstance(query, np.ndarray):
            q = np.asarray(query, dtype=np.float64)
        else:
            q = self.embed(query)
        if q.shape != (self.vectors.shape[1],):
            raise ValueError(f"a query vector must have shape ({self.vectors.shape[1]},), got {q.shape}")
        scores = unit_rows(self.vectors) @ unit_rows(q[None])[0]  # (n_docs,)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in best]
