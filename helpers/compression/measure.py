"""Size and speed, measured the same way for every variant of a model.

- :func:`parameter_bytes`: bytes of all parameters and buffers, each storage counted once (a
  weight tied to another counts once); what the model occupies in memory.
- :func:`size_on_disk`: bytes of ``torch.save(model.state_dict())``, or of an exported file
  (an ONNX model with its external data): what one would ship.
- :func:`latency`: seconds per call of ``fn`` at batch 1 (the caller passes a batch-1 input):
  median and 90th percentile over ``repeats`` timed calls after ``warmup`` untimed ones. The
  median is robust to the odd slow call on a busy machine; p90 shows the tail users feel.
- :func:`throughput`: items per second at a larger batch, from the median time per call.
- :func:`energy_per_query`: an *estimate*, seconds x a stated power in watts. No power is
  measured: that needs a meter or the processor's energy counters, which a notebook cannot rely on.

Every function only runs and times what it is given, so a PyTorch model and an ONNX Runtime
session are measured by identical code.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

__all__ = ["Latency", "energy_per_query", "latency", "parameter_bytes", "size_on_disk", "throughput"]


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers of ``model``, shared storage counted once."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), t.numel(), t.dtype)
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def size_on_disk(model_or_path) -> int:
    """Bytes of a saved model: ``torch.save`` of a module's ``state_dict`` (in memory), or the size
    of a file plus its ONNX external-data file (``<name>.data``) if there is one."""
    if isinstance(model_or_path, nn.Module):
        buffer = io.BytesIO()
        torch.save(model_or_path.state_dict(), buffer)
        return buffer.getbuffer().nbytes
    path = Path(model_or_path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file: pass a module or the path of a saved model")
    extra = Path(f"{path}.data")
    return os.path.getsize(path) + (os.path.getsize(extra) if extra.is_file() else 0)


class Latency(NamedTuple):
    median: float  # seconds
    p90: float  # seconds
    repeats: int


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def latency(fn: Callable[[], object], repeats: int = 30, warmup: int = 3) -> Latency:
    """Median and 90th percentile of the time of ``fn()`` in seconds (GPU work is waited for)."""
    if not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"repeats={repeats!r} must be an integer of at least 2")
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        _sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            _sync()
            times.append(time.perf_counter() - start)
    times.sort()
    p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
    return Latency(statistics.median(times), p90, repeats)


def throughput(fn: Callable[[], object], items: int, repeats: int = 10, warmup: int = 2) -> float:
    """Items per second of ``fn()``, which processes ``items`` items (a batch) per call."""
    if items < 1:
        raise ValueError(f"items={items} must be positive")
    return items / latency(fn, repeats, warmup).median


def energy_per_query(seconds: float, watts: float) -> float:
    """Joules per query *estimated* as time x power (``watts``: a stated figure, e.g. a CPU's
    package power under load; not a measurement). 1 Wh = 3600 J.

    >>> energy_per_query(0.02, 15.0)
    0.3
    """
    if not seconds >= 0 or not watts > 0:
        raise ValueError(f"seconds={seconds} must be >= 0 and watts={watts} > 0")
    return seconds * watts
