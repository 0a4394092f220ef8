"""Linear interpolation of maximum-likelihood estimates, with weights tuned on held-out text.

Jelinek & Mercer (1980, "Interpolated estimation of Markov source parameters from sparse
data", in *Pattern Recognition in Practice*): mix the models of every order,

.. math::  P(w \\mid h) = \\frac{\\lambda_0}{V} + \\sum_{k=1}^{n} \\lambda_k\\, P_{\\text{ML}}^{(k)}(w \\mid h),
           \\qquad \\sum_k \\lambda_k = 1,

where :math:`P_{\\text{ML}}^{(k)}` is the maximum-likelihood ``k``-gram estimate (its context
the last ``k - 1`` words; a context never seen falls back to its longest seen suffix, as
:class:`helpers.ngrams.estimator.MLE` does, so that each component sums to 1) and ``V`` the
number of outcomes. The weights are chosen to maximise the likelihood of *held-out* text (on
the training text the highest order would take all the weight) by expectation-maximisation
(Dempster, Laird & Rubin 1977): each held-out token shares itself among the components in
proportion to ``lambda_k P_k``, and the new ``lambda_k`` is the mean share.

Left out: Jelinek & Mercer tie the weights to buckets of context counts (more weight on the
long context when it was seen often); here one set of weights serves every context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from helpers.ngrams.counts import BOS, EOS, UNK, NGramCounts, check_sentences
from helpers.ngrams.estimator import MLE, Estimator

__all__ = ["Interpolated", "component_probabilities", "fit_lambdas"]


class Interpolated(Estimator):
    def __init__(self, counts, options):
        super().__init__(counts, options)
        n = self.order
        lambdas = options.lambdas if options.lambdas is not None else (1 / (n + 1),) * (n + 1)
        if len(lambdas) != n + 1:
            raise ValueError(
                f"lambdas={lambdas!r} needs {n + 1} weights for an order-{n} model "
                "(uniform, unigram, ..., {n}-gram): fit them with fit_lambdas(counts, held_out)"
            )
        self.lambdas = tuple(float(x) for x in lambdas)
        self.components = [MLE(counts.truncated(k), options) for k in range(1, n + 1)]

    def prob(self, word, context):
        p = self.lambdas[0] / self.V
        for k, (lam, mle) in enumerate(zip(self.lambdas[1:], self.components, strict=True), 1):
            p += lam * mle.prob(word, context[max(0, len(context) - (k - 1)) :] if k > 1 else ())
        return p

    def distribution(self, context):
        p = np.full(self.V, self.lambdas[0] / self.V)
        for k, (lam, mle) in enumerate(zip(self.lambdas[1:], self.components, strict=True), 1):
            p += lam * mle.distribution(context[max(0, len(context) - (k - 1)) :] if k > 1 else ())
        return p


def component_probabilities(
    counts: NGramCounts, sentences: Iterable[Sequence[str]], order: int | None = None
) -> np.ndarray:
    """For every predicted token of ``sentences`` (``</s>`` included), the probability each
    component gives it: an array of shape ``(tokens, order + 1)``, columns uniform, unigram,
    ..., ``order``-gram maximum likelihood."""
    order = counts.order if order is None else order
    known = set(counts.outcomes)
    estimators = [MLE(counts.truncated(k), None) for k in range(1, order + 1)]
    V = len(counts.outcomes)
    rows = []
    for sentence in check_sentences(sentences):
        seq = [BOS, *(w if w in known else UNK for w in sentence), EOS]
        for i in range(1, len(seq)):
            row = [1 / V]
            for k, mle in enumerate(estimators, 1):
                row.append(mle.prob(seq[i], tuple(seq[max(0, i - k + 1) : i]) if k > 1 else ()))
            rows.append(row)
    if not rows:
        raise ValueError("component_probabilities needs at least one held-out sentence")
    return np.array(rows)


def fit_lambdas(
    counts: NGramCounts,
    held_out: Iterable[Sequence[str]],
    order: int | None = None,
    iterations: int = 100,
    tol: float = 1e-7,
) -> tuple[tuple[float, ...], list[float]]:
    """Interpolation weights ``(lambda_0, ..., lambda_order)`` that maximise the likelihood of
    ``held_out``, by EM from equal weights; returns them with the mean held-out log likelihood
    per token (nats) before each step (it never decreases). Stops when it improves by less
    than ``tol``."""
    P = component_probabilities(counts, held_out, order)  # (T, order + 1)
    lam = np.full(P.shape[1], 1 / P.shape[1])
    history = []
    for _ in range(iterations):
        mixed = P @ lam  # (T,) P(token) under the current weights
        history.append(float(np.mean(np.log(mixed))))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        lam = (P * lam / mixed[:, None]).mean(axis=0)  # E step (shares) and M step (means)
    return tuple(float(x) for x in lam), history
