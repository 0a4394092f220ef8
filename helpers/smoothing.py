"""Smoothing: turning n-gram counts into next-word probabilities that never say "impossible".

Every estimator answers ``prob(word, context)`` and ``distribution(context)`` (an array over
``counts.outcomes``) for a context of at most ``order - 1`` words, already mapped to the
vocabulary. Notation: ``c(h w)`` is the count of word ``w`` after context ``h``,
``c(h) = sum_w c(h w)``, ``V`` the number of outcomes, ``h'`` the context without its first
word.

- **MLE**: ``c(h w) / c(h)``; a context never seen falls back to its longest seen suffix.
- **Add-k** (Laplace 1814 for k = 1; Jurafsky & Martin, *Speech and Language Processing*,
  3rd ed. draft, §3.6): ``(c(h w) + k) / (c(h) + k V)``.
- **Katz back-off with Good-Turing discounts** (Katz 1987, IEEE Trans. ASSP 35(3);
  Good 1953, Biometrika 40): a seen n-gram keeps ``r*/c(h)`` with ``r* = d_r r``; the mass
  left over goes to unseen words in proportion to the lower order, via the back-off weight
  ``alpha(h) = (1 - sum_seen r*/c(h)) / (1 - sum_seen P(w | h'))``. The discounted counts
  ``r*`` come from Simple Good-Turing (Gale & Sampson 1995, J. Quantitative Linguistics 2(3)):
  Turing's ``(r + 1) n_{r+1} / n_r`` for small ``r`` while it differs significantly from the
  log-log regression line, the line after that. Departure from Katz: every count is discounted
  (Katz leaves counts above 5 alone), so that no context keeps all of its mass.
- **Interpolated modified Kneser-Ney**: in :mod:`helpers.kneser_ney`.
- **Stupid back-off** (Brants et al. 2007, EMNLP-CoNLL, §4): ``c(h w) / c(h)`` if seen, else
  ``alpha`` (0.4) times the score for ``h'``. Scores, not probabilities: they do not sum to 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from helpers.ngram import BOS, NGramCounts

__all__ = [
    "Estimator",
    "SmoothingOptions",
    "good_turing_estimates",
    "make_estimator",
    "simple_good_turing",
]


@dataclass(frozen=True)
class SmoothingOptions:
    """Options of the smoothers, with the source of each default.

    - ``k``: pseudo-count of add-k smoothing (1 is Laplace's rule of succession, 1814).
    - ``discounts``: Kneser-Ney ``(D1, D2, D3+)`` for every order; ``None`` estimates them
      per order from counts-of-counts (Chen & Goodman 1998, eq. 26).
    - ``alpha``: stupid back-off factor, 0.4 (Brants et al. 2007, §4).
    """

    k: float = 1.0
    discounts: tuple[float, float, float] | None = None
    alpha: float = 0.4

    ALLOWED = {"add-k": ("k",), "kneser-ney": ("discounts",), "stupid-backoff": ("alpha",)}

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
        return result

    def __repr__(self) -> str:
        return (
            "SmoothingOptions("
            + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
            + ")"
        )


# ------------------------------------------------------------------ count-of-count estimates
def good_turing_estimates(n: Mapping[int, int]) -> dict[int, float]:
    """Turing's adjusted counts ``r* = (r + 1) n_{r+1} / n_r`` for every seen ``r`` (Good 1953).

    Jurafsky & Martin's fishing example (2nd ed., §4.5.1): 10 carp, 3 perch, 2 whitefish and
    one each of trout, salmon and eel give ``n = {1: 3, 2: 1, 3: 1, 10: 1}``, so a fish seen
    once has ``1* = 2 * 1 / 3`` and the mass of unseen species is ``n_1 / N = 3 / 18``.

    >>> good_turing_estimates({1: 3, 2: 1, 3: 1, 10: 1})[1]
    0.6666666666666666
    """
    return {r: (r + 1) * n.get(r + 1, 0) / nr for r, nr in sorted(n.items()) if nr > 0 and r > 0}


def simple_good_turing(n: Mapping[int, int]) -> dict[int, float] | None:
    """Simple Good-Turing adjusted counts ``r*`` (Gale & Sampson 1995), un-normalised.

    The ``n_r`` are averaged over the gaps between seen ``r`` (``Z_r = n_r / (0.5 (t - q))``)
    and fitted with ``log Z_r = a + b log r``; Turing's estimate is used for small ``r`` as long
    as it differs from the line's ``(r + 1) S(r + 1) / S(r)`` by more than 1.96 standard
    deviations, the line from there on. Returns ``None`` if the fit is unusable (fewer than two
    distinct counts, or a slope ``b >= -1``, for which ``r* >= r``).
    """
    rs = sorted(r for r, nr in n.items() if r > 0 and nr > 0)
    if len(rs) < 2:
        return None
    z = []
    for i, r in enumerate(rs):
        q = rs[i - 1] if i > 0 else 0
        t = rs[i + 1] if i + 1 < len(rs) else 2 * r - q
        z.append(n[r] / (0.5 * (t - q)))
    x, y = np.log(rs), np.log(z)
    b = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    if not b < -1:
        return None
    estimates: dict[int, float] = {}
    use_turing = True
    for r in rs:
        lgt = r * (1 + 1 / r) ** (b + 1)  # (r + 1) S(r + 1) / S(r) for S(r) = exp(a) r^b
        if use_turing and n.get(r + 1, 0) > 0:
            turing = (r + 1) * n[r + 1] / n[r]
            sd = math.sqrt((r + 1) ** 2 * (n[r + 1] / n[r] ** 2) * (1 + n[r + 1] / n[r]))
            if abs(turing - lgt) > 1.96 * sd:
                estimates[r] = turing
                continue
        use_turing = False
        estimates[r] = lgt
    return estimates


def _discount_ratios(counts: Mapping) -> dict[int, float]:
    """Katz's ``d_r = r*/r`` at one order, from Simple Good-Turing (capped at 1)."""
    n = Counter(c for followers in counts.values() for c in followers.values())
    r_star = simple_good_turing(n)
    if r_star is None:  # too few or too flat counts-of-counts (tiny corpora): absolute discounting
        return {r: (r - 0.5) / r for r in n}
    return {r: min(r_star[r] / r, 1.0) for r in n}


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


class _BackoffTable(Estimator):
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


class KatzGoodTuring(_BackoffTable):
    def __init__(self, counts, options):
        super().__init__(counts, options)
        table = counts.table
        probs: list[dict] = [{}]
        backoffs: list[dict] = [{}, {(): 1.0}]
        # Unigrams: Good-Turing mass n_1 / N for the outcomes never seen (e.g. <unk>).
        unigrams, N = table[1][()], self.totals[1][()]
        d = _discount_ratios(table[1])
        unseen = [w for w in counts.outcomes if w not in unigrams]
        if unseen:
            n1 = sum(1 for c in unigrams.values() if c == 1)
            p0 = min(max(n1 / N, 1e-12), 0.5)
            seen_mass = sum(d[c] * c for c in unigrams.values())
            level = {w: (1 - p0) * d[c] * c / seen_mass for w, c in unigrams.items()}
            level.update({w: p0 / len(unseen) for w in unseen})
        else:  # every outcome seen: nothing to reserve
            level = {w: c / N for w, c in unigrams.items()}
        probs.append({(): level})
        for k in range(2, self.order + 1):
            r_star = {r: d_r * r for r, d_r in _discount_ratios(table[k]).items()}  # r* = d_r r
            level, weights, lower_level = {}, {}, probs[k - 1]
            for h, followers in table[k].items():
                starred = [r_star[c] for c in followers.values()]
                total = sum(followers.values())
                seen = {w: rs / total for w, rs in zip(followers, starred, strict=True)}
                kept = sum(starred) / total
                lower = lower_level[h[1:]]  # every seen (h w) has a seen suffix (h' w)
                lower_mass = sum(map(lower.__getitem__, followers))
                if lower_mass >= 1 - 1e-12:  # h was followed by every outcome: renormalise
                    seen = {w: p / kept for w, p in seen.items()}
                    weights[h] = 0.0
                else:
                    weights[h] = (1 - kept) / (1 - lower_mass)
                level[h] = seen
            probs.append(level)
            backoffs.append(weights)
        self._build(probs, backoffs)


_ESTIMATORS = {
    "mle": MLE,
    "laplace": AddK,
    "add-k": AddK,
    "good-turing": KatzGoodTuring,
    "stupid-backoff": StupidBackoff,
}


def make_estimator(smoothing: str, counts: NGramCounts, options: SmoothingOptions) -> Estimator:
    """The estimator for ``smoothing`` prepared from ``counts``."""
    if smoothing == "kneser-ney":
        from helpers.kneser_ney import KneserNey  # it builds on Estimator, defined here

        return KneserNey(counts, options)
    return _ESTIMATORS[smoothing](counts, options)
