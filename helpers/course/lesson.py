"""Small utilities the lectures share, so that every week measures the same way."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

__all__ = ["best_time"]


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Seconds taken by ``fn()``: the fastest of ``repeats`` runs after ``warmup`` untimed ones.

    The minimum is the run least disturbed by whatever else the machine is doing; a lecture on
    a shared laptop reads more stable numbers from it than from the mean. Work queued on a GPU
    is waited for, so its time counts.

    >>> best_time(lambda: sum(range(1000))) < 1.0
    True
    """
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be a positive integer")
    sync = torch.cuda.synchronize if torch.cuda.is_available() and torch.cuda.is_initialized() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)
