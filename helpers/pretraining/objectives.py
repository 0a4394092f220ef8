"""Pre-training objectives side by side: BERT's masked LM and GPT's causal LM.

- **Masked LM** (Devlin et al. 2019, section 3.1): corrupt about 15% of the tokens
  (:func:`~helpers.pretraining.masking.mask_tokens`) and predict the originals from the whole,
  bidirectional context. Only the chosen positions carry a loss:
  ``L_MLM = -(1/|M|) sum_{i in M} log p(x_i | x_corrupted)``.
- **Causal LM** (Radford et al. 2018, section 3.1; week 5): predict every token from the tokens
  before it, ``L_LM = -(1/T) sum_t log p(x_t | x_<t)``: every position carries a loss, but each
  sees only its left context. :func:`causal_lm_loss` is week 5's ``helpers.transformer.lm_loss``.

Data for pre-training follows RoBERTa (Liu et al. 2019, sections 4.1-4.2): contiguous text cut
into windows of a fixed length, each framed as ``[CLS] ... [SEP]``, masked afresh every time it is
drawn, and no next-sentence prediction.

:func:`visibility` gives the two attention patterns as matrices, for plotting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from helpers.course.training import evaluating
from helpers.pretraining.bert import BertForMaskedLM
from helpers.pretraining.masking import IGNORE_INDEX, mask_tokens
from helpers.transformer.gpt import lm_loss as causal_lm_loss

__all__ = ["MLMBatch", "causal_lm_loss", "evaluate_mlm_loss", "mlm_batches", "mlm_loss", "mlm_windows", "visibility"]


class MLMBatch(NamedTuple):
    inputs: torch.Tensor  # (B, T) corrupted ids
    labels: torch.Tensor  # (B, T) original ids where a prediction is due, -100 elsewhere


def mlm_windows(ids: torch.Tensor, length: int, cls_id: int, sep_id: int, stride: int | None = None) -> torch.Tensor:
    """Consecutive windows of ``length - 2`` ids from the 1-D stream ``ids``, each framed as
    ``[CLS] ... [SEP]``: (N, length). ``stride`` (default: no overlap) is the step between starts."""
    if ids.ndim != 1 or length < 3:
        raise ValueError(f"ids must be 1-D and length >= 3, got shape {tuple(ids.shape)} and length={length}")
    body = length - 2
    stride = body if stride is None else stride
    if len(ids) < body:
        raise ValueError(f"{len(ids)} ids are fewer than one window of {body}")
    starts = torch.arange(0, len(ids) - body + 1, stride)
    windows = ids[starts[:, None] + torch.arange(body)]  # (N, body)
    n = len(windows)
    return torch.cat([torch.full((n, 1), cls_id), windows, torch.full((n, 1), sep_id)], dim=1)  # (N, length)


def mlm_batches(
    windows: torch.Tensor,
    batch_size: int,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    p: float = 0.15,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Iterator[MLMBatch]:
    """Endless batches of random windows, masked anew at every draw ("dynamic masking")."""
    if windows.ndim != 2 or len(windows) == 0:
        raise ValueError(f"windows must be a non-empty (N, T) tensor, got shape {tuple(windows.shape)}")
    while True:
        rows = torch.randint(len(windows), (batch_size,), generator=generator)
        inputs, labels = mask_tokens(
            windows[rows], mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids, p=p, generator=generator
        )
        yield MLMBatch(inputs.to(device), labels.to(device))


def mlm_loss(model: BertForMaskedLM, batch: MLMBatch, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy (nats) of the MLM head at the positions with a label (!= -100).

    The output layer (H x vocabulary, the most expensive product) runs only at those positions,
    about 15% of them; the result equals the cross-entropy of the full logits (tested).
    """
    inputs, labels = batch
    hidden = model.bert(inputs, attention_mask)  # (B, T, H)
    chosen = labels != IGNORE_INDEX  # (B, T)
    if not chosen.any():
        return hidden.sum() * 0.0  # nothing to predict in this batch: zero loss, still a graph
    logits = model.head(hidden[chosen])  # (n_chosen, V)
    return F.cross_entropy(logits, labels[chosen])


@torch.no_grad()
def evaluate_mlm_loss(
    model: BertForMaskedLM,
    windows: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    p: float = 0.15,
    seed: int = 0,
    batch_size: int = 64,
) -> float:
    """Mean MLM cross-entropy (nats per predicted token) over ``windows``, masked with a fixed
    ``seed`` so that two models (or one model before and after training) see the same blanks."""
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with evaluating(model):
        for chunk in windows.split(batch_size):
            inputs, labels = mask_tokens(chunk, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids, p=p, generator=g)
            n = int((labels != IGNORE_INDEX).sum())
            if n:
                loss = mlm_loss(model, MLMBatch(inputs.to(device), labels.to(device)))
                total, count = total + loss.item() * n, count + n
    if count == 0:
        raise ValueError("no position was chosen for prediction: use more windows or a larger p")
    return total / count


def visibility(T: int, objective: str) -> torch.Tensor:
    """(T, T) boolean: may position i (row) use token j (column) to make its prediction?

    ``"mlm"``: everything except the token itself when it is masked (shown here with every
    position masked in turn: the diagonal is False); ``"causal"``: the tokens before i
    (predicting token i from positions < i, as a GPT's position i-1 does)."""
    if objective == "mlm":
        return ~torch.eye(T, dtype=torch.bool)
    if objective == "causal":
        return torch.ones(T, T, dtype=torch.bool).tril(-1)
    raise ValueError(f"objective={objective!r} must be 'mlm' or 'causal'")
