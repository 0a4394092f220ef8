"""Input checks that read tensor values run in eager mode only.

A check such as ``int(idx.max()) >= vocab_size`` turns a tensor into a Python number. That is
what a student wants from a model called in a notebook (a clear ``ValueError`` instead of an
index error deep inside ``nn.Embedding``), but a graph exporter (``torch.onnx.export``, which
traces the model with ``torch.export``; ``torch.jit.trace``; ``torch.compile``) cannot follow a
value into Python: the exported graph would either fail to build or bake in the values of the
example input. Models therefore skip such value checks while they are being traced; checks
of shapes and dtypes, which the tracer does follow, always run.
"""

from __future__ import annotations

import torch

__all__ = ["tracing"]


def tracing() -> bool:
    """True while torch.export, torch.onnx.export, torch.jit.trace or torch.compile traces the
    model; False in ordinary (eager) calls.

    >>> tracing()
    False
    """
    compiler = getattr(torch, "compiler", None)
    for name in ("is_exporting", "is_compiling"):
        check = getattr(compiler, name, None)
        if check is not None and check():
            return True
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())
