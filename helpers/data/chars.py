"""Character-level data for the neural language models (weeks 3, 5 and later).

:class:`helpers.data.Vocab` (``Vocab.from_text``) maps characters to integer ids and back;
:func:`random_windows` cuts a long id sequence into random (input, target) training windows
where the target is the input shifted by one character, the next-character prediction task;
:func:`char_corpus` gives the Wikipedia sample as train/validation/test text, split by article;
:func:`baseline_losses` scores the two models that need no training (character unigram and
bigram frequencies), the reference line of every character model's loss curve.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from helpers.data.corpora import load_corpus, split_documents

__all__ = ["baseline_losses", "char_corpus", "random_windows"]

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


def baseline_losses(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int) -> dict[str, float]:
    """Validation cross-entropy in nats per character of three models that need no training:
    ``"uniform"`` (every id equally likely), ``"unigram"`` (add-one smoothed id frequencies of
    ``train_ids``) and ``"bigram"`` (add-one smoothed P(next id | id)). Divide by ``ln 2`` for
    bits per character.

    >>> ids = torch.tensor([0, 1, 0, 1, 0, 1])
    >>> {k: round(v, 3) for k, v in baseline_losses(ids, ids, 2).items()}
    {'uniform': 0.693, 'unigram': 0.693, 'bigram': 0.249}
    """
    train_ids, val_ids = torch.as_tensor(train_ids).cpu(), torch.as_tensor(val_ids).cpu()
    if train_ids.ndim != 1 or val_ids.ndim != 1 or len(train_ids) < 2 or len(val_ids) < 2:
        raise ValueError("train_ids and val_ids must be 1-D sequences of at least two ids")
    V = vocab_size
    if int(train_ids.max()) >= V or int(val_ids.max()) >= V or min(int(train_ids.min()), int(val_ids.min())) < 0:
        raise ValueError(f"ids must lie in [0, vocab_size={V})")
    unigram = (torch.bincount(train_ids, minlength=V).double() + 1) / (len(train_ids) + V)
    pairs = torch.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).double().view(V, V) + 1
    bigram = pairs / pairs.sum(dim=1, keepdim=True)  # (V, V): row = previous id
    return {
        "uniform": math.log(V),
        "unigram": -unigram.log()[val_ids].mean().item(),
        "bigram": -bigram.log()[val_ids[:-1], val_ids[1:]].mean().item(),
    }
