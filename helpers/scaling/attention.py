"""Grouped-query self-attention with rotary or ALiBi positions and a KV cache.

Grouped-query attention (Ainslie et al. 2023, "GQA: training generalized multi-query
transformer models from multi-head checkpoints", EMNLP, section 2.2): the n_head query heads
share n_kv_head key/value heads, n_head / n_kv_head queries per group; query head h reads
key/value head h // (n_head / n_kv_head). n_kv_head = n_head is multi-head attention (Vaswani
et al. 2017), n_kv_head = 1 multi-query attention (Shazeer 2019). The KV cache keeps only the
n_kv_head heads, so it shrinks by n_head / n_kv_head; the queries' cost does not change.

Positions: ``"rope"`` rotates queries and keys (:func:`helpers.scaling.positions.apply_rope`)
before the keys enter the cache; ``"alibi"`` adds -m_h (i - j) to the scores; anything else
(learned or sinusoidal embeddings added to the input, or none) leaves attention untouched.

Three implementations of the same softmax(q k^T / sqrt(d_head) + bias) v, tested equal:
``"plain"`` (the readable one of week 5, which returns the weights), ``"tiled"``
(:func:`helpers.scaling.tiled.tiled_attention`, memory linear in the length) and ``"fast"``
(``torch.nn.functional.scaled_dot_product_attention``, PyTorch's fused kernels).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.scaling.positions import alibi_bias, alibi_slopes, apply_rope, rope_angles
from helpers.scaling.tiled import tiled_attention
from helpers.transformer.attention import causal_mask, scaled_dot_product_attention

__all__ = ["IMPLEMENTATIONS", "GQAResult", "GroupedQueryAttention", "grouped_attention", "repeat_kv"]

IMPLEMENTATIONS = ("plain", "tiled", "fast")
KV = tuple[torch.Tensor, torch.Tensor]  # keys and values, each (B, n_kv_head, T, d_head)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, n_kv, T, d) -> (B, n_kv * n_rep, T, d): each key/value head serves n_rep query heads."""
    if n_rep == 1:
        return x
    B, n_kv, T, d = x.shape
    return x[:, :, None].expand(B, n_kv, n_rep, T, d).reshape(B, n_kv * n_rep, T, d)  # (B, nh, T, d)


def grouped_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = True,
    slopes: torch.Tensor | None = None,
    implementation: str = "plain",
    block_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention of q (B, n_head, T_q, d) over k, v (B, n_kv_head, T_k, d); the queries are the
    last T_q positions. ``slopes``: ALiBi slopes per query head. Returns the output
    (B, n_head, T_q, d) and, for ``implementation="plain"``, the weights (B, n_head, T_q, T_k)."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation={implementation!r} must be one of {IMPLEMENTATIONS}")
    n_head, n_kv = q.shape[1], k.shape[1]
    if n_head % n_kv:
        raise ValueError(f"{n_kv} key/value heads cannot be shared by {n_head} query heads")
    T_q, T_k = q.shape[2], k.shape[2]
    if implementation == "tiled":
        k, v = repeat_kv(k, n_head // n_kv), repeat_kv(v, n_head // n_kv)  # (B, nh, T_k, d): still linear in T
        out = tiled_attention(q, k, v, causal=causal, alibi_slopes=slopes, block_q=block_size, block_k=block_size)
        return out, None
    bias = None
    if slopes is not None:
        bias = alibi_bias(slopes.to(q.dtype), T_q, T_k)[None]  # (1, nh, T_q, T_k)
    if causal:
        allowed = causal_mask(T_q, T_k, device=q.device)  # (T_q, T_k)
        bias = allowed if bias is None else bias.masked_fill(~allowed, float("-inf"))
    if implementation == "fast":
        only_causal = causal and slopes is None and T_q == T_k
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None if only_causal else bias, is_causal=only_causal, enable_gqa=n_kv != n_head
        )  # (B, nh, T_q, d)
        return out, None
    k, v = repeat_kv(k, n_head // n_kv), repeat_kv(v, n_head // n_kv)  # (B, nh, T_k, d)
    return scaled_dot_product_attention(q, k, v, bias)


class GQAResult(NamedTuple):
    output: torch.Tensor  # (B, T, d_model)
    weights: torch.Tensor | None  # (B, n_head, T, T_k) on the plain path
    kv: KV  # keys (after RoPE) and values of every position so far: the next step's cache


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with ``n_head`` query and ``n_kv_head`` key/value heads, no biases
    (Llama's layout: ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``)."""

    def __init__(
        self,
        d_model: int,
        n_head: int,
        n_kv_head: int | None = None,
        position: str = "rope",
        rope_base: float = 10000.0,
        implementation: str = "plain",
        block_size: int = 64,
    ):
        super().__init__()
        n_kv_head = n_head if n_kv_head is None else n_kv_head
        if n_head < 1 or d_model % n_head:
            raise ValueError(f"d_model={d_model} must be a multiple of n_head={n_head}")
        if n_kv_head < 1 or n_head % n_kv_head:
            raise ValueError(f"n_kv_head={n_kv_head} must divide n_head={n_head} (1 = multi-query, n_head = multi-head)")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation={implementation!r} must be one of {IMPLEMENTATIONS}")
        self.n_head, self.n_kv_head, self.d_head = n_head, n_kv_head, d_model // n_head
        self.position, self.rope_base = position, rope_base
        self.implementation, self.block_size = implementation, block_size
        self.q_proj = nn.Linear(d_model, n_head * self.d_head, bias=False)  # W^Q
        self.k_proj = nn.Linear(d_model, n_kv_head * self.d_head, bias=False)  # W^K, n_kv_head heads
        self.v_proj = nn.Linear(d_model, n_kv_head * self.d_head, bias=False)  # W^V
        self.o_proj = nn.Linear(n_head * self.d_head, d_model, bias=False)  # W^O
        if position == "alibi":
            self.register_buffer("slopes", alibi_slopes(n_head), persistent=False)

    def forward(self, x: torch.Tensor, past_kv: KV | None = None, need_weights: bool = False) -> GQAResult:
        """x (B, T, d_model) holds positions past_len .. past_len + T - 1, where past_len is the
        length of ``past_kv``. ``need_weights`` takes the plain path and returns the weights."""
        B, T, C = x.shape
        nh, nkv, hs = self.n_head, self.n_kv_head, self.d_head
        past_len = 0 if past_kv is None else past_kv[0].shape[2]
        q = self.q_proj(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if self.position == "rope":
            positions = torch.arange(past_len, past_len + T, device=x.device)
            cos, sin = rope_angles(positions, hs, self.rope_base, dtype=x.dtype)  # (T, hs) each
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past_kv is not None:
            k = torch.cat([past_kv[0], k], dim=2)  # (B, nkv, T_k, hs)
            v = torch.cat([past_kv[1], v], dim=2)
        implementation = "plain" if need_weights else self.implementation
        slopes = self.slopes if self.position == "alibi" else None
        y, weights = grouped_attention(q, k, v, True, slopes, implementation, self.block_size)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, nh * hs): the heads side by side
        return GQAResult(self.o_proj(y), weights, (k, v))
