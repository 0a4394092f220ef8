"""Byte-pair encoding, the clear version: count pairs, merge one, repeat.

BPE started as a compression scheme (Gage 1994) and became a subword tokenizer with Sennrich,
Haddow & Birch (2016, "Neural Machine Translation of Rare Words with Subword Units", ACL,
section 3.2): start from single symbols, count every pair of adjacent symbols in the corpus,
merge the most frequent pair into a new symbol, and repeat. GPT-2 (Radford et al. 2019,
section 2.2) runs it on **bytes** instead of characters, so that any string, in any script, is
covered by the 256 starting symbols and nothing is ever unknown.

Here a chunk of text is a tuple of token ids; ids 0-255 are its UTF-8 bytes and merge number
``k`` creates token ``256 + k``. The corpus is a ``{chunk: count}`` table (the pre-tokenized
chunks of :mod:`helpers.tokenization.pretokenize` with their frequencies), so each distinct
chunk is counted once.

Tie-break (documented, deterministic, the same in every trainer of the course): among the
pairs with the highest count, merge the **smallest pair of ids** ``(a, b)`` (compare ``a``,
then ``b``). Hugging Face ``tokenizers``' BPE trainer breaks ties the same way over its own ids.

:func:`train_naive` recounts every pair after every merge: obviously right, and slow. The fast
trainer (:mod:`helpers.tokenization.trainer`) must give exactly the same merges (tested).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise

__all__ = ["encode_chunk", "merge", "pair_counts", "train_naive"]

Pair = tuple[int, int]


def pair_counts(chunks: Mapping[tuple[int, ...], int]) -> Counter:
    """How often each pair of adjacent ids occurs, each chunk weighted by its count.

    Overlapping pairs all count (``aaa`` holds the pair ``(a, a)`` twice), as in Sennrich et
    al.'s reference code and every production trainer.

    >>> sorted(pair_counts({(1, 2, 3): 2, (2, 3): 1}).items())
    [((1, 2), 2), ((2, 3), 3)]
    """
    counts: Counter = Counter()
    for ids, n in chunks.items():
        for pair in pairwise(ids):
            counts[pair] += n
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> tuple[int, ...]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, left to right.

    >>> merge((5, 6, 5, 6, 6), (5, 6), 9)
    (9, 9, 6)
    >>> merge((7, 7, 7), (7, 7), 8)  # non-overlapping, from the left
    (8, 7)
    """
    a, b = pair
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


def best_pair(counts: Mapping[Pair, int]) -> Pair:
    """The pair to merge next: the highest count, ties to the smallest ``(a, b)``.

    >>> best_pair({(3, 1): 5, (2, 9): 5, (0, 0): 4})
    (2, 9)
    """
    return min(counts, key=lambda pair: (-counts[pair], pair))


def train_naive(chunks: Mapping[tuple[int, ...], int], n_merges: int, first_id: int = 256) -> list[Pair]:
    """The reference trainer: recount all pairs, merge the best, ``n_merges`` times.

    Returns the merges in order; merge ``k`` made token ``first_id + k``. Stops early when no
    chunk has two tokens left.

    >>> chunks = {tuple(b"hug"): 10, tuple(b"pug"): 5, tuple(b"hugs"): 5}
    >>> [(bytes([a]) if a < 256 else a, bytes([b]) if b < 256 else b) for a, b in train_naive(chunks, 2)]
    [(b'u', b'g'), (b'h', 256)]
    """
    chunks = dict(chunks)
    merges: list[Pair] = []
    for k in range(n_merges):
        counts = pair_counts(chunks)
        if not counts:
            break
        pair = best_pair(counts)
        merges.append(pair)
        merged: dict[tuple[int, ...], int] = {}
        for ids, n in chunks.items():
            new = merge(ids, pair, first_id + k)
            merged[new] = merged.get(new, 0) + n  # (distinct chunks stay distinct; += is only safe)
        chunks = merged
    return merges


def encode_chunk(ids: Sequence[int], ranks: Mapping[Pair, int]) -> list[int]:
    """Encode one chunk by applying the learned merges, earliest merge first.

    ``ranks[(a, b)]`` is the id of the token that merging ``a`` and ``b`` creates; since later
    merges get larger ids, the pair with the smallest rank present is the one training merged
    first. Merge its leftmost occurrence and repeat until no adjacent pair is a known merge.
    (Merging one occurrence at a time gives the same result as :func:`merge` on all of them:
    the new token's own pairs have larger ranks, so the next step picks the same pair again.
    This is also how tiktoken loops.)

    >>> encode_chunk(list(b"hugs"), {(117, 103): 256, (104, 256): 257})  # u+g, then h+ug
    [257, 115]
    """
    ids = list(ids)
    get = ranks.get
    while len(ids) > 1:
        best, where = None, 0
        for i in range(len(ids) - 1):
            rank = get((ids[i], ids[i + 1]))
            if rank is not None and (best is None or rank < best):
                best, where = rank, i
        if best is None:
            break
        ids[where : where + 2] = [best]
    return ids
