"""Measure the tensor memory a computation allocates, and the largest tensor it creates.

A CPU has no ``torch.cuda.max_memory_allocated``; the process's resident memory is too coarse
for a few megabytes. :class:`TensorMemory` is a ``TorchDispatchMode``: every PyTorch operation
run inside it passes through :meth:`__torch_dispatch__`, which sees each output tensor. A new
storage (not a view of an input or of an earlier output) adds its bytes to the live total; a
weak reference takes them off when the last tensor using it is freed. The peak of that total is
the extra memory the computation needed, and ``largest`` names the biggest tensor it produced,
which tells whether a T x T matrix was ever materialised, in any form, whatever the code looks
like (used by the tests of :mod:`helpers.scaling.tiled` and by the week 7 assignment).

What it sees: every tensor an operator returns. What it does not see: scratch memory inside a
single operator's kernel (a fused kernel's internal buffers), memory outside PyTorch (NumPy:
use ``tracemalloc`` for that), and tensors that autograd saves for the backward pass after
their Python objects die: measure under ``torch.no_grad()`` (the default of :func:`measure`).

>>> with TensorMemory() as tracker:
...     y = torch.ones(1000) * 2  # two tensors of 4 kB, the first freed at once
>>> tracker.peak_bytes, tracker.largest_shape
(8000, (1000,))
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["MemoryReport", "TensorMemory", "measure"]


class TensorMemory(TorchDispatchMode):
    """Track the bytes of live tensors created inside the ``with`` block (see the module)."""

    def __init__(self):
        super().__init__()
        self._live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors using it]
        self.current_bytes = 0
        self.peak_bytes = 0
        self.largest_numel = 0
        self.largest_shape: tuple[int, ...] = ()
        self.ops: set[str] = set()  # names of the operators that ran, e.g. "aten.mm"

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops.add(str(func.overloadpacket))
        inputs = {_address(t) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            if t.numel() > self.largest_numel:
                self.largest_numel, self.largest_shape = t.numel(), tuple(t.shape)
            address = _address(t)
            if address in self._live:
                self._live[address][1] += 1
            elif address in inputs or address == 0:
                continue  # a view of (or an in-place result on) memory that was already there
            else:
                self._live[address] = [t.untyped_storage().nbytes(), 1]
                self.current_bytes += self._live[address][0]
                self.peak_bytes = max(self.peak_bytes, self.current_bytes)
            weakref.finalize(t, self._release, address)
        return out

    def _release(self, address: int) -> None:
        entry = self._live.get(address)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current_bytes -= entry[0]
            del self._live[address]


def _address(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


@dataclass(frozen=True)
class MemoryReport:
    peak_bytes: int  # the most tensor memory alive at once (outputs included)
    largest_numel: int  # elements of the largest tensor created
    largest_shape: tuple[int, ...]
    ops: frozenset[str]


def measure(fn: Callable, *args, grad: bool = False, **kwargs) -> tuple[object, MemoryReport]:
    """Run ``fn(*args, **kwargs)`` under :class:`TensorMemory`; return its result and the report.

    Autograd is off unless ``grad=True`` (saved tensors would be invisible, see the module).
    """
    with torch.set_grad_enabled(grad), TensorMemory() as tracker:
        result = fn(*args, **kwargs)
    return result, MemoryReport(tracker.peak_bytes, tracker.largest_numel, tracker.largest_shape, frozenset(tracker.ops))
