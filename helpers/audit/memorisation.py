"""Memorisation and membership: does a model give back its training text?

Carlini et al. (2021, "Extracting training data from large language models", USENIX Security)
prompt GPT-2 and find verbatim training sequences among its outputs; a *k-eidetic* sequence is
one the model can be led to emit. Here, as in their follow-up measurement (Carlini et al. 2023,
"Quantifying memorization across neural language models", ICLR, section 3), we take a sequence
of the **training** text, prompt the model with its first ``prefix`` tokens and call it
**extractable** when the greedy continuation equals the next ``suffix`` tokens exactly. The same
test on **held-out** text of the same source is the control: what the model can continue
without having seen it (common phrases, easy predictions).

The second signal is the loss gap, the simplest membership-inference attack (Yeom et al. 2018,
"Privacy risk in machine learning", CSF): a sequence is called a member when its loss is low.
:func:`membership_auc` is the area under the ROC curve of that attack, the probability that a
training sequence has a lower loss than a held-out one (ties count half): 0.5 = no leak. The
loss of a sequence is its mean cross-entropy (nats per token) over the suffix positions given
the prefix; ``exp`` of the mean over sequences is the perplexity in the table.

Left out: Carlini et al.'s zlib and reference-model ratios that sort generated samples, and
sampling-based extraction (we only decode greedily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from helpers.course.training import evaluating
from helpers.decoding.sampling import GREEDY, generate
from helpers.decoding.step import forward_step, lm_step

__all__ = [
    "MemorisationResult",
    "extractable",
    "membership_auc",
    "memorisation_test",
    "sequence_losses",
    "windows_of",
]


def windows_of(ids: torch.Tensor, length: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` windows of ``length`` ids at random starts in ``ids`` (1-D), without repeats: (n, length)."""
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    if len(ids) < length or n > len(ids) - length + 1:
        raise ValueError(
            f"cannot cut {n} distinct windows of {length} ids from {len(ids)} ids: use fewer or shorter"
        )
    starts = torch.randperm(len(ids) - length + 1, generator=generator)[:n]
    return ids[starts[:, None] + torch.arange(length)]  # (n, length)


def _check(windows: torch.Tensor, prefix: int, suffix: int, model) -> None:
    if windows.ndim != 2 or windows.shape[1] < prefix + suffix:
        raise ValueError(
            f"windows must be (n, >= prefix + suffix = {prefix + suffix}), got shape {tuple(windows.shape)}"
        )
    if prefix < 1 or suffix < 1:
        raise ValueError(f"prefix={prefix} and suffix={suffix} must both be at least 1")
    block = getattr(getattr(model, "config", None), "block_size", None)
    if block is not None and prefix + suffix > block:
        raise ValueError(
            f"prefix + suffix = {prefix + suffix} exceeds the model's context of {block}"
        )


@torch.no_grad()
def extractable(model, windows: torch.Tensor, prefix: int, suffix: int) -> torch.Tensor:
    """Bool (n,): does the greedy continuation of each window's prefix equal its next ``suffix`` ids?"""
    _check(windows, prefix, suffix, model)
    device = next(model.parameters()).device
    with evaluating(model):  # greedy decoding through the course's decoding library: GPTs with their KV cache, else any model(ids)
        block_size = getattr(getattr(model, "config", None), "block_size", None)
        step = lm_step(model) if hasattr(model, "run") else forward_step(model, block_size)
        out = generate(
            step, windows[:, :prefix].to(device), suffix, GREEDY
        ).sequences.cpu()  # (n, prefix + suffix)
    return (out[:, prefix:] == windows[:, prefix : prefix + suffix]).all(dim=1)


@torch.no_grad()
def sequence_losses(model, windows: torch.Tensor, prefix: int, suffix: int) -> torch.Tensor:
    """Mean cross-entropy (nats per token) of each window's suffix given its prefix: (n,)."""
    _check(windows, prefix, suffix, model)
    device = next(model.parameters()).device
    with evaluating(model):
        x = windows[:, : prefix + suffix - 1].to(device)  # (n, T - 1) inputs
        y = windows[:, 1 : prefix + suffix].to(device)  # (n, T - 1) targets
        logits = model(x).float()  # (n, T - 1, V)
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (n, T - 1)
        return nll[:, prefix - 1 :].mean(dim=1).cpu()  # the suffix positions only


def membership_auc(member_losses, non_member_losses) -> float:
    """P(loss of a member < loss of a non-member), ties counted half: the ROC AUC of the loss attack."""
    m = np.asarray(member_losses, dtype=np.float64)
    h = np.asarray(non_member_losses, dtype=np.float64)
    if m.ndim != 1 or h.ndim != 1 or len(m) == 0 or len(h) == 0:
        raise ValueError(
            f"both loss arrays must be 1-D and non-empty, got shapes {m.shape} and {h.shape}"
        )
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(h))):
        raise ValueError("losses hold NaN or infinite values")
    below = (m[:, None] < h[None, :]).sum() + 0.5 * (
        m[:, None] == h[None, :]
    ).sum()  # Mann-Whitney U
    return float(below / (len(m) * len(h)))


@dataclass(frozen=True)
class MemorisationResult:
    """Extraction rates and losses of training vs held-out windows."""

    train_extractable: float
    heldout_extractable: float
    train_perplexity: float
    heldout_perplexity: float
    auc: float
    n: int

    def __str__(self) -> str:
        return (
            f"extractable: train {self.train_extractable:.1%} vs held-out {self.heldout_extractable:.1%}; "
            f"perplexity {self.train_perplexity:.2f} vs {self.heldout_perplexity:.2f}; "
            f"membership AUC {self.auc:.3f} ({self.n} windows each)"
        )


def memorisation_test(
    model, train_windows: torch.Tensor, heldout_windows: torch.Tensor, prefix: int, suffix: int
) -> MemorisationResult:
    """Both signals on windows of training text and of held-out text (same shapes)."""
    if train_windows.shape != heldout_windows.shape:
        raise ValueError(
            f"train and held-out windows must have the same shape, got {tuple(train_windows.shape)} "
            f"and {tuple(heldout_windows.shape)}"
        )
    seen, unseen = (
        sequence_losses(model, w, prefix, suffix) for w in (train_windows, heldout_windows)
    )
    return MemorisationResult(
        float(extractable(model, train_windows, prefix, suffix).float().mean()),
        float(extractable(model, heldout_windows, prefix, suffix).float().mean()),
        math.exp(float(seen.mean())),
        math.exp(float(unseen.mean())),
        membership_auc(seen.numpy(), unseen.numpy()),
        len(train_windows),
    )
