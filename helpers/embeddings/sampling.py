"""What word2vec trains on: the vocabulary, subsampled tokens, noise words and windows.

- :func:`build_vocab`: the words seen at least ``min_count`` times, most frequent first.
- :func:`keep_probabilities`: frequent-word subsampling (Mikolov, Sutskever, Chen, Corrado &
  Dean 2013, "Distributed representations of words and phrases and their compositionality",
  NIPS, Sec. 2.3, Eq. 5 discards w with probability 1 - sqrt(t/f(w))), in the form of the
  reference C code word2vec.c that gensim follows: keep w with probability
  min(1, sqrt(t/f) + t/f), nearly the same for f >> t.
- :func:`noise_distribution`: P_n(w) = U(w)^(3/4) / Z, the unigram distribution raised to the
  3/4 power (same paper, Sec. 2.2), from which negative samples are drawn, in O(1) per draw
  with Walker's alias method (:func:`alias_table`, :func:`alias_sample`).
- :func:`window_layout`: the dynamic windows over an epoch's kept tokens (a window size b drawn
  uniformly from 1..W for every centre; Mikolov, Chen, Corrado & Dean 2013, "Efficient
  estimation of word representations in vector space", Sec. 3.2), never across sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

__all__ = ["alias_sample", "alias_table", "build_vocab", "keep_probabilities", "noise_distribution", "window_layout"]


def build_vocab(sentences: Sequence[Sequence[str]], min_count: int = 5) -> tuple[list[str], list[int]]:
    """Words seen at least ``min_count`` times, most frequent first (ties: first seen first).

    >>> build_vocab([["a", "b", "a"], ["c", "a", "b"]], min_count=2)
    (['a', 'b'], [3, 2])
    """
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise ValueError("sentences must be a list of sentences, each a list of word tokens")
    counts: Counter = Counter()
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str) or not isinstance(sentence, Sequence):
            raise ValueError(
                f"sentence {i} is a {type(sentence).__name__}, not a list of tokens: "
                "split text into words first (helpers.data.tokenize)"
            )
        counts.update(sentence)
    if not counts:
        raise ValueError("the corpus is empty: pass at least one sentence with words in it")
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: -counts[w])
    if not kept:
        best = max(counts.values())
        raise ValueError(f"no word occurs min_count={min_count} times (the most frequent occurs {best}): lower min_count")
    return kept, [counts[w] for w in kept]


def keep_probabilities(counts: torch.Tensor, sample: float) -> torch.Tensor:
    """Probability of keeping each occurrence of a word: min(1, (sqrt(f/t) + 1) t/f), f its
    count, t = sample x total count (word2vec.c; gensim). ``sample=0`` keeps everything."""
    counts = counts.double()
    if sample == 0:
        return torch.ones_like(counts)
    t = sample * counts.sum()
    return ((counts / t).sqrt() + 1).mul(t / counts).clamp(max=1.0)


def noise_distribution(counts: torch.Tensor, exponent: float = 0.75) -> torch.Tensor:
    """P_n(w) = count(w)^exponent / Z (Mikolov et al. 2013b, Sec. 2.2)."""
    weights = counts.double() ** exponent
    return weights / weights.sum()


def alias_table(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Walker's alias method (Walker 1977, ACM TOMS; Vose 1991's construction): tables such that
    drawing i uniformly, then keeping i with probability ``keep[i]`` or else taking
    ``alias[i]``, draws i with probability ``probs[i]``. O(1) per sample (:func:`alias_sample`).
    """
    n = len(probs)
    scaled = (probs.double() * n / probs.double().sum()).tolist()
    keep, alias = [1.0] * n, list(range(n))
    small = [i for i, p in enumerate(scaled) if p < 1.0]
    large = [i for i, p in enumerate(scaled) if p >= 1.0]
    while small and large:
        s, big = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], big  # slot s: its own share, topped up by a large word
        scaled[big] -= 1.0 - scaled[s]
        (small if scaled[big] < 1.0 else large).append(big)
    return torch.tensor(keep, dtype=torch.float64), torch.tensor(alias)


def alias_sample(keep: torch.Tensor, alias: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """``n`` independent draws from the distribution of :func:`alias_table`."""
    i = torch.randint(len(keep), (n,), generator=generator)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return torch.where(u < keep[i], i, alias[i])


def window_layout(tokens, sentence, b, negatives, W: int):
    """The tensors the steps read, for one epoch of N kept tokens: the token stream padded with
    W dummies at each end (N + 2W,), the window mask (N, 2W+1), targets and their mask (N, 1+K)."""
    offsets = torch.arange(-W, W + 1)  # (2W+1,)
    pad = torch.full((W,), -1)
    stream = torch.cat([pad.clamp(min=0), tokens, pad.clamp(min=0)])  # dummies: word 0, masked
    sentence_pad = torch.cat([pad, sentence, pad])  # dummies belong to no sentence
    same_sentence = sentence_pad.unfold(0, 2 * W + 1, 1) == sentence.unsqueeze(1)  # (N, 2W+1)
    window_mask = same_sentence & (offsets.abs() <= b.unsqueeze(1)) & (offsets != 0)
    targets = torch.cat([tokens.unsqueeze(1), negatives], dim=1)  # (N, 1+K)
    target_mask = torch.ones_like(targets, dtype=torch.bool)
    target_mask[:, 1:] = negatives != tokens.unsqueeze(1)  # word2vec.c skips noise = centre
    return stream, window_mask, targets, target_mask
