"""The transformer block (Vaswani et al. 2017, section 3.3): attention and a position-wise
feed-forward network, each wrapped in a residual connection with layer normalisation, either
after the residual sum as in the paper ("post-LN") or before the sub-layer as in GPT-2
(Radford et al. 2019, section 2.3; "pre-LN", analysed by Xiong et al. 2020, ICML)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.transformer.attention import KV, AttentionResult, MultiHeadAttention

__all__ = ["BlockResult", "FeedForward", "TransformerBlock"]


class FeedForward(nn.Module):
    """Position-wise feed-forward network (section 3.3): ``fc2(dropout(GELU(fc1(x))))``.

    The paper uses ReLU; GPT (Radford et al. 2018) and BERT use GELU (Hendrycks & Gimpel 2016).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff, bias=bias)
        self.fc2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class BlockResult(NamedTuple):
    output: torch.Tensor  # (B, T, d_model)
    weights: torch.Tensor | None  # (B, nh, T, T_k)
    kv: KV | None  # this block's keys and values so far


class TransformerBlock(nn.Module):
    """Self-attention and feed-forward sub-layers with residuals and layer normalisation.

    pre-LN (``norm_first=True``, GPT-2):  x = x + Drop(MHA(LN_1(x)));  x = x + Drop(FFN(LN_2(x)))
    post-LN (``norm_first=False``, the paper): x = LN_1(x + Drop(MHA(x)));  x = LN_2(x + Drop(FFN(x)))

    Equal to ``torch.nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu",
    batch_first=True, norm_first=...)`` given the same weights. ``d_ff`` defaults to 4 d_model
    (the paper: d_ff = 2048 for d_model = 512). ``residual=False`` and ``layer_norm=False`` remove
    the skip connections (He et al. 2016) or the layer norms (Ba et al. 2016) for ablations.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        norm_first: bool = True,
        bias: bool = True,
        fast: bool = False,
        eps: float = 1e-5,
        attention: nn.Module | None = None,
        residual: bool = True,
        layer_norm: bool = True,
    ):
        super().__init__()
        self.norm_first = norm_first
        # Ablations only (week 5's section on why blocks are built this way): residual=False drops
        # the "x +" of both sub-layers, layer_norm=False replaces both layer norms by the identity.
        self.residual = residual
        # ``attention``: a module of your own whose forward(x) is causal self-attention (to try an
        # exercise solution inside a real model); it runs without masks, KV cache or weights.
        self.attn = attention if attention is not None else MultiHeadAttention(d_model, n_heads, dropout, bias, fast)
        self.ff = FeedForward(d_model, d_ff or 4 * d_model, dropout=dropout, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=eps, bias=bias) if layer_norm else nn.Identity()
        self.norm2 = nn.LayerNorm(d_model, eps=eps, bias=bias) if layer_norm else nn.Identity()
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        return self.run(x, mask=mask, causal=causal).output

    def run(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        past_kv: KV | None = None,
        need_weights: bool = False,
    ) -> BlockResult:
        """The block with a KV cache and the attention weights (see MultiHeadAttention.attend)."""
        r = 1.0 if self.residual else 0.0  # the skip connection's weight: 0 only in the ablation
        if self.norm_first:
            a = self._attend(self.norm1(x), mask, causal, past_kv, need_weights)
            x = r * x + self.dropout1(a.output)
            x = r * x + self.dropout2(self.ff(self.norm2(x)))
        else:
            a = self._attend(x, mask, causal, past_kv, need_weights)
            x = self.norm1(r * x + self.dropout1(a.output))
            x = self.norm2(r * x + self.dropout2(self.ff(x)))
        return BlockResult(x, a.weights, a.kv)

    def _attend(self, x, mask, causal, past_kv, need_weights) -> AttentionResult:
        if isinstance(self.attn, MultiHeadAttention):
            return self.attn.attend(x, mask, causal, past_kv, need_weights)
        if mask is not None or not causal or past_kv is not None or need_weights:
            raise ValueError(
                f"this block's attention is a custom {type(self.attn).__name__}, which runs only as causal "
                "self-attention without a mask, KV cache or weights: call with causal=True "
                "(for generation: use_cache=False)"
            )
        return AttentionResult(self.attn(x), None, None)
