"""Character-level data for the neural language models (weeks 3, 5 and later).

A :class:`CharVocab` maps characters to integer ids and back; :func:`random_windows` cuts a
long id sequence into random (input, target) training windows where the target is the input
shifted by one character, the next-character prediction task; :func:`char_corpus` gives the
Wikipedia sample as train/validation text, split by article.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import torch

from helpers.data import load_corpus, split_documents

__all__ = ["CharVocab", "char_corpus", "random_windows"]

UNK = "\ufffd"  # stands for every character not in the vocabulary


class CharVocab:
    """A character vocabulary: ``encode`` text to a LongTensor of ids, ``decode`` back.

    >>> vocab = CharVocab.from_text("hello world")
    >>> vocab.decode(vocab.encode("hello"))
    'hello'
    """

    def __init__(self, chars: Sequence[str]):
        chars = list(dict.fromkeys(chars))  # keep order, drop repeats
        if UNK not in chars:
            chars.append(UNK)
        if any(len(c) != 1 for c in chars):
            raise ValueError("every vocabulary entry must be a single character")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str | Iterable[str], min_count: int = 1) -> CharVocab:
        """Characters seen at least ``min_count`` times, most frequent first (ties by code point)."""
        counts = Counter(text) if isinstance(text, str) else Counter(c for part in text for c in part)
        if not counts:
            raise ValueError("cannot build a character vocabulary from empty text")
        kept = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(kept)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def unk_id(self) -> int:
        return self.index[UNK]

    def encode(self, text: str) -> torch.Tensor:
        """Ids of the characters of ``text`` (unknown ones map to the UNK id), shape (len(text),)."""
        unk = self.unk_id
        return torch.tensor([self.index.get(c, unk) for c in text], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Text for a sequence of ids."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        try:
            return "".join(self.chars[i] for i in ids)
        except (IndexError, TypeError) as error:
            raise ValueError(f"ids must be integers in [0, {len(self)}): {error}") from None


def random_windows(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches of random windows: ``x`` (B, T) and ``y`` (B, T) = ``x`` shifted by one.

    Windows start anywhere in ``ids`` (1-D), drawn with ``generator`` for reproducibility; the
    batches live on the device of ``ids``.
    """
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    if block_size < 1 or batch_size < 1:
        raise ValueError(f"block_size={block_size} and batch_size={batch_size} must be positive")
    if len(ids) < block_size + 1:
        raise ValueError(f"need more than block_size={block_size} ids, got {len(ids)}")
    offsets = torch.arange(block_size + 1)
    while True:
        starts = torch.randint(0, len(ids) - block_size, (batch_size,), generator=generator)
        windows = ids[(starts[:, None] + offsets).to(ids.device)]  # (B, T + 1)
        yield windows[:, :-1], windows[:, 1:]


def char_corpus(name: str = "wikipedia", seed: int = 0) -> tuple[str, str, str]:
    """Train, validation and test text of a corpus, split by document (80/10/10)."""
    parts = split_documents(load_corpus(name), seed=seed)
    return tuple("\n\n".join(docs) for docs in parts)
