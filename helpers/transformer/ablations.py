"""Small trained ablations of the GPT: what each part of the block is for.

One recipe for every variant (AdamW, a linear warm-up then cosine decay, gradients clipped at
norm 1, batches of random windows), so that a table of variants differs only in the
:class:`~helpers.transformer.gpt.GPTConfig` fields and the warm-up being compared:

- ``residual=False``: blocks without skip connections (He et al. 2016, "Deep residual learning
  for image recognition", CVPR, equation 1: ``y = F(x) + x``);
- ``layer_norm=False``: no layer normalisation (Ba et al. 2016, "Layer normalization",
  arXiv:1607.06450, equations 3-4);
- ``norm_first=False``: post-LN (Vaswani et al. 2017) against pre-LN (GPT-2), with and without
  the learning-rate warm-up that Xiong et al. (2020, ICML, "On layer normalization in the
  transformer architecture") show post-LN needs;
- ``pos_encoding="sinusoidal"`` against ``"learned"``.

A run whose loss becomes NaN or infinite stops there and is reported as diverged (its
validation loss is ``nan``). CPU-sized on purpose: the effects in the papers are for deep models
trained for long; a few hundred steps of a small model show some of them and not others, and
the notebook says which.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from helpers.course.training import warmup_cosine
from helpers.data.chars import random_windows
from helpers.transformer.gpt import GPT, GPTConfig, evaluate_loss

__all__ = ["AblationRun", "train_variant", "run_ablations"]


@dataclass
class AblationRun:
    name: str
    config: GPTConfig
    warmup: int
    losses: list[float]  # training loss of every step run (fewer than steps when it diverged)
    val_loss: float  # nats per token on the validation ids; nan when the run diverged
    seconds: float
    diverged: bool

    @property
    def final_loss(self) -> float:
        """Mean training loss of the last 20 steps (nan when diverged)."""
        if self.diverged or not self.losses:
            return math.nan
        tail = self.losses[-20:]
        return sum(tail) / len(tail)


def train_variant(
    config: GPTConfig,
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    steps: int,
    *,
    name: str = "",
    batch_size: int = 16,
    lr: float = 1e-2,
    warmup: int = 30,
    seed: int = 0,
    eval_tokens: int = 16_384,
    device: torch.device | str | None = None,
) -> AblationRun:
    """Build ``GPT(config)`` from ``seed`` and train it for ``steps`` steps on ``train_ids``.

    AdamW (betas 0.9, 0.99, weight decay 0.01), learning rate ``lr`` warmed up linearly over
    ``warmup`` steps (0: none) then decayed by a cosine to 0, gradient norm clipped at 1.
    Returns the losses and the validation loss on the first ``eval_tokens`` of ``val_ids``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r} must be a positive integer")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup={warmup!r} must be a non-negative integer (0: no warm-up)")
    device = torch.device(device) if device is not None else train_ids.device
    torch.manual_seed(seed)
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    schedule = warmup_cosine(optimizer, steps, warmup=warmup)
    batches = random_windows(train_ids, config.block_size, batch_size, torch.Generator().manual_seed(seed))
    losses, diverged = [], False
    model.train()
    start = time.perf_counter()
    for _, (x, y) in zip(range(steps), batches, strict=False):
        logits = model(x.to(device))  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1))
        if not torch.isfinite(loss):
            diverged = True
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    val = math.nan if diverged else evaluate_loss(model, val_ids.to(device), config.block_size, max_tokens=eval_tokens)
    if not math.isfinite(val):
        diverged, val = True, math.nan
    return AblationRun(name or repr(config), config, warmup, losses, val, seconds, diverged)


def run_ablations(
    base: GPTConfig,
    variants: dict[str, dict],
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    steps: int,
    **kwargs,
) -> list[AblationRun]:
    """Train one model per variant: ``variants`` maps a name to the GPTConfig fields it changes
    (plus, optionally, ``"warmup"``: that run's warm-up steps). Every run starts from the same
    seed and sees the same batches. Other keyword arguments go to :func:`train_variant`."""
    runs = []
    for name, changes in variants.items():
        changes = dict(changes)
        warmup = changes.pop("warmup", kwargs.get("warmup", 30))
        unknown = set(changes) - set(vars(base))
        if unknown:
            raise ValueError(f"variant {name!r} changes {sorted(unknown)}, which are not GPTConfig fields")
        options = {**kwargs, "warmup": warmup}
        runs.append(train_variant(replace(base, **changes), train_ids, val_ids, steps, name=name, **options))
    return runs
