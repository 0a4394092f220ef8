"""Masked-language-model corruption: which tokens BERT must reconstruct, and what it sees instead.

Implements the masking of Devlin et al. 2019, "BERT: pre-training of deep bidirectional
transformers for language understanding" (NAACL), section 3.1, "Task #1: Masked LM": each
non-special position is chosen for prediction with probability ``p`` (15%); a chosen token is
replaced by ``[MASK]`` 80% of the time, by a random token 10% of the time and left unchanged
10% of the time, and the model is trained to predict the original token at the chosen
positions only. The random and unchanged cases keep the model from learning that only
``[MASK]`` positions matter, since ``[MASK]`` never appears when the model is fine-tuned.

Same semantics as Hugging Face's ``DataCollatorForLanguageModeling`` (``mlm_probability``,
``mask_replace_prob``, ``random_replace_prob``), down to the order of the random draws: given
generators in the same state the two return the same tensors (``tests/pretraining``).

    chosen_i ~ Bernoulli(p)            (0 for special tokens and padding)
    labels_i = ids_i if chosen_i else -100
    inputs_i = [MASK]                  with probability 0.8       } only where chosen_i
             = uniform(0, vocab_size)  with probability 0.1       }
             = ids_i                   otherwise                  }

Departures from the paper, as in the collator: every position is drawn independently (the
paper's code picks exactly round(15% x length) positions per sequence, capped by
``max_predictions_per_seq``), and masking is redone every time a batch is drawn ("dynamic
masking", Liu et al. 2019, RoBERTa, section 4.1) instead of once per copy of the data. The
random replacement is drawn from the whole vocabulary (special tokens included), as in both the
paper's code and the collator.

Left out: whole-word masking (all pieces of a word masked together), span masking (SpanBERT).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["IGNORE_INDEX", "mask_tokens"]

IGNORE_INDEX = -100  # the label of a position with nothing to predict (torch's cross_entropy default)


def mask_tokens(
    ids: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Iterable[int],
    p: float = 0.15,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption of a batch of token ids: returns ``(inputs, labels)``.

    ``ids`` is a LongTensor of any shape (usually (B, T)); it is not modified. ``special_ids``
    are never chosen: pass every special token, the padding id included. Of the chosen
    positions, ``mask_fraction`` become ``mask_id``, ``random_fraction`` a token drawn
    uniformly from ``[0, vocab_size)``, the rest stay as they are. ``labels`` holds the
    original id at chosen positions and -100 elsewhere. ``generator`` makes it reproducible.

    >>> ids = torch.tensor([[101, 7, 8, 9, 102, 0]])
    >>> inputs, labels = mask_tokens(ids, mask_id=103, vocab_size=200, special_ids=[0, 101, 102], p=1.0,
    ...                              mask_fraction=1.0, random_fraction=0.0)
    >>> inputs, labels
    (tensor([[101, 103, 103, 103, 102,   0]]), tensor([[-100,    7,    8,    9, -100, -100]]))
    """
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise ValueError(f"ids must be a LongTensor of token ids, got {type(ids).__name__} {getattr(ids, 'dtype', '')}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p} must be a probability in [0, 1] (BERT uses 0.15)")
    if not (0.0 <= mask_fraction <= 1.0 and 0.0 <= random_fraction <= 1.0 and mask_fraction + random_fraction <= 1.0):
        raise ValueError(
            f"mask_fraction={mask_fraction} and random_fraction={random_fraction} must be in [0, 1] "
            "with a sum of at most 1 (BERT: 0.8 and 0.1)"
        )
    if not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size!r} must be a positive integer")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id={mask_id} must be a token id in [0, vocab_size={vocab_size})")
    special = torch.as_tensor(list(special_ids), dtype=torch.long, device=ids.device)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must be in [0, {vocab_size}), got [{int(ids.min())}, {int(ids.max())}]")

    # The draws below happen in the collator's order (all on the CPU generator's device).
    labels = ids.clone()
    chance = torch.full(ids.shape, float(p), device=ids.device)
    chance = chance.masked_fill(torch.isin(ids, special), 0.0)  # specials and padding: never chosen
    chosen = torch.bernoulli(chance, generator=generator).bool()
    labels[~chosen] = IGNORE_INDEX

    inputs = ids.clone()
    to_mask = torch.bernoulli(torch.full(ids.shape, float(mask_fraction), device=ids.device), generator=generator).bool() & chosen
    inputs[to_mask] = mask_id
    if mask_fraction == 1.0 or random_fraction == 0.0:
        return inputs, labels
    # Of the chosen tokens not masked, the share that gets a random token: 0.1 / 0.2 = 0.5 for BERT.
    share = random_fraction / (1.0 - mask_fraction)
    to_random = torch.bernoulli(torch.full(ids.shape, share, device=ids.device), generator=generator).bool() & chosen & ~to_mask
    random_ids = torch.randint(vocab_size, ids.shape, dtype=torch.long, device=ids.device, generator=generator)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels
