"""Week 5: the transformer. Attention and multi-head attention (equal to PyTorch's),
positional encodings, the block (pre-LN and post-LN), a mini-GPT with a KV cache, and its
export to Hugging Face's ``GPT2LMHeadModel``. Sampling from it goes through the course's
decoding library, :mod:`helpers.decoding` (week 9).

:mod:`~helpers.transformer.attention` and :mod:`~helpers.transformer.positions` <-
:mod:`~helpers.transformer.block` <- :mod:`~helpers.transformer.gpt` <-
:mod:`~helpers.transformer.export` and :mod:`~helpers.transformer.ablations` (small trained
ablations: no residual, no layer norm, post-LN, warm-up, positions).
"""

from helpers.transformer.ablations import AblationRun, run_ablations, train_variant
from helpers.transformer.attention import (
    KV,
    AttentionResult,
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from helpers.transformer.block import BlockResult, FeedForward, TransformerBlock
from helpers.transformer.export import to_huggingface
from helpers.transformer.gpt import (
    GPT,
    GPTConfig,
    GPTOutput,
    evaluate_loss,
    lm_loss,
)
from helpers.transformer.positions import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)

__all__ = [
    "GPT", "KV", "AblationRun", "AttentionResult", "BlockResult", "FeedForward", "GPTConfig", "GPTOutput",
    "LearnedPositionalEncoding", "MultiHeadAttention", "SinusoidalPositionalEncoding", "TransformerBlock",
    "causal_mask", "evaluate_loss", "lm_loss", "run_ablations", "scaled_dot_product_attention",
    "sinusoidal_encoding", "to_huggingface", "train_variant",
]  # fmt: skip
