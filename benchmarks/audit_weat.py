"""WEAT: the course's kernel against wefe (effect size) and scipy (permutation p-value), one run.

    python benchmarks/audit_weat.py

For each size (words per target and attribute set, 300-dimensional random vectors with a real
association) it checks that the numbers agree and times both, as ratios (> 1: ours is faster):

- effect size: ``helpers.audit.weat_effect_size`` vs ``wefe``'s ``WEAT._calc_effect_size`` (one
  cosine per pair in Python; ours is one matrix product);
- p-value: ours (exact enumeration when there are at most 100,000 splits, else 10,000 sampled
  splits) vs ``scipy.stats.permutation_test`` on the associations with the same number of
  splits (exact: equal; sampled: within sampling error).

wefe 1.0.1 is installed without its dependencies (``.ci/run``). Prints a Markdown table for
``benchmarks/README.md``.
"""

from __future__ import annotations

import math
import os
import platform

import numpy as np
from scipy import stats

from helpers.audit.weat import association, weat_effect_size, weat_p_value
from helpers.course.lesson import best_time


def sets(n: int, dim: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    return rng.normal(size=(n, dim)) + 0.03 * A.mean(0), rng.normal(size=(n, dim)) + 0.03 * B.mean(0), A, B


def measure(n: int, wefe) -> str:
    """One row of the table: n words per set."""
    X, Y, A, B = sets(n)
    ours_d, ref_d = weat_effect_size(X, Y, A, B), wefe._calc_effect_size(X, Y, A, B)
    t_ours = best_time(lambda: weat_effect_size(X, Y, A, B))
    t_ref = best_time(lambda: wefe._calc_effect_size(X, Y, A, B))
    sx, sy = association(X, A, B), association(Y, A, B)
    exact = math.comb(2 * n, n) <= 100_000
    resamples = 10**6 if exact else 10_000

    def ours_p():
        return weat_p_value(X, Y, A, B, n_samples=10_000, generator=np.random.default_rng(0))[0]

    def scipy_p():
        return stats.permutation_test((sx, sy), lambda a, b, axis: a.sum(axis) - b.sum(axis), vectorized=True,
                                      permutation_type="independent", alternative="greater", n_resamples=resamples,
                                      rng=np.random.default_rng(0)).pvalue  # fmt: skip

    p_ours, p_ref = ours_p(), scipy_p()
    tp_ours, tp_ref = best_time(ours_p, repeats=2), best_time(scipy_p, repeats=2)
    return (f"| {n} | {abs(ours_d - ref_d):.1e} | {1e3 * t_ours:.2f} | {1e3 * t_ref:.2f} | {t_ref / t_ours:.0f}x "
            f"| {'exact' if exact else '10,000 sampled'} | {p_ours:.4f} / {p_ref:.4f} | {1e3 * tp_ours:.1f} "
            f"| {1e3 * tp_ref:.1f} | {tp_ref / tp_ours:.2f}x |")  # fmt: skip


def main() -> None:
    from wefe.metrics import WEAT

    rows = [measure(n, WEAT()) for n in (8, 25, 100)]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print("| words per set | effect size: abs. difference from wefe | ours (ms) | wefe (ms) | speed-up "
          "| p-value | p: ours / scipy | ours (ms) | scipy (ms) | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
