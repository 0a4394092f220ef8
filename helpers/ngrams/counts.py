"""Counting n-grams: the tables every smoother of :mod:`helpers.ngrams.smoothing` starts from.

Conventions (those of SRILM and KenLM): one ``<s>`` opens each sentence and ``</s>`` closes
it; words seen fewer than ``min_count`` times become ``<unk>``; the outcomes of a next-word
distribution are the vocabulary, ``<unk>`` and ``</s>`` (``<s>`` is never predicted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["BOS", "EOS", "UNK", "NGramCounts", "check_sentences", "count_ngrams"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass
class NGramCounts:
    """Counts of every n-gram up to ``order``, grouped by context.

    ``table[k][context][word]`` is how often ``word`` followed the ``k - 1`` words ``context``
    (``table[1][()]`` holds the unigram counts; ``table[0]`` is unused). ``outcomes`` lists the
    words a model can predict: the vocabulary, ``<unk>`` and ``</s>``, sorted.
    """

    order: int
    table: list[dict[tuple[str, ...], dict[str, int]]]
    outcomes: list[str]
    min_count: int = 1

    @property
    def vocab(self) -> list[str]:
        """The words counted (``<unk>`` included, ``</s>`` not), sorted."""
        return [w for w in self.outcomes if w != EOS]

    def truncated(self, order: int) -> NGramCounts:
        """The same counts seen by a model of a lower ``order`` (shares the dictionaries)."""
        if not 1 <= order <= self.order:
            raise ValueError(f"order={order} must be between 1 and the counted order {self.order}")
        return NGramCounts(order, self.table[: order + 1], self.outcomes, self.min_count)


def check_sentences(sentences: Iterable[Sequence[str]]) -> list[list[str]]:
    if isinstance(sentences, str):
        raise ValueError(
            "sentences should be a list of token lists, not one string: tokenize it first"
        )
    checked = []
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise ValueError(
                f"sentence {i} is a string ({sentence[:40]!r}); pass lists of tokens, "
                "e.g. [helpers.data.tokenize(s) for s in texts]"
            )
        tokens = list(sentence)
        for token in tokens:
            if not isinstance(token, str):
                raise ValueError(f"sentence {i} holds {token!r}, which is not a string token")
            if token in (BOS, EOS):
                raise ValueError(
                    f"sentence {i} contains the marker {token!r}: leave it out, the model adds it"
                )
        checked.append(tokens)
    return checked


def count_ngrams(sentences: Iterable[Sequence[str]], order: int, min_count: int = 1) -> NGramCounts:
    """Count the 1- to ``order``-grams of ``sentences`` (lists of tokens).

    Words seen fewer than ``min_count`` times become ``<unk>``.

    >>> c = count_ngrams([["the", "cat", "sat"], ["the", "dog", "sat"]], order=2)
    >>> c.table[2][("the",)]
    {'cat': 1, 'dog': 1}
    >>> c.table[2][("<s>",)]
    {'the': 2}
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order={order!r} must be an integer >= 1 (1 = unigram, 2 = bigram, ...)")
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count={min_count!r} must be an integer >= 1")
    sentences = check_sentences(sentences)
    word_counts = Counter(w for s in sentences for w in s)
    if not word_counts:
        raise ValueError("cannot fit an n-gram model on an empty corpus: no sentence has a word")
    known = {w for w, c in word_counts.items() if c >= min_count}
    known.add(UNK)
    padded = [[BOS, *(w if w in known else UNK for w in s), EOS] for s in sentences]

    table: list[dict] = [{}]
    for k in range(1, order + 1):
        flat: Counter = Counter()
        for seq in padded:
            # All k-grams of the sentence; the first token of <s> ... is never a prediction.
            start = seq if k > 1 else seq[1:]
            flat.update(zip(*(start[j:] for j in range(k)), strict=False))
        grouped: dict[tuple[str, ...], dict[str, int]] = {}
        for gram, count in flat.items():
            grouped.setdefault(gram[:-1], {})[gram[-1]] = count
        table.append(grouped)
    outcomes = sorted(known | {EOS})
    return NGramCounts(order, table, outcomes, min_count)
