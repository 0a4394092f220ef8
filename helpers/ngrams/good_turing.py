"""Katz back-off with Good-Turing discounts.

Katz (1987, IEEE Trans. ASSP 35(3)) and Good (1953, Biometrika 40): a seen n-gram keeps
``r*/c(h)`` with ``r* = d_r r``; the mass left over goes to unseen words in proportion to the
lower order, via the back-off weight
``alpha(h) = (1 - sum_seen r*/c(h)) / (1 - sum_seen P(w | h'))``. The discounted counts ``r*``
come from Simple Good-Turing (Gale & Sampson 1995, J. Quantitative Linguistics 2(3)): Turing's
``(r + 1) n_{r+1} / n_r`` for small ``r`` while it differs significantly from the log-log
regression line, the line after that. Departure from Katz: every count is discounted (Katz
leaves counts above 5 alone), so that no context keeps all of its mass.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

from helpers.ngrams.estimator import BackoffTable

__all__ = ["KatzGoodTuring", "good_turing_estimates", "simple_good_turing"]


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


class KatzGoodTuring(BackoffTable):
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
