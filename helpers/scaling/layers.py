"""The two small changes modern decoders make to the transformer block: RMSNorm and SwiGLU.

**RMSNorm** (Zhang & Sennrich 2019, "Root mean square layer normalization", NeurIPS,
equation 4): layer norm without the mean and the bias,

    RMSNorm(x) = x / sqrt(mean_i(x_i^2) + eps) * g

cheaper and, in their experiments, as good. Equal to ``torch.nn.RMSNorm`` and to
``transformers``' ``LlamaRMSNorm`` (which, like ours, normalises in float32 for half inputs).

**SwiGLU** (Shazeer 2020, "GLU variants improve transformer", arXiv:2002.05202, equation 6):
a gated feed-forward with three matrices and no biases,

    FFN_SwiGLU(x) = (Swish(x W) * (x V)) W_2,     Swish(z) = z sigmoid(z) (= SiLU)

In Llama's names (``transformers.LlamaMLP``) W is ``gate_proj``, V ``up_proj`` and W_2
``down_proj``. With three matrices instead of two, Shazeer shrinks the hidden width to 2/3 of
4 d_model to keep the parameter count: :func:`swiglu_hidden` does that (rounded up to a
multiple of 8, as Llama rounds to a multiple of 256).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RMSNorm", "SwiGLU", "swiglu_hidden"]


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dimension."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps={eps!r} must be positive (it keeps the division finite)")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # g, the gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float() if dtype in (torch.float16, torch.bfloat16) else x  # the mean of squares in float32
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # 1 / RMS(x), (..., 1)
        return self.weight * (x * rms).to(dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def swiglu_hidden(d_model: int, multiple_of: int = 8) -> int:
    """2/3 of 4 d_model, rounded up to a multiple of ``multiple_of`` (Shazeer 2020, section 2).

    >>> swiglu_hidden(64), swiglu_hidden(4096, multiple_of=256)  # Llama 7B: 11008
    (176, 11008)
    """
    return multiple_of * math.ceil(8 * d_model / 3 / multiple_of)


class SwiGLU(nn.Module):
    """``down_proj(silu(gate_proj(x)) * up_proj(x))``: (..., d_model) -> (..., d_model)."""

    def __init__(self, d_model: int, d_ff: int, bias: bool = False):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)  # W
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)  # V
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)  # W_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (Swish(xW) * xV) W_2
