"""Week 11, efficiency and deployment: quantization, quantized layers, knowledge distillation,
pruning, size and speed measurement, export to ONNX.

The API later weeks build on (the course's leaderboard quantizes every model with it):

- tensors: :func:`quantize`, :func:`dequantize`, :class:`QuantizedTensor`, :func:`qrange`,
  :func:`pack_int4`, :func:`unpack_int4` (:mod:`~helpers.compression.quantize`);
- layers and models: :class:`QuantizedLinear`, :class:`QuantizedEmbedding`, :class:`QuantConfig`,
  :func:`quantize_model` (a quantized copy, by module name), :data:`PRESETS`,
  :func:`int8_matmul` (:mod:`~helpers.compression.layers`);
- distillation: :func:`distillation_loss`, :func:`distillation_lm_loss`, :func:`soft_targets`;
- pruning: :func:`magnitude_masks`, :func:`ffn_masks`, :func:`head_masks`, :func:`head_importance`,
  :func:`apply_masks`, :func:`remove_masks`, :func:`shrink_ffn`, :func:`sparsity_report`;
- measurement: :func:`parameter_bytes`, :func:`size_on_disk`, :func:`latency`,
  :func:`throughput`, :func:`energy_per_query`;
- export: :func:`export_onnx`, :class:`OnnxModel`, :func:`quantize_onnx`, :func:`require_onnx`;
- the model week 11 compresses: :func:`load_teacher`, :func:`train_teacher`, :func:`teacher_vocab`
  (:mod:`~helpers.compression.teacher`: week 5's character GPT, shipped trained).

:mod:`~helpers.compression.quantize` <- :mod:`~helpers.compression.layers`; the other modules
stand alone.
"""

from helpers.compression.distill import distillation_lm_loss, distillation_loss, soft_targets
from helpers.compression.layers import (
    PRESETS,
    QuantConfig,
    QuantizedEmbedding,
    QuantizedLinear,
    int8_matmul,
    quantize_model,
)
from helpers.compression.measure import (
    Latency,
    energy_per_query,
    latency,
    parameter_bytes,
    size_on_disk,
    throughput,
)
from helpers.compression.onnx_export import (
    DEPLOY_REQUIREMENTS,
    OnnxModel,
    export_onnx,
    quantize_onnx,
    require_onnx,
)
from helpers.compression.prune import (
    SparsityRow,
    apply_masks,
    ffn_masks,
    head_importance,
    head_masks,
    magnitude_masks,
    prunable_weights,
    remove_masks,
    shrink_ffn,
    sparsity_report,
)
from helpers.compression.quantize import (
    QuantizedTensor,
    dequantize,
    pack_int4,
    qrange,
    quantize,
    unpack_int4,
)
from helpers.compression.teacher import load_teacher, teacher_vocab, train_teacher

__all__ = [
    "DEPLOY_REQUIREMENTS", "PRESETS", "Latency", "OnnxModel", "QuantConfig", "QuantizedEmbedding", "QuantizedLinear",
    "QuantizedTensor", "SparsityRow", "apply_masks", "dequantize", "distillation_lm_loss", "distillation_loss",
    "energy_per_query", "export_onnx", "ffn_masks", "head_importance", "head_masks", "int8_matmul", "latency",
    "magnitude_masks", "pack_int4", "parameter_bytes", "prunable_weights", "qrange", "quantize", "quantize_model",
    "quantize_onnx", "remove_masks", "require_onnx", "shrink_ffn", "size_on_disk", "soft_targets", "sparsity_report",
    "throughput", "unpack_int4", "load_teacher", "teacher_vocab", "train_teacher",
]  # fmt: skip
