"""Week 7: scaling laws and the modern transformer.

- :mod:`~helpers.scaling.counting`: parameters, FLOPs per token, training memory, KV-cache bytes
  (Kaplan et al. 2020); :mod:`~helpers.scaling.published`: GPT-2, GPT-3 and Llama 2 shapes,
  Kaplan's and Chinchilla's constants, with their sources.
- :mod:`~helpers.scaling.laws`: power-law fits with bootstrap intervals; Chinchilla's
  approach 3 and the compute-optimal split (Hoffmann et al. 2022).
- :mod:`~helpers.scaling.positions`: RoPE (Su et al. 2021) and ALiBi (Press et al. 2022).
- :mod:`~helpers.scaling.layers`: RMSNorm (Zhang & Sennrich 2019), SwiGLU (Shazeer 2020).
- :mod:`~helpers.scaling.attention`: grouped-query attention (Ainslie et al. 2023) with a KV cache.
- :mod:`~helpers.scaling.tiled`: tiled attention with an online softmax (Milakov & Gimelshein
  2018; Dao et al. 2022); :mod:`~helpers.scaling.memory` measures the memory it needs.
- :mod:`~helpers.scaling.moe`: a mixture of experts with top-k routing (Fedus et al. 2022;
  Jiang et al. 2024).
- :mod:`~helpers.scaling.decoder`: a Llama-style decoder from these parts;
  :mod:`~helpers.scaling.export`: the same weights in ``transformers``' Llama or Mixtral.
- :mod:`~helpers.scaling.experiments`: the tiny-GPT sweep, the word-completion task and the
  length-extrapolation evaluation shared by the notebook and ``benchmarks/scaling_*.py``.
"""

from helpers.scaling.attention import GroupedQueryAttention, grouped_attention, repeat_kv
from helpers.scaling.counting import (
    FlopCount,
    ParameterCount,
    TrainingMemory,
    TransformerShape,
    count_parameters,
    flops_per_token,
    kv_cache_bytes,
    shape_of,
    training_memory,
)
from helpers.scaling.decoder import DecoderOutput, ModernBlock, ModernConfig, ModernDecoder
from helpers.scaling.export import to_huggingface
from helpers.scaling.laws import (
    CHINCHILLA_LAW,
    LossSurface,
    PowerLawFit,
    fit_loss_surface,
    fit_power_law,
)
from helpers.scaling.layers import RMSNorm, SwiGLU, swiglu_hidden
from helpers.scaling.memory import MemoryReport, TensorMemory, measure
from helpers.scaling.moe import MoEFeedForward, MoEOutput, expert_load, load_balancing_loss, route
from helpers.scaling.positions import alibi_bias, alibi_slopes, apply_rope, rope_angles, rotate_half
from helpers.scaling.tiled import online_softmax, tiled_attention

__all__ = [
    "CHINCHILLA_LAW",
    "DecoderOutput",
    "FlopCount",
    "GroupedQueryAttention",
    "LossSurface",
    "MemoryReport",
    "ModernBlock",
    "ModernConfig",
    "ModernDecoder",
    "MoEFeedForward",
    "MoEOutput",
    "ParameterCount",
    "PowerLawFit",
    "RMSNorm",
    "SwiGLU",
    "TensorMemory",
    "TrainingMemory",
    "TransformerShape",
    "alibi_bias",
    "alibi_slopes",
    "apply_rope",
    "count_parameters",
    "expert_load",
    "fit_loss_surface",
    "fit_power_law",
    "flops_per_token",
    "grouped_attention",
    "kv_cache_bytes",
    "load_balancing_loss",
    "measure",
    "online_softmax",
    "repeat_kv",
    "rope_angles",
    "rotate_half",
    "route",
    "shape_of",
    "swiglu_hidden",
    "tiled_attention",
    "to_huggingface",
    "training_memory",
]
