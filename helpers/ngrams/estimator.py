"""The smoothers' common base and the simplest ones: MLE, add-k and stupid back-off.

Every estimator answers ``prob(word, context)`` and ``distribution(context)`` (an array over
``counts.outcomes``) for a context of at most ``order - 1`` words, already mapped to the
vocabulary. Notation: ``c(h w)`` is the count of word ``w`` after context ``h``,
``c(h) = sum_w c(h w)``, ``V`` the number of outcomes, ``h'`` the context without its first
word.

- **MLE**: ``c(h w) / c(h)``; a context never seen falls back to its longest seen suffix.
- **Add-k** (Laplace's rule of succession, 1774, for k = 1; Jurafsky & Martin, *Speech and Language Processing*,
  3rd ed. draft, §3.6): ``(c(h w) + k) / (c(h) + k V)``.
- **Stupid back-off** (Brants et al. 2007, EMNLP-CoNLL, §4): ``c(h w) / c(h)`` if seen, else
  ``alpha`` (0.4) times the score for ``h'``. Scores, not probabilities: they do not sum to 1.

The back-off smoothers build on :class:`BackoffTable`: Katz with Good-Turing discounts in
:mod:`helpers.ngrams.good_turing`, Kneser-Ney in :mod:`helpers.ngrams.kneser_ney`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from helpers.ngrams.counts import BOS, NGramCounts

__all__ = ["AddK", "BackoffTable", "Estimator", "MLE", "SmoothingOptions", "StupidBackoff"]


@dataclass(frozen=True)
class SmoothingOptions:
    """Options of the smoothers, with the source of each default.

    - ``k``: pseudo-count of add-k smoothing (1 is Laplace's rule of succession, 1774,
      "Mémoire sur la probabilité des causes par les événements").
    - ``discounts``: Kneser-Ney ``(D1, D2, D3+)`` for every order; ``None`` estimates them
      per order from counts-of-counts (Chen & Goodman 1998, eq. 26).
    - ``alpha``: stupid back-off factor, 0.4 (Brants et al. 2007, §4).
    - ``lambdas``: linear interpolation weights ``(uniform, unigram, ..., n-gram)``, summing
      to 1; ``None`` weighs them equally. Tune them on held-out text with
      :func:`helpers.ngrams.interpolation.fit_lambdas` (Jelinek & Mercer 1980).
    """

    k: float = 1.0
    discounts: tuple[float, float, float] | None = None
    alpha: float = 0.4
    lambdas: tuple[float, ...] | None = None

    ALLOWED = {"add-k": ("k",), "kneser-ney": ("discounts",), "stupid-backoff": ("alpha",),
               "interpolated": ("lambdas",)}  # fmt: skip

    @classmethod
    def create(cls, smoothing: str, **options) -> SmoothingOptions:
        allowed = cls.ALLOWED.get(smoothing, ())
        for name in options:
            if name not in allowed:
                valid = ", ".join(allowed) if allowed else "none"
                raise ValueError(
                    f"option {name}= does not apply to {smoothing!r} smoothing (its options: {valid})"
                )
        result = cls(**options)
        if not (isinstance(result.k, (int, float)) and result.k > 0):
            raise ValueError(f"k={result.k!r} must be a positive number (1 is Laplace smoothing)")
        if not (isinstance(result.alpha, (int, float)) and 0 < result.alpha <= 1):
            raise ValueError(f"alpha={result.alpha!r} must be in (0, 1]; Brants et al. use 0.4")
        if result.discounts is not None:
            d = tuple(result.discounts)
            if len(d) != 3 or not all(
                isinstance(x, (int, float)) and 0 <= x <= j for j, x in enumerate(d, 1)
            ):
                raise ValueError(
                    f"discounts={result.discounts!r} must be (D1, D2, D3+) with 0 <= Dj <= j"
                )
            object.__setattr__(result, "discounts", tuple(float(x) for x in d))
        if result.lambdas is not None:
            lam = tuple(result.lambdas)
            if (
                len(lam) < 2
                or not all(isinstance(x, (int, float)) and x >= 0 for x in lam)
                or abs(sum(lam) - 1) > 1e-6
            ):
                raise ValueError(
                    f"lambdas={result.lambdas!r} must be at least two non-negative weights "
                    "(uniform, unigram, ...) that sum to 1"
                )
            object.__setattr__(result, "lambdas", tuple(float(x) for x in lam))
        return result

    def __repr__(self) -> str:
        return (
            "SmoothingOptions("
            + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
            + ")"
        )


# ------------------------------------------------------------------ estimators
class Estimator:
    """Base of the smoothers: ``prob(word, context)`` and ``distribution(context)`` for a
    context of at most ``order - 1`` vocabulary words (mapped and cut by :class:`NGramLM`)."""

    is_probability = True

    def __init__(self, counts: NGramCounts, options: SmoothingOptions):
        self.counts, self.options, self.order = counts, options, counts.order
        self.index = {w: i for i, w in enumerate(counts.outcomes)}
        self.V = len(counts.outcomes)

    @property
    def totals(self) -> list[dict]:
        """``totals[k][h] = c(h)``, computed on first use (Kneser-Ney does not need them)."""
        if not hasattr(self, "_totals"):
            self._totals = [
                {h: sum(f.values()) for h, f in table.items()} for table in self.counts.table
            ]
        return self._totals

    def _vector(self, mapping: Mapping[str, float]) -> np.ndarray:
        p = np.zeros(self.V)
        for w, value in mapping.items():
            if w in self.index:
                p[self.index[w]] = value
        return p


class MLE(Estimator):
    def _longest_seen(self, context):
        for j in range(len(context) + 1):
            h = context[j:]
            followers = self.counts.table[len(h) + 1].get(h)
            if followers:
                return h, followers
        raise AssertionError("the empty context is always seen")

    def prob(self, word, context):
        h, followers = self._longest_seen(context)
        return followers.get(word, 0) / self.totals[len(h) + 1][h]

    def distribution(self, context):
        h, followers = self._longest_seen(context)
        return self._vector(followers) / self.totals[len(h) + 1][h]


class AddK(Estimator):
    def prob(self, word, context):
        k, order = self.options.k, len(context) + 1
        c = self.counts.table[order].get(context, {}).get(word, 0)
        return (c + k) / (self.totals[order].get(context, 0) + k * self.V)

    def distribution(self, context):
        k, order = self.options.k, len(context) + 1
        c = self._vector(self.counts.table[order].get(context, {}))
        return (c + k) / (self.totals[order].get(context, 0) + k * self.V)


class StupidBackoff(Estimator):
    is_probability = False

    def prob(self, word, context):
        alpha = self.options.alpha
        for j in range(len(context) + 1):
            h = context[j:]
            followers = self.counts.table[len(h) + 1].get(h)
            if followers and word in followers:
                return alpha**j * followers[word] / self.totals[len(h) + 1][h]
        return 0.0

    def distribution(self, context):
        alpha, n = self.options.alpha, len(context)
        scores = np.zeros(self.V)
        for j in range(n, -1, -1):  # shortest context first: longer seen contexts overwrite
            h = context[j:]
            followers = self.counts.table[len(h) + 1].get(h)
            if followers:
                total = self.totals[len(h) + 1][h]
                for w, c in followers.items():
                    scores[self.index[w]] = alpha**j * c / total
        return scores


class BackoffTable(Estimator):
    """A model stored in back-off form: ``P(w|h)`` for seen n-grams, a weight per context."""

    def _build(self, probs, backoffs):
        self.probs, self.backoffs = probs, backoffs  # probs[k][h][w], backoffs[k][h]

    def prob(self, word, context):
        weight = 1.0
        for j in range(len(context) + 1):
            h = context[j:]
            seen = self.probs[len(h) + 1].get(h)
            if seen is not None:
                if word in seen:
                    return weight * seen[word]
                weight *= self.backoffs[len(h) + 1][h]
        raise AssertionError(f"{word!r} is missing from the unigram table")

    def distribution(self, context):
        p = self._vector(self.probs[1][()])
        for j in range(len(context) - 1, -1, -1):
            h = context[j:]
            seen = self.probs[len(h) + 1].get(h)
            if seen is not None:
                p *= self.backoffs[len(h) + 1][h]
                for w, value in seen.items():
                    p[self.index[w]] = value
        return p

    def backoff_form(self):
        probs = [dict(level) for level in self.probs]
        probs[1] = {(): {**self.probs[1][()], BOS: 0.0}}
        return probs, self.backoffs
