"""Smoothing: turning n-gram counts into next-word probabilities that never say "impossible".

One name per smoother, and the estimator that implements it:

- ``"mle"``, ``"laplace"``, ``"add-k"``, ``"stupid-backoff"``: :mod:`helpers.ngrams.estimator`;
- ``"good-turing"`` (Katz back-off with Simple Good-Turing discounts):
  :mod:`helpers.ngrams.good_turing`;
- ``"kneser-ney"`` (interpolated modified Kneser-Ney): :mod:`helpers.ngrams.kneser_ney`;
- ``"interpolated"`` (Jelinek-Mercer linear interpolation of MLE models):
  :mod:`helpers.ngrams.interpolation`.
"""

from __future__ import annotations

from helpers.ngrams.counts import NGramCounts
from helpers.ngrams.estimator import MLE, AddK, Estimator, SmoothingOptions, StupidBackoff
from helpers.ngrams.good_turing import KatzGoodTuring
from helpers.ngrams.interpolation import Interpolated
from helpers.ngrams.kneser_ney import KneserNey

__all__ = ["SMOOTHERS", "make_estimator"]

_ESTIMATORS = {
    "mle": MLE,
    "laplace": AddK,
    "add-k": AddK,
    "good-turing": KatzGoodTuring,
    "kneser-ney": KneserNey,
    "interpolated": Interpolated,
    "stupid-backoff": StupidBackoff,
}
SMOOTHERS = ("mle", "laplace", "add-k", "good-turing", "kneser-ney", "interpolated", "stupid-backoff")


def make_estimator(smoothing: str, counts: NGramCounts, options: SmoothingOptions) -> Estimator:
    """The estimator for ``smoothing`` prepared from ``counts``."""
    if smoothing not in _ESTIMATORS:
        raise ValueError(f"unknown smoothing {smoothing!r}: choose one of {', '.join(SMOOTHERS)}")
    return _ESTIMATORS[smoothing](counts, options)
