"""Attention as the transformer uses it: scaled dot-product and multi-head self-attention.

Implements, from Vaswani et al. 2017, "Attention is all you need" (NeurIPS):

- scaled dot-product attention (section 3.2.1, equation 1),
  ``Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V``, returning its weights for plotting;
- multi-head attention (section 3.2.2), ``MultiHead(X) = Concat(head_1..head_h) W^O`` with
  ``head_i = Attention(X W_i^Q, X W_i^K, X W_i^V)``, as self-attention with an optional causal
  mask (section 3.2.3: "masking out ... all values ... which correspond to illegal connections");

Conventions: batch first; a boolean mask is True where attending is allowed (the convention of
``torch.nn.functional.scaled_dot_product_attention``; ``torch.nn.MultiheadAttention`` uses the
opposite one, True = blocked). A query row that may attend to nothing gets zero weights and a
zero output, as in ``torch.nn.functional.scaled_dot_product_attention`` (PyTorch >= 2.5).

Left out: encoder-decoder cross-attention (see week 4 for attention between two sequences),
relative or rotary positions (week 7). Positions are in :mod:`helpers.transformer.positions`,
the block in :mod:`helpers.transformer.block`, the GPT built from them in
:mod:`helpers.transformer.gpt`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KV", "AttentionResult", "MultiHeadAttention", "causal_mask", "scaled_dot_product_attention"]

KV = tuple[torch.Tensor, torch.Tensor]  # keys and values, each (B, nh, T, hs)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d_k) + mask) v`` and the attention weights.

    q is (..., T_q, d_k), k is (..., T_k, d_k), v is (..., T_k, d_v). ``mask`` broadcasts to
    (..., T_q, T_k): boolean (True = may attend) or float (added to the scores). ``scale``
    replaces ``1 / sqrt(d_k)``. Returns the output (..., T_q, d_v) and the weights
    (..., T_q, T_k), whose rows sum to 1 (0 for a row that may attend to nothing).

    >>> q = k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> out, w = scaled_dot_product_attention(q, k, torch.eye(2), mask=causal_mask(2))
    >>> w  # the first query sees only itself
    tensor([[1.0000, 0.0000],
            [0.3302, 0.6698]])
    """
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"q, k and v need shape (..., T, d), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    d_k = q.shape[-1]
    if k.shape[-1] != d_k or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k must be (..., T_k, {d_k}) and v (..., T_k, d_v); got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., T_q, T_k)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask.is_floating_point():
            scores = scores + mask
        else:
            raise ValueError(f"mask must be boolean (True = may attend) or float (added), got {mask.dtype}")
    # A row with no allowed key would be softmax(-inf, ..., -inf) = NaN: give it zero weights.
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
    return weights @ v, weights


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (t_q, t_k) mask, True where query i may attend to key j.

    The queries are the *last* t_q of the t_k positions (so a single new query with a cache of
    t_k - 1 keys sees everything): key j is allowed for query i when j <= i + (t_k - t_q).

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    t_k = t_q if t_k is None else t_k
    if t_q < 0 or t_k < t_q:
        raise ValueError(f"need 0 <= t_q <= t_k, got t_q={t_q}, t_k={t_k}")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


