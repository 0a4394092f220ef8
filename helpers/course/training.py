"""Training utilities shared by the neural weeks: seeding, device choice, a small train loop.

Kernels never pick a device: they follow their inputs. Only notebooks call :func:`get_device`.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from helpers.course.progress import tqdm

__all__ = ["History", "evaluating", "get_device", "seed_everything", "train_loop", "warmup_cosine"]

_EMPTY = object()


def seed_everything(seed: int = 0, deterministic: bool = False) -> int:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so a notebook prints the same numbers
    on every run. ``deterministic=True`` also asks PyTorch for deterministic kernels (slower on
    GPU; some operations then raise). Returns the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2**32)")
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses; this process is already running
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators as well
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in evaluation mode inside the ``with`` block (dropout off, batch norm's running
    statistics used), and back in the mode it was in afterwards, also when the block raises.

    >>> layer = torch.nn.Dropout(0.5)
    >>> with evaluating(layer):
    ...     layer.training
    False
    >>> layer.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` ("cpu", "cuda", "mps") forces a choice and fails clearly when it is unavailable.
    The environment variable ``NEXTWORD_DEVICE`` does the same without editing a notebook.
    """
    prefer = prefer or os.environ.get("NEXTWORD_DEVICE") or None
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        kind = prefer.split(":")[0]
        if kind not in available:
            raise ValueError(f"unknown device {prefer!r}: choose cpu, cuda or mps")
        if not available[kind]:
            raise ValueError(f"device {prefer!r} is not available on this machine; use get_device() to pick one")
        return torch.device(prefer)
    return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if available[kind]))


@dataclass
class History:
    """What a training run recorded: the loss at every step and the evaluations on the way."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval: list[dict[str, float]] = field(default_factory=list)

    def smoothed(self, window: int = 50) -> np.ndarray:
        """Running mean of the training loss over ``window`` steps (for a readable curve)."""
        loss = np.asarray(self.loss, dtype=float)
        if len(loss) == 0:
            return loss
        window = max(1, min(window, len(loss)))
        kernel = np.ones(window) / window
        padded = np.concatenate([np.full(window - 1, loss[0]), loss])
        return np.convolve(padded, kernel, mode="valid")

    def plot(self, ax=None, window: int = 50, title: str = "Training loss"):
        """Plot the (smoothed) training loss and any evaluation metric whose name has "loss"."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ax.plot(self.steps, self.loss, alpha=0.25, color="C0", label="train (per step)")
        ax.plot(self.steps, self.smoothed(window), color="C0", label=f"train (mean of {window})")
        for i, name in enumerate(sorted({k for e in self.eval for k in e if "loss" in k})):
            ax.plot(self.eval_steps, [e.get(name, math.nan) for e in self.eval], "o-", color=f"C{i + 1}", label=name)
        ax.set(xlabel="step", ylabel="loss (nats per token)", title=title)
        ax.legend()
        return ax


def train_loop(
    model: torch.nn.Module,
    batches: Iterable,
    loss_fn: Callable[[torch.nn.Module, object], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    scheduler=None,
    grad_clip: float | None = None,
    eval_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    eval_every: int | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Run ``steps`` optimisation steps and return the :class:`History`.

    ``batches`` yields whatever ``loss_fn(model, batch)`` understands (it is cycled if it runs
    out); ``loss_fn`` returns a scalar loss. ``eval_fn(model)`` runs every ``eval_every`` steps
    and at the end, under ``torch.no_grad()`` and ``model.eval()``.
    """
    if steps < 1:
        raise ValueError(f"steps={steps} must be at least 1")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every={eval_every} must be a positive number of steps")
    history = History()
    source = iter(batches)
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress)  # the finished bar stays as a line of text
    for step in bar:
        try:
            batch = next(source)
        except StopIteration:
            source = iter(batches)  # a list or DataLoader starts over; a spent generator does not
            batch = next(source, _EMPTY)
            if batch is _EMPTY:
                raise ValueError(
                    f"batches ran out after {step - 1} steps of {steps}: pass a list, a DataLoader "
                    "or an endless generator"
                ) from None
        model.train()
        loss = loss_fn(model, batch)
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if eval_fn is not None and ((eval_every and step % eval_every == 0) or step == steps):
            if not history.eval_steps or history.eval_steps[-1] != step:
                model.eval()
                with torch.no_grad():
                    history.eval.append(dict(eval_fn(model)))
                history.eval_steps.append(step)
    return history


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int, warmup: int = 30) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule of the course's transformers: a linear warm-up over ``warmup``
    steps, then a cosine decay to 0 at ``steps`` (Loshchilov & Hutter 2017, "SGDR", without
    restarts). Call ``scheduler.step()`` after every optimiser step (``train_loop`` does).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = warmup_cosine(opt, steps=100, warmup=10)
    >>> [round(f(s), 3) for f in sched.lr_lambdas for s in (0, 9, 50, 100)]
    [0.1, 0.98, 0.5, 0.0]
    """
    if not isinstance(steps, int) or steps < 1 or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"steps={steps!r} must be a positive integer and warmup={warmup!r} a non-negative one")

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return ramp * 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
