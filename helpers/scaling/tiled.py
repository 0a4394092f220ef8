"""Attention in tiles with an online softmax: the idea of FlashAttention, in plain PyTorch.

Plain attention computes the T_q x T_k matrix of scores, its softmax, then the weighted sum of
the values: memory quadratic in the length. Milakov & Gimelshein (2018, "Online normalizer
calculation for softmax", arXiv:1805.02867, Algorithm 3) compute the softmax normaliser in one
pass, keeping a running maximum m and a running sum l that is rescaled whenever the maximum
grows. Dao et al. (2022, "FlashAttention", NeurIPS, Algorithm 1; FlashAttention-2, Dao 2023,
Algorithm 1) apply it to attention: for each block of queries, read the keys and values in
blocks and keep, per query row, m, l and an unnormalised output o:

    s = q_i K_j^T / sqrt(d)                     (block_q x block_k scores: the only matrix)
    m' = max(m, rowmax(s))
    p = exp(s - m');   c = exp(m - m')           (c rescales what was summed under the old max)
    l' = c l + rowsum(p);   o' = c o + p V_j
    output_i = o / l                             (after the last block)

The result equals softmax(q k^T / sqrt(d)) v up to rounding (tests: float64 to 1e-10, float32 to
1e-5), for any block sizes, with and without a causal mask, with a key-padding mask and with
ALiBi biases (computed per block from the positions, so nothing of size T_q x T_k exists). Extra
memory is the output plus O(block_q (d + block_k)) per batch and head: linear in the length
(measured in tests/scaling/test_tiled.py with :mod:`helpers.scaling.memory`). With a causal mask,
blocks of keys entirely in a query block's future are skipped (about half the work).

Left out: the speed. FlashAttention is fast because its tiles live in a GPU's on-chip memory
and the whole loop is one fused kernel; here every block is a few PyTorch calls, so this is
slower than ``torch.nn.functional.scaled_dot_product_attention``. Also left out: FlashAttention's
backward pass, which recomputes the blocks instead of storing them: autograd through this
function works but keeps every block (memory quadratic in the length again) and dropout.
"""

from __future__ import annotations

import math

import torch

__all__ = ["online_softmax", "tiled_attention"]


