r"""Scoring generated sequences: exact match (overall and by input length), and corpus BLEU
(Papineni et al., 2002).

BLEU compares the n-grams (n = 1..4) of the outputs with those of the references over a whole
corpus: the modified precision of each order (hypothesis n-gram counts clipped by the reference
counts), their geometric mean, and a brevity penalty for outputs shorter than the references:

.. math::

    \mathrm{BLEU} = \mathrm{BP} \cdot \exp\Big(\frac{1}{N}\sum_{n=1}^{N} \log p_n\Big), \qquad
    \mathrm{BP} = \min\big(1, e^{1 - r/c}\big),

with c the total output length and r the total length of the closest references. The result is
on sacrebleu's 0-100 scale and equals ``sacrebleu``'s corpus BLEU with its "none" or "exp"
smoothing and its "char" or whitespace ("none") tokenisation (tested). Left out: sacrebleu's
"13a" and language-specific tokenisers, and sentence-level BLEU.

>>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
100.0
>>> exact_match(["2021-03-03", "1999-12-31"], ["2021-03-03", "1999-12-30"])
0.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

__all__ = ["accuracy_by_length", "corpus_bleu", "exact_match"]


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of hypotheses identical to their reference (0 to 1)."""
    if len(hypotheses) != len(references) or len(references) == 0:
        raise ValueError(f"need as many hypotheses as references (>0), got {len(hypotheses)} and {len(references)}")
    return sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)


def accuracy_by_length(pairs, outputs: Sequence[str], width: int = 10, min_count: int = 1) -> dict[int, float]:
    """Exact-match accuracy for each bin of source lengths ``[b, b + width)``: ``{b: accuracy}``,
    bins in increasing order, only those holding at least ``min_count`` examples.

    ``pairs`` have a ``source`` and a ``target`` (such as :class:`helpers.data.DatePair`);
    ``outputs[i]`` is the model's output for ``pairs[i]``.

    >>> from types import SimpleNamespace as P
    >>> accuracy_by_length([P(source="ab", target="x"), P(source="abc", target="y"),
    ...                     P(source="a" * 12, target="z")], ["x", "n", "z"], width=10)
    {0: 0.5, 10: 1.0}
    """
    if len(pairs) != len(outputs) or not pairs:
        raise ValueError(f"need as many outputs as pairs (>0), got {len(outputs)} and {len(pairs)}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width={width!r} must be a positive integer (characters per bin)")
    right: Counter = Counter()
    total: Counter = Counter()
    for pair, output in zip(pairs, outputs, strict=True):
        b = len(pair.source) // width * width
        total[b] += 1
        right[b] += output == pair.target
    return {b: right[b] / total[b] for b in sorted(total) if total[b] >= min_count}


def _tokens(text: str, tokenize: str) -> list[str]:
    if tokenize == "char":
        return [c for c in text if not c.isspace()]
    return text.split()


def _ngrams(tokens: list[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    tokenize: str = "whitespace",
    smooth: str = "exp",
    max_order: int = 4,
) -> float:
    """Corpus BLEU (0-100) of Papineni et al. (2002), as ``sacrebleu.corpus_bleu`` computes it.

    ``references[i]`` is the reference of ``hypotheses[i]``, or a list of references. Counts of
    matching n-grams (clipped by the reference counts) and of hypothesis n-grams are summed over
    the corpus; BLEU = BP * exp(mean of log precisions), BP = exp(1 - r/c) when the total
    hypothesis length c is below the total length r of the closest references. ``smooth="exp"``
    (sacrebleu's default) replaces a zero count at order n by 1/2^k, k = 1, 2, ... .
    """
    if tokenize not in ("whitespace", "char"):
        raise ValueError(f"tokenize={tokenize!r} must be 'whitespace' or 'char'")
    if smooth not in ("none", "exp"):
        raise ValueError(f"smooth={smooth!r} must be 'none' or 'exp'")
    if len(hypotheses) != len(references) or len(hypotheses) == 0:
        raise ValueError(f"need as many hypotheses as references (>0), got {len(hypotheses)} and {len(references)}")
    correct, total = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references, strict=True):
        refs = [refs] if isinstance(refs, str) else list(refs)
        h = _tokens(hyp.rstrip(), tokenize)
        ref_tokens = [_tokens(r.rstrip(), tokenize) for r in refs]
        ref_counts: Counter = Counter()
        for r in ref_tokens:
            ref_counts |= _ngrams(r, max_order)  # max count over references
        # the closest reference length (the shorter one on ties)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in ref_tokens)[1]
        hyp_len += len(h)
        for gram, count in _ngrams(h, max_order).items():
            total[len(gram) - 1] += count
            correct[len(gram) - 1] += min(count, ref_counts[gram])
    if not any(correct):
        return 0.0
    log_precisions, halvings = [], 1.0
    for n in range(max_order):
        if total[n] == 0:
            return 0.0  # no n-grams of this order at all
        if correct[n] == 0:
            if smooth == "none":
                return 0.0
            halvings *= 2
            log_precisions.append(math.log(1.0 / (halvings * total[n])))
        else:
            log_precisions.append(math.log(correct[n] / total[n]))
    bp = 1.0 if hyp_len >= ref_len else (math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0)
    return 100.0 * bp * math.exp(sum(log_precisions) / max_order)
