r"""How good and how varied is generated text? Four measures that need no human judge.

* :func:`distinct_n` (Li, Galley, Brockett, Gao & Dolan 2016, "A diversity-promoting objective
  function for neural conversation models", NAACL): the number of distinct n-grams
  in all the generated texts, divided by the total number of generated tokens. Higher is more
  varied.
* :func:`self_bleu` (Zhu et al. 2018, "Texygen", SIGIR): the BLEU of each text
  against all the others as references, averaged. Higher means the texts resemble each other:
  less diverse. BLEU is the course's :func:`helpers.seq2seq.bleu.corpus_bleu`, equal to
  ``sacrebleu``'s corpus BLEU of one hypothesis against many references (tested), with
  sacrebleu's default exponential smoothing.
* :func:`repetition_rate` (the ``seq-rep-n`` of Welleck, Kulikov, Roller, Dinan, Cho & Weston
  2020, "Neural text generation with unlikelihood training", ICLR): within one text, the
  fraction of its n-grams that repeat an earlier one, :math:`1 - |\text{unique}| / |\text{all}|`,
  averaged over texts. Greedy decoding's loops score near 1.
* :func:`perplexity`: :math:`\exp(-\frac{1}{N}\sum_i \log p(x_i \mid x_{<i}))` of the generated
  tokens under a *reference* model. Holtzman et al. (2020, Table 1) compare it with the
  perplexity of human text under the same model: too low means dull, repetitive text (beam
  search, greedy), too high means incoherent text (pure sampling).

Tokens are whitespace-separated words by default; pass ``tokenize=list`` for characters.

Left out: MAUVE (Pillutla et al. 2021) and human judgements.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from helpers.seq2seq.bleu import corpus_bleu

__all__ = ["distinct_n", "perplexity", "repetition_rate", "self_bleu"]


def _ngrams(tokens: Sequence, n: int) -> list[tuple]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer")


def distinct_n(texts: Iterable[str], n: int = 2, tokenize: Callable[[str], Sequence] = str.split) -> float:
    """Distinct n-grams over all ``texts`` / total tokens (Li et al. 2016); 0 for no tokens.

    >>> distinct_n(["the cat sat", "the cat ran"], n=1)  # the, cat, sat, ran over 6 words
    0.6666666666666666
    """
    _check_n(n)
    seen, total = set(), 0
    for text in texts:
        tokens = tokenize(text)
        total += len(tokens)
        seen.update(_ngrams(tokens, n))
    return len(seen) / total if total else 0.0


def repetition_rate(texts: Iterable[str], n: int = 4, tokenize: Callable[[str], Sequence] = str.split) -> float:
    """Mean over texts of ``1 - unique n-grams / n-grams`` (Welleck et al. 2020's seq-rep-n);
    texts shorter than n are skipped.

    >>> repetition_rate(["a b a b a b", "a b c d e f"], n=2)  # 5 bigrams, 2 unique; none repeated
    0.3
    """
    _check_n(n)
    rates = []
    for text in texts:
        grams = _ngrams(tokenize(text), n)
        if grams:
            rates.append(1.0 - len(set(grams)) / len(grams))
    return sum(rates) / len(rates) if rates else 0.0


def self_bleu(texts: Sequence[str], tokenize: str = "whitespace", max_texts: int | None = None) -> float:
    """Mean BLEU (0-100) of each text against all the others (Zhu et al. 2018), at most the
    first ``max_texts`` texts (the cost grows with the square of their number).

    >>> self_bleu(["a b c d e", "a b c d e", "a b c d e"])
    100.0
    """
    texts = list(texts)[:max_texts]
    if len(texts) < 2:
        raise ValueError(f"self-BLEU needs at least 2 texts, got {len(texts)}")
    scores = []
    for i, text in enumerate(texts):
        others = texts[:i] + texts[i + 1 :]
        scores.append(corpus_bleu([text], [others], tokenize=tokenize))
    return sum(scores) / len(scores)


def perplexity(log_probs: Iterable[float]) -> float:
    """``exp(-mean)`` of per-token log-probabilities (natural log) under a reference model.

    >>> round(perplexity([math.log(0.5)] * 4), 6)
    2.0
    """
    values = [float(x) for x in log_probs]
    if not values:
        raise ValueError("perplexity needs at least one token's log-probability")
    return math.exp(-sum(values) / len(values))


def counts(texts: Iterable[str], n: int, tokenize: Callable[[str], Sequence] = str.split) -> Counter:
    """How often each n-gram occurs over ``texts`` (to show the most repeated ones)."""
    _check_n(n)
    c: Counter = Counter()
    for text in texts:
        c.update(_ngrams(tokenize(text), n))
    return c
