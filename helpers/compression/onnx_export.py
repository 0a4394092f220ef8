"""Export to ONNX and run with ONNX Runtime, the cross-platform deployment path.

:func:`export_onnx` calls ``torch.onnx.export`` (the ``torch.export``-based exporter, PyTorch's
default since 2.9) with dynamic batch and sequence dimensions, and writes one self-contained
``.onnx`` file. The course's models skip their value checks while being traced
(:func:`helpers.transformer.checks.tracing`), so the exported graph is the model's arithmetic
only. :class:`OnnxModel` runs the file with ``onnxruntime`` and takes and returns tensors, so
it can be timed and scored like the PyTorch model; :func:`quantize_onnx` applies ONNX
Runtime's dynamic int8 quantization (int8 weights, activations quantized on the fly, integer
matrix products) to an exported file. The tests check that ONNX Runtime's outputs equal
PyTorch's to 1e-4 for the GPT and for MiniLM.

The three packages (``onnx``, ``onnxruntime``, ``onnxscript``, the course's ``deploy`` extra) are
optional: :func:`require_onnx` says how to install them, or installs them when asked.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["DEPLOY_REQUIREMENTS", "OnnxModel", "export_onnx", "quantize_onnx", "require_onnx"]

# The ``deploy`` extra of pyproject.toml (a test keeps the two equal).
DEPLOY_REQUIREMENTS = ("onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.2")
_MODULES = ("onnx", "onnxruntime", "onnxscript")


def require_onnx(install: bool = False) -> None:
    """Make sure onnx, onnxruntime and onnxscript can be imported. Missing ones are installed
    with pip when ``install=True`` (a message says so first); otherwise, or if pip fails
    (offline), an ``ImportError`` says what to run."""
    missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return
    command = [sys.executable, "-m", "pip", "install", "-q", *DEPLOY_REQUIREMENTS]
    advice = (f"the export section needs {', '.join(missing)} (the course's deploy extra, about 45 MB): "
              f"pip install 'nextword[deploy]' (or: pip install {' '.join(DEPLOY_REQUIREMENTS)}), then restart the kernel")  # fmt: skip
    if not install:
        raise ImportError(advice)
    print(f"Installing {', '.join(DEPLOY_REQUIREMENTS)} for the export section (about 45 MB) ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    importlib.invalidate_caches()
    if done.returncode != 0 or any(importlib.util.find_spec(m) is None for m in _MODULES):
        raise ImportError(f"pip could not install them ({done.stderr.strip()[-300:] or 'no output'}); {advice}")


def export_onnx(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: list[str],
    output_names: list[str] | None = None,
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    max_length: int | None = None,
    optimize: bool = False,
) -> Path:
    """Export ``model(*example_inputs)`` (in eval mode, on the CPU) to a single ONNX file.

    ``dynamic_axes`` names the dimensions that may change, e.g. ``{"idx": {0: "batch", 1:
    "length"}}`` (by default dimension 0 of every input is "batch" and 1 is "length"; inputs
    that share a name must have equal sizes); ``max_length`` bounds "length" (a GPT's block_size).
    ``optimize=True`` runs the exporter's graph optimiser, which also folds constants: it would
    turn a quantized model's integer weights back into float ones, so it is off by default
    (ONNX Runtime optimises the graph again when it loads it). Returns the path.
    """
    require_onnx()
    if len(input_names) != len(example_inputs):
        raise ValueError(f"{len(input_names)} input names for {len(example_inputs)} inputs")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dynamic_axes is None:
        dynamic_axes = {name: {0: "batch", 1: "length"} for name, x in zip(input_names, example_inputs, strict=True) if x.ndim >= 2}
    dims: dict[str, torch.export.Dim] = {}
    for axes in dynamic_axes.values():
        for label in axes.values():
            if label not in dims:
                top = max_length if label == "length" and max_length is not None else None
                dims[label] = torch.export.Dim(label, min=1, max=top) if top else torch.export.Dim(label, min=1)
    dynamic_shapes = {name: {axis: dims[label] for axis, label in dynamic_axes.get(name, {}).items()} or None
                      for name in input_names}  # fmt: skip
    was_training = model.training
    model = model.eval()
    inputs = tuple(x.cpu() for x in example_inputs)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    try:
        model.cpu()
        quiet.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, inputs, dynamo=True, input_names=input_names, output_names=output_names,
                dynamic_shapes=_by_position(model, input_names, dynamic_shapes), optimize=optimize, verbose=False,
            )  # fmt: skip
            program.save(str(path), external_data=False)
        _strip_debug_info(path)
    finally:
        quiet.setLevel(level)
        model.to(device).train(was_training)
    return path


def _strip_debug_info(path: Path) -> None:
    """Drop the exporter's per-node debugging metadata (the PyTorch source of every node), which
    can outweigh a small model's weights; the graph and the weights are untouched."""
    import onnx

    proto = onnx.load(str(path))
    for node in proto.graph.node:
        del node.metadata_props[:]
    onnx.save(proto, str(path))


def _by_position(model: nn.Module, input_names: list[str], dynamic_shapes: dict) -> tuple:
    """torch.export wants dynamic shapes keyed like forward's arguments: pass them by position."""
    return tuple(dynamic_shapes[name] for name in input_names)


class OnnxModel:
    """An ONNX file run by ONNX Runtime on the CPU: ``model(*tensors)`` -> tensor (the first output).

    ``threads`` sets ONNX Runtime's intra-op threads (1 by default, like the course's PyTorch
    timings; 0 lets it choose)."""

    def __init__(self, path: str | Path, threads: int = 1):
        require_onnx()
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1 if threads else 0
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"this model takes {len(self.input_names)} inputs ({self.input_names}), got {len(inputs)}")
        feeds = {name: x.detach().cpu().numpy() for name, x in zip(self.input_names, inputs, strict=True)}
        return torch.from_numpy(self.session.run(None, feeds)[0])

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name!r}, inputs={self.input_names})"


def quantize_onnx(path: str | Path, out: str | Path) -> Path:
    """ONNX Runtime's dynamic quantization of ``path`` into ``out``: int8 weights (symmetric,
    per tensor) for every MatMul and Gather (embedding), activations quantized on the fly.

    The exporter writes a linear layer as ``MatMul(x, Transpose(W))``; ONNX Runtime's quantizer
    only quantizes a MatMul whose weight is a stored tensor, so the graph is first folded
    (onnxscript's optimizer turns ``Transpose(W)`` into a stored W^T). Without that step the
    linear layers would silently stay in float and only the embedding table would shrink."""
    require_onnx()
    import onnx
    import onnxscript
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    folded = out.with_name(out.stem + ".folded.onnx")
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.ERROR)  # it suggests pre-processing for every model
        onnx.save(onnxscript.optimizer.optimize(onnx.load(str(path))), str(folded))
        quantize_dynamic(str(folded), str(out), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        folded.unlink(missing_ok=True)
    return out
