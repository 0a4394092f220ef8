"""N-gram language models: counting, scoring, perplexity, sampling and ARPA export.

An order-``n`` model predicts a word from the ``n - 1`` words before it (the Markov assumption):

.. math::  P(w_1 \\dots w_m) \\approx \\prod_{i=1}^{m+1} P(w_i \\mid w_{i-n+1} \\dots w_{i-1}),

with ``<s>`` before the first word and ``</s>`` as word ``m + 1``. Conventions (those of SRILM
and KenLM, so that :meth:`NGramLM.to_arpa` files score like this class):

- One ``<s>`` opens each sentence. Near the start the context is shorter than ``n - 1``
  words: the first word is predicted from ``<s>`` alone, by the bigram level.
- The outcomes of every next-word distribution are the vocabulary (words seen at least
  ``min_count`` times, plus ``<unk>``) and ``</s>``; ``<s>`` is never predicted. Every other
  word is mapped to ``<unk>``, in training and in scoring.
- Perplexity counts every predicted token, ``</s>`` included: ``exp(-mean log P)``; tokens
  outside the vocabulary count as ``<unk>`` or are skipped (:meth:`NGramLM.perplexity`).

Counting lives in :mod:`helpers.ngrams.counts`, the smoothers in :mod:`helpers.ngrams.smoothing`,
the ARPA export in :mod:`helpers.ngrams.arpa`; this module scores, looks up and samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from helpers.ngrams.arpa import write_arpa
from helpers.ngrams.counts import BOS, EOS, UNK, NGramCounts, check_sentences, count_ngrams
from helpers.ngrams.estimator import SmoothingOptions
from helpers.ngrams.smoothing import SMOOTHERS, make_estimator

__all__ = ["NGramLM", "Perplexity"]


class Perplexity(float):
    """A perplexity (a float) that also says what it was computed on: ``tokens`` scored,
    ``oov`` tokens outside the vocabulary in the text, and the OOV ``treatment``
    (``"unk"`` or ``"skip"``)."""

    tokens: int
    oov: int
    treatment: str

    def __new__(cls, value: float, tokens: int, oov: int, treatment: str) -> Perplexity:
        result = super().__new__(cls, value)
        result.tokens, result.oov, result.treatment = tokens, oov, treatment
        return result

    @property
    def cross_entropy(self) -> float:
        """Nats per token, ``log(perplexity)``."""
        return math.log(self)

    @property
    def bits(self) -> float:
        """Bits per token, ``log2(perplexity)``."""
        return math.log2(self)

    def __reduce__(self):
        return (Perplexity, (float(self), self.tokens, self.oov, self.treatment))


class NGramLM:
    """An n-gram language model with a choice of smoother.

    >>> lm = NGramLM(2, smoothing="mle").fit([["the", "cat", "sat"], ["the", "cat", "ran"], ["the", "dog", "sat"]])
    >>> round(lm.prob("cat", ["the"]), 4)
    0.6667

    ``smoothing`` is one of ``"mle"``, ``"laplace"``, ``"add-k"`` (option ``k``),
    ``"good-turing"`` (Katz back-off with Simple Good-Turing discounts, option none),
    ``"kneser-ney"`` (interpolated modified Kneser-Ney, option ``discounts``),
    ``"interpolated"`` (Jelinek-Mercer, option ``lambdas``, see
    :func:`helpers.ngrams.interpolation.fit_lambdas`) or
    ``"stupid-backoff"`` (option ``alpha``; it gives *scores*, not probabilities, so it has
    no perplexity). Options are described in :class:`helpers.ngrams.estimator.SmoothingOptions`.

    ``"mle"`` gives probability 0 to every event not seen in training, so its perplexity on
    new text is usually ``inf``; for a context never seen it uses the longest seen suffix.
    """

    def __init__(self, order: int, smoothing: str = "kneser-ney", min_count: int = 1, **options):
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ValueError(
                f"order={order!r} must be an integer >= 1 (1 = unigram, 2 = bigram, ...)"
            )
        if smoothing not in SMOOTHERS:
            raise ValueError(
                f"unknown smoothing {smoothing!r}: choose one of {', '.join(SMOOTHERS)}"
            )
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count={min_count!r} must be an integer >= 1")
        self.order = order
        self.smoothing = smoothing
        self.min_count = min_count
        self.options = SmoothingOptions.create(smoothing, **options)
        self.counts: NGramCounts | None = None
        self._estimator = None

    def __repr__(self) -> str:
        state = f"{len(self.vocab)} words" if self.counts is not None else "not fitted"
        return f"NGramLM(order={self.order}, smoothing={self.smoothing!r}, {state})"

    # ---------------------------------------------------------------- fitting
    def fit(self, sentences: Iterable[Sequence[str]] | NGramCounts) -> NGramLM:
        """Count ``sentences`` (lists of tokens) and prepare the smoother; returns ``self``.

        Counting is the slow part: to compare several smoothers or orders on the same text,
        count once with :func:`count_ngrams` at the highest order and pass the counts here.
        """
        if isinstance(sentences, NGramCounts):
            if sentences.order < self.order:
                raise ValueError(
                    f"the counts go up to order {sentences.order}, but this model has order {self.order}"
                )
            counts = sentences.truncated(self.order)
        else:
            counts = count_ngrams(sentences, self.order, self.min_count)
        self.counts = counts
        self._estimator = make_estimator(self.smoothing, counts, self.options)
        self._index = {w: i for i, w in enumerate(counts.outcomes)}
        return self

    def _require_fit(self):
        if self._estimator is None:
            raise ValueError("this model has not been fitted yet: call .fit(sentences) first")
        return self._estimator

    @property
    def estimator(self):
        """The fitted smoother (:mod:`helpers.ngrams.smoothing`), e.g. to read Kneser-Ney's
        ``discounts`` or a back-off model's ``backoff_form()``."""
        return self._require_fit()

    @property
    def vocab(self) -> list[str]:
        """The words the model knows (``<unk>`` included, ``<s>``/``</s>`` not), sorted."""
        return [] if self.counts is None else self.counts.vocab

    @property
    def outcomes(self) -> list[str]:
        """What a next-word distribution ranges over: :attr:`vocab` and ``</s>``, sorted."""
        return [] if self.counts is None else list(self.counts.outcomes)

    @property
    def is_probability(self) -> bool:
        """False for stupid back-off, whose scores do not sum to 1."""
        return self.smoothing != "stupid-backoff"

    # ---------------------------------------------------------------- scoring
    def _map(self, word: str) -> str:
        return word if word in self._index or word == BOS else UNK

    def _context(self, context: Sequence[str] | str) -> tuple[str, ...]:
        """The last ``order - 1`` words of ``context``, unknown words as ``<unk>``; nothing
        before a ``<s>`` matters, since a sentence starts there."""
        if isinstance(context, str):
            context = context.split()
        words = [self._map(w) for w in context]
        if BOS in words:
            words = words[len(words) - 1 - words[::-1].index(BOS) :]
        keep = self.order - 1
        return tuple(words[max(0, len(words) - keep) :]) if keep else ()

    def prob(self, word: str, context: Sequence[str] | str = ()) -> float:
        """P(word | context). ``context`` is a list of words (or one space-separated string);
        only its last ``order - 1`` words count. Start it with ``"<s>"`` for a sentence start."""
        estimator = self._require_fit()
        if word == BOS:
            raise ValueError("<s> is never predicted: it only opens a sentence")
        return estimator.prob(self._map(word), self._context(context))

    def logprob(self, word: str, context: Sequence[str] | str = ()) -> float:
        """Natural log of :meth:`prob` (``-inf`` for probability 0)."""
        p = self.prob(word, context)
        return math.log(p) if p > 0 else -math.inf

    def sentence_logprob(self, sentence: Sequence[str]) -> float:
        """Natural log probability of a whole sentence, ``</s>`` included."""
        words = [BOS, *sentence, EOS]
        return sum(self.logprob(words[i], words[:i]) for i in range(1, len(words)))

    def perplexity(self, sentences: Iterable[Sequence[str]], oov: str = "unk") -> Perplexity:
        """``exp`` of the mean negative log probability per predicted token (``</s>`` counts,
        ``<s>`` does not). ``inf`` as soon as one token has probability 0 (MLE on new text).

        ``oov`` says what to do with tokens outside the vocabulary (out-of-vocabulary, OOV):

        - ``"unk"`` (default): predict them as ``<unk>``, like any other token; the number then
          depends on how much probability the smoother gives ``<unk>``;
        - ``"skip"``: leave them out as targets (they still stand as ``<unk>`` in the context of
          the next words), SRILM's default and KenLM's "perplexity excluding OOVs".

        Either way the result is a float with ``.oov`` (OOV tokens in the text), ``.tokens``
        (predictions scored), ``.cross_entropy`` (nats per token) and ``.bits`` (bits per token).
        Compare models only with the same vocabulary and the same ``oov`` (Chen & Goodman 1998).
        """
        estimator = self._require_fit()
        if not self.is_probability:
            raise ValueError(
                "stupid back-off gives scores, not probabilities: perplexity is not defined for it"
            )
        if oov not in ("unk", "skip"):
            raise ValueError(f"oov={oov!r} must be 'unk' (score them as <unk>) or 'skip' (leave them out)")
        sentences = check_sentences(sentences)
        total, n, unknown = 0.0, 0, 0
        keep = self.order - 1
        for sentence in sentences:
            seq = [BOS, *(self._map(w) for w in sentence), EOS]
            for i in range(1, len(seq)):
                if seq[i] == UNK:
                    unknown += 1
                    if oov == "skip":
                        continue
                p = estimator.prob(seq[i], tuple(seq[max(0, i - keep) : i]))
                n += 1
                total = -math.inf if p <= 0 else total + math.log(p)
        if n == 0:  # (</s> is always a target, so only an empty list gets here)
            raise ValueError("perplexity needs at least one sentence")
        return Perplexity(math.exp(-total / n), tokens=n, oov=unknown, treatment=oov)

    # ---------------------------------------------------------------- distributions
    def distribution(self, context: Sequence[str] | str = ()) -> np.ndarray:
        """P(w | context) for every w in :attr:`outcomes`, as one array (sums to 1)."""
        estimator = self._require_fit()
        return estimator.distribution(self._context(context))

    def next_words(
        self, context: Sequence[str] | str = (), k: int = 5, exclude: Sequence[str] = (UNK,)
    ) -> list[tuple[str, float]]:
        """The ``k`` most likely next words with their probabilities, best first (ties by
        word); ``exclude`` leaves out outcomes such as ``<unk>``."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer")
        p = self.distribution(context)
        outcomes = self.counts.outcomes
        skip = set(exclude)
        order = np.lexsort((np.arange(len(p)), -p))  # by probability, then alphabetically
        best = []
        for i in order:
            if outcomes[i] not in skip:
                best.append((outcomes[i], float(p[i])))
                if len(best) == k:
                    break
        return best

    def generate(
        self,
        context: Sequence[str] | str = (BOS,),
        max_len: int = 30,
        rng: int | np.random.Generator = 0,
        allow_unk: bool = True,
    ) -> list[str]:
        """Sample words one at a time after ``context`` until ``</s>`` or ``max_len`` words.

        ``rng`` is a seed or a ``numpy.random.Generator``; the same seed gives the same words.
        ``allow_unk=False`` renormalises each distribution without ``<unk>``.
        """
        self._require_fit()
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len={max_len!r} must be a positive integer")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        history = list(context.split() if isinstance(context, str) else context) or [BOS]
        outcomes = self.counts.outcomes
        unk = self._index[UNK]
        words: list[str] = []
        while len(words) < max_len:
            p = self.distribution(history).copy()
            if not allow_unk and p.sum() > p[unk]:  # (unless <unk> is all there is)
                p[unk] = 0.0
            p = p / p.sum()  # also turns stupid back-off scores into a distribution
            word = outcomes[rng.choice(len(p), p=p)]
            if word == EOS:
                break
            words.append(word)
            history.append(word)
        return words

    # ---------------------------------------------------------------- export
    def to_arpa(self, path: str | Path) -> Path:
        """Write the model in the ARPA back-off format (see :func:`helpers.ngrams.arpa.write_arpa`)."""
        return write_arpa(self, path)