class AttentionResult(NamedTuple):
    output: torch.Tensor  # (B, T, d_model)
    weights: torch.Tensor | None  # (B, nh, T, T_k), None on the fast path
    kv: KV | None  # keys and values of every position so far, each (B, nh, T_k, hs): the next step's cache


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with projections ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``.

    ``forward(x, mask=None, causal=False)`` maps x (B, T, d_model) to (B, T, d_model). ``mask``
    is boolean, True where attending is allowed, shaped (T, T), (B, T, T) or (B, n_heads, T, T)
    (a key-padding mask ``keep`` of shape (B, T) is ``keep[:, None, :]``). ``fast=True`` calls
    ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, no weights returned).
    Equal to ``torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)`` with the same
    weights: see :meth:`from_torch`.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, fast: bool = False):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be a multiple of n_heads={n_heads} (n_heads >= 1)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} must be in [0, 1)")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.dropout, self.fast = dropout, fast
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)  # W^Q of all heads side by side
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)  # W^K
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)  # W^V
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W^O

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        return self.attend(x, mask=mask, causal=causal).output

    def attend(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        past_kv: KV | None = None,
        need_weights: bool = False,
    ) -> AttentionResult:
        """Attention with everything a caller may want: the output, the weights (always on the
        readable path; on the fast path only with ``need_weights=True``, which then takes the
        readable path) and the keys/values of all positions so far.

        ``past_kv`` holds the keys and values of earlier positions (the KV cache): the T rows of
        ``x`` are then positions past_len .. past_len + T - 1, and ``mask``, if given, must be
        (..., T, past_len + T).
        """
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        B, T, C = x.shape
        nh, hs = self.n_heads, self.d_k
        q = self.q_proj(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = self.v_proj(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        if past_kv is not None:
            k = torch.cat([past_kv[0], k], dim=2)  # (B, nh, T_k, hs)
            v = torch.cat([past_kv[1], v], dim=2)  # (B, nh, T_k, hs)
        T_k = k.shape[2]
        # the fused kernel builds this mask itself; without a cache T == T_k (a plain bool while tracing)
        only_causal = causal and mask is None and (past_kv is None or T == T_k)
        mask = self._full_mask(mask, causal, T, T_k, x.device)  # (B or 1, nh or 1, T, T_k) or None
        dropout_p = self.dropout if self.training else 0.0
        if self.fast and not need_weights:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if only_causal else mask, dropout_p=dropout_p, is_causal=only_causal
            )  # (B, nh, T, hs)
            weights = None
        else:
            y, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, nh, T, hs), (B, nh, T, T_k)
            if dropout_p > 0:
                y = F.dropout(weights, p=dropout_p) @ v  # dropout on the weights, as torch does
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh * hs): Concat(head_1, ..., head_h)
        return AttentionResult(self.out_proj(y), weights, (k, v))

    @staticmethod
    def _full_mask(mask, causal, T, T_k, device) -> torch.Tensor | None:
        """The user's mask (as 4-D) combined with the causal mask; None when there is neither."""
        if mask is not None:
            if mask.dtype != torch.bool:
                raise ValueError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}")
            if mask.ndim == 2:
                mask = mask[None, None]  # (1, 1, T, T_k)
            elif mask.ndim == 3:
                mask = mask[:, None]  # (B, 1, T, T_k)
            if mask.ndim != 4 or mask.shape[-1] != T_k or mask.shape[-2] not in (1, T):
                raise ValueError(
                    f"mask must be (T, T_k), (B, T, T_k) or (B, n_heads, T, T_k) with T={T}, T_k={T_k}; "
                    f"got shape {tuple(mask.shape)}"
                )
            mask = mask.to(device)
        if causal:
            tril = causal_mask(T, T_k, device=device)[None, None]  # (1, 1, T, T_k)
            mask = tril if mask is None else mask & tril
        return mask

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention, fast: bool = False) -> MultiHeadAttention:
        """A copy of ``torch.nn.MultiheadAttention``'s weights in this class.

        torch keeps W^Q, W^K, W^V stacked in ``in_proj_weight`` (3 d_model, d_model), in that order.
        """
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise ValueError("only torch.nn.MultiheadAttention without kdim/vdim, add_bias_kv, add_zero_attn")
        bias = module.in_proj_bias is not None
        ours = cls(module.embed_dim, module.num_heads, dropout=module.dropout, bias=bias, fast=fast)
        ours = ours.to(device=module.in_proj_weight.device, dtype=module.in_proj_weight.dtype)
        with torch.no_grad():
            for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
                rows = slice(i * module.embed_dim, (i + 1) * module.embed_dim)
                proj.weight.copy_(module.in_proj_weight[rows])
                if bias:
                    proj.bias.copy_(module.in_proj_bias[rows])
            ours.out_proj.weight.copy_(module.out_proj.weight)
            if bias:
                ours.out_proj.bias.copy_(module.out_proj.bias)
        return ours
