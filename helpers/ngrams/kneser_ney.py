"""Interpolated modified Kneser-Ney smoothing, the best n-gram smoother of its time.

Kneser & Ney (1995, ICASSP, "Improved backing-off for M-gram language modeling") and Chen &
Goodman (1998, Harvard TR-10-98, §3.5 and eq. 26; 1999, Computer Speech & Language 13), with
KenLM's conventions (Heafield et al. 2013, ACL), so that KenLM's ``lmplz`` gives the same model:

.. math::  P(w|h) = \\frac{\\max(a(h w) - D(a(h w)), 0)}{\\sum_v a(h v)} + \\gamma(h) P(w|h'),
           \\quad \\gamma(h) = \\frac{D_1 N_1(h\\cdot) + D_2 N_2(h\\cdot) + D_{3+} N_{3+}(h\\cdot)}{\\sum_v a(h v)}

- ``a`` is the raw count at the highest order and for n-grams that start with ``<s>`` (nothing
  can precede them); below, the continuation count ``N_{1+}(. h w)``: how many different
  words were seen before ``h w``. "Francisco" is frequent but follows almost only "San", so
  its continuation count, and its unigram probability, are small.
- ``D(a)`` is ``D_1``, ``D_2`` or ``D_{3+}`` by the value of ``a``, estimated per order from
  the counts-of-counts ``n_j`` of ``a``: ``Y = n_1 / (n_1 + 2 n_2)``,
  ``D_j = j - (j + 1) Y n_{j+1} / n_j``. ``N_j(h.)`` counts the words with ``a(h w) = j``.
- The unigram level interpolates with the uniform ``1 / V`` (``V`` outcomes: vocabulary,
  ``<unk>``, ``</s>``), so every word gets some probability.
- An unseen context ``h`` gives ``P(w|h) = P(w|h')``.

The model also has an exact back-off (ARPA) form, :meth:`KneserNey.backoff_form`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping

import numpy as np

from helpers.ngrams.counts import BOS
from helpers.ngrams.estimator import Estimator

__all__ = ["KneserNey", "kneser_ney_discounts"]


def kneser_ney_discounts(n: Mapping[int, int]) -> tuple[float, float, float] | None:
    """Modified Kneser-Ney discounts ``(D1, D2, D3+)`` from counts-of-counts ``n[j]`` (the
    number of n-grams seen exactly j times), Chen & Goodman (1998) eq. 26.

    Returns ``None`` when they cannot be estimated (some ``n_1, n_2, n_3`` is 0, or a
    discount falls outside ``[0, j]``), as KenLM refuses to.

    >>> [round(d, 4) for d in kneser_ney_discounts({1: 100, 2: 30, 3: 15, 4: 10})]
    [0.625, 1.0625, 1.3333]
    """
    n1, n2, n3, n4 = (n.get(j, 0) for j in (1, 2, 3, 4))
    if min(n1, n2, n3) == 0:
        return None
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 <= dj <= j for j, dj in enumerate(d, 1)):
        return None
    return d


class KneserNey(Estimator):
    def __init__(self, counts, options):
        super().__init__(counts, options)
        table, N = counts.table, self.order
        # Adjusted counts a: raw at the top order and for n-grams that start with <s>, else
        # the continuation count N1+(. h w), the number of distinct words seen before h w.
        self.adjusted: list[dict] = [{} for _ in range(N + 1)]
        self.adjusted[N] = table[N]
        for k in range(N - 1, 0, -1):
            level: dict = {}
            for h, followers in table[k + 1].items():
                suffix = h[1:]
                bucket = level.setdefault(suffix, {})
                for w in followers:
                    bucket[w] = bucket.get(w, 0) + 1
            for h, followers in table[k].items():
                if h and h[0] == BOS:
                    level[h] = dict(followers)
            self.adjusted[k] = level
        self.discounts: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)]
        for k in range(1, N + 1):
            if options.discounts is not None:
                d = options.discounts
            else:
                n = Counter(
                    min(a, 5) for followers in self.adjusted[k].values() for a in followers.values()
                )
                d = kneser_ney_discounts(n)
                if d is None:
                    d = (0.5, 1.0, 1.5)
                    warnings.warn(
                        f"too few {k}-grams to estimate Kneser-Ney discounts (a tiny corpus?): "
                        "using D1, D2, D3+ = 0.5, 1, 1.5 as KenLM's --discount_fallback does",
                        stacklevel=4,
                    )
            self.discounts.append((0.0, *d))
        # Per context: the denominator sum_v a(h v) and the interpolation weight gamma(h).
        self.norm: list[dict] = [{} for _ in range(N + 1)]
        for k in range(1, N + 1):
            D = self.discounts[k]
            for h, followers in self.adjusted[k].items():
                total = sum(followers.values())
                removed = sum(min(D[min(a, 3)], a) for a in followers.values())
                self.norm[k][h] = (total, removed / total)
        total, gamma = self.norm[1][()]
        D = self.discounts[1]
        a1 = self._vector(self.adjusted[1][()])
        self.unigram = (
            np.maximum(a1 - np.take(D, np.minimum(a1, 3).astype(int)), 0) / total + gamma / self.V
        )

    def prob(self, word, context):
        p = self.unigram[self.index[word]]
        for k in range(2, len(context) + 2):
            h = context[len(context) - k + 1 :]
            followers = self.adjusted[k].get(h)
            if followers is None:  # an unseen context: P_k = P_{k-1} (and so for longer ones)
                break
            total, gamma = self.norm[k][h]
            a = followers.get(word, 0)
            p = gamma * p + (max(a - self.discounts[k][min(a, 3)], 0) / total if a else 0.0)
        return float(p)

    def distribution(self, context):
        p = self.unigram.copy()
        for k in range(2, len(context) + 2):
            h = context[len(context) - k + 1 :]
            followers = self.adjusted[k].get(h)
            if followers is None:
                break
            total, gamma = self.norm[k][h]
            D = self.discounts[k]
            p *= gamma
            for w, a in followers.items():
                p[self.index[w]] += max(a - D[min(a, 3)], 0) / total
        return p

    def backoff_form(self):
        """Seen n-grams with their interpolated probability; gamma as back-off weight."""
        probs: list[dict] = [
            {},
            {(): {**dict(zip(self.counts.outcomes, self.unigram.tolist(), strict=True)), BOS: 0.0}},
        ]
        for k in range(2, self.order + 1):
            D, level = self.discounts[k], {}
            for h, followers in self.adjusted[k].items():
                total, gamma = self.norm[k][h]
                lower = probs[k - 1][h[1:]]
                level[h] = {
                    w: max(a - D[min(a, 3)], 0) / total + gamma * lower[w]
                    for w, a in followers.items()
                }
            probs.append(level)
        backoffs = [{}] + [
            {h: g for h, (_, g) in self.norm[k].items()} for k in range(1, self.order + 1)
        ]
        return probs, backoffs