def online_softmax(x: torch.Tensor, block_size: int = 64) -> torch.Tensor:
    """softmax over the last dimension, reading it in blocks with a running max and sum
    (Milakov & Gimelshein 2018, Algorithm 3): one pass for the normaliser, one for the output.

    >>> x = torch.tensor([1.0, 2.0, 3.0, 1000.0])
    >>> torch.equal(online_softmax(x, block_size=3), torch.softmax(x, dim=-1))
    True
    """
    _check_block("block_size", block_size)
    m = torch.full(x.shape[:-1] + (1,), float("-inf"), dtype=x.dtype, device=x.device)  # running max
    l = torch.zeros_like(m)  # running sum of exp(x - m)  # noqa: E741 - the paper's symbol
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j : j + block_size]
        m_new = torch.maximum(m, block.amax(dim=-1, keepdim=True))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new).sum(dim=-1, keepdim=True)  # noqa: E741
        m = m_new
    return torch.exp(x - m) / l


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    key_mask: torch.Tensor | None = None,
    alibi_slopes: torch.Tensor | None = None,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
) -> torch.Tensor:
    """``softmax(q k^T * scale + bias) v`` computed block by block, never the whole matrix.

    q is (..., T_q, d), k is (..., T_k, d), v is (..., T_k, d_v), with the same leading
    dimensions. ``causal``: query i (the last T_q of the T_k positions, as with a KV cache) sees
    keys j <= i + T_k - T_q. ``key_mask`` (broadcastable to (..., T_k), boolean, True = may
    attend) removes keys such as padding. ``alibi_slopes`` (n_heads,) adds -m_h (i - j) to the
    scores of head h (dimension -3 of q). ``scale`` defaults to 1 / sqrt(d). A query that may
    attend to no key gets a zero output, as in :func:`helpers.transformer.scaled_dot_product_attention`.
    Returns (..., T_q, d_v).
    """
    _check_block("block_q", block_q)
    _check_block("block_k", block_k)
    if q.ndim < 2 or k.shape[:-1] != v.shape[:-1] or q.shape[:-2] != k.shape[:-2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q must be (..., T_q, d), k (..., T_k, d) and v (..., T_k, d_v) with the same leading dimensions; "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    T_q, T_k = q.shape[-2], k.shape[-2]
    if causal and T_q > T_k:
        raise ValueError(f"a causal mask needs T_q <= T_k (the queries are the last positions), got {T_q} > {T_k}")
    if key_mask is not None:
        if key_mask.dtype != torch.bool or key_mask.shape[-1] != T_k:
            raise ValueError(f"key_mask must be boolean with last dimension T_k={T_k}, got {key_mask.dtype} {tuple(key_mask.shape)}")
        key_mask = key_mask.to(q.device)[..., None, :]  # (..., 1, T_k): broadcasts over the queries
    if alibi_slopes is not None:
        if q.ndim < 3 or alibi_slopes.shape != (q.shape[-3],):
            raise ValueError(f"alibi_slopes must have one slope per head ({q.shape[-3] if q.ndim > 2 else '?'}), got {tuple(alibi_slopes.shape)}")
        slopes = alibi_slopes.to(device=q.device, dtype=q.dtype)[:, None, None]  # (nh, 1, 1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    offset = T_k - T_q  # query i sits at position i + offset
    outputs = []
    for i0 in range(0, T_q, block_q):
        i1 = min(i0 + block_q, T_q)
        q_i = q[..., i0:i1, :] * scale  # (..., bq, d)
        m = torch.full(q_i.shape[:-1] + (1,), float("-inf"), dtype=q.dtype, device=q.device)  # running max (..., bq, 1)
        l = torch.zeros_like(m)  # running sum  # noqa: E741 - the paper's symbol
        o = torch.zeros(q_i.shape[:-1] + (v.shape[-1],), dtype=v.dtype, device=q.device)  # unnormalised output (..., bq, d_v)
        rows = torch.arange(i0 + offset, i1 + offset, device=q.device)[:, None]  # (bq, 1) query positions
        k_end = min(T_k, i1 + offset) if causal else T_k  # later keys are all in this block's future
        for j0 in range(0, k_end, block_k):
            j1 = min(j0 + block_k, k_end)
            s = q_i @ k[..., j0:j1, :].transpose(-2, -1)  # (..., bq, bk)
            cols = torch.arange(j0, j1, device=q.device)[None, :]  # (1, bk) key positions
            if alibi_slopes is not None:
                s = s - slopes * (rows - cols).to(q.dtype)  # -m_h (i - j)
            if causal and j1 - 1 > i0 + offset:  # the block crosses the diagonal
                s = s.masked_fill(cols > rows, float("-inf"))
            if key_mask is not None:
                s = s.masked_fill(~key_mask[..., j0:j1], float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (..., bq, 1)
            m_safe = m_new.masked_fill(torch.isneginf(m_new), 0.0)  # rows with no key yet: exp(-inf - 0) = 0
            p = torch.exp(s - m_safe)  # (..., bq, bk)
            c = torch.exp(m - m_safe)  # rescale the old sums to the new maximum
            l = c * l + p.sum(dim=-1, keepdim=True)  # noqa: E741
            o = c * o + p @ v[..., j0:j1, :]  # (..., bq, d_v)
            m = m_new
        outputs.append(torch.where(l > 0, o / l.clamp(min=torch.finfo(l.dtype).tiny), 0.0))  # (..., bq, d_v)
    if not outputs:  # T_q = 0
        return q.new_zeros(q.shape[:-1] + (v.shape[-1],))
    return torch.cat(outputs, dim=-2)  # (..., T_q, d_v)


def _check_block(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer (the number of rows in a tile)")
