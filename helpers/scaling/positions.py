"""Relative positions inside attention: rotary embeddings (RoPE) and linear biases (ALiBi).

**RoPE** (Su et al. 2021, "RoFormer: enhanced transformer with rotary position embedding",
arXiv:2104.09864, section 3.2, equations 13-16 and 34): rotate each pair of dimensions of the
query at position m and of the key at position n by the angles m theta_i and n theta_i, with
theta_i = base^(-2i/d) for i = 0 .. d/2 - 1 (base = 10000). A rotation keeps lengths, and

    <R_m q, R_n k> = <q, R_(n-m) k>

so the score of a query and a key depends on their positions only through n - m. The paper pairs
dimensions (2i, 2i+1); GPT-NeoX, Llama and Hugging Face pair dimension i with i + d/2
(``rotate_half``), which is the same rotation after a fixed permutation of the dimensions, i.e.
of the rows of W^Q and W^K. We use the second layout, so that weights copy into
``transformers``' Llama unchanged; the tests check both against the paper's rotation matrix.

    RoPE(x)_m = x * cos(m theta) + rotate_half(x) * sin(m theta),   rotate_half([x1, x2]) = [-x2, x1]

**ALiBi** (Press, Smith & Lewis 2022, "Train short, test long", ICLR, section 3): no position
embeddings; head h adds -m_h (i - j) to the score of query i and key j <= i. For n heads (a
power of 2) the slopes are the geometric sequence m_h = 2^(-8h/n), h = 1..n: 1/2, 1/4, ...,
1/256 for 8 heads. For other head counts the paper's code takes the slopes of the closest
smaller power of 2 and adds every other slope of the next power of 2.

Precision: like the reference implementations, angles are computed in the dtype of the input
(float32 by default), whose rounding grows with the position (about 1e-4 rad at 2000).
"""

from __future__ import annotations

import math

import torch

__all__ = ["alibi_bias", "alibi_slopes", "apply_rope", "rope_angles", "rotate_half"]


def rope_angles(
    positions: int | torch.Tensor, d_head: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles m theta_i, each (T, d_head) in the half-split layout
    (the d_head/2 angles, then the same angles again).

    ``positions`` is a count T (positions 0..T-1) or a 1-D tensor of positions.

    >>> cos, sin = rope_angles(2, 4)
    >>> sin  # position 1: angles 1 and 1/100 (theta_0 = 1, theta_1 = 10000^(-1/2))
    tensor([[0.0000, 0.0000, 0.0000, 0.0000],
            [0.8415, 0.0100, 0.8415, 0.0100]])
    """
    if not isinstance(d_head, int) or d_head < 2 or d_head % 2:
        raise ValueError(f"d_head={d_head!r} must be an even integer >= 2 (dimensions rotate in pairs)")
    if not base > 1:
        raise ValueError(f"base={base!r} must be greater than 1")
    if isinstance(positions, int):
        positions = torch.arange(positions)
    if positions.ndim != 1:
        raise ValueError(f"positions must be an int or a 1-D tensor, got shape {tuple(positions.shape)}")
    theta = 1.0 / (base ** (torch.arange(0, d_head, 2, dtype=dtype, device=positions.device) / d_head))  # (d/2,)
    angles = positions.to(dtype)[:, None] * theta  # (T, d/2): m theta_i
    angles = torch.cat([angles, angles], dim=-1)  # (T, d): dimension i and i + d/2 share an angle
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[x1, x2] -> [-x2, x1] on the last dimension: a quarter turn of every pair (i, i + d/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys ``x`` (..., T, d_head) by the angles of :func:`rope_angles` (T, d_head)."""
    if x.shape[-1] != cos.shape[-1] or x.shape[-2] != cos.shape[-2] or cos.shape != sin.shape:
        raise ValueError(
            f"x is (..., T, d_head) = {tuple(x.shape)}, but cos/sin are {tuple(cos.shape)}/{tuple(sin.shape)}: "
            "build them with rope_angles(T, d_head)"
        )
    return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The head-specific slopes m_h of ALiBi (float32, shape (n_heads,)).

    >>> alibi_slopes(8) * 256
    tensor([128.,  64.,  32.,  16.,   8.,   4.,   2.,   1.])
    """
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads < 1:
        raise ValueError(f"n_heads={n_heads!r} must be a positive integer")

    def geometric(n: int) -> list[float]:  # 2^(-8/n), 2^(-16/n), ..., 2^(-8)
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = geometric(closest) + geometric(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(slopes: torch.Tensor, t_q: int, t_k: int | None = None) -> torch.Tensor:
    """The biases -m_h (i - j) added to the scores, shape (n_heads, t_q, t_k), in the dtype of
    ``slopes``. The queries are the last t_q of t_k positions (as with a KV cache), so query i
    sits at position i + t_k - t_q. Keys after the query get a positive bias: a causal mask must
    remove them, as in the paper.

    >>> alibi_bias(torch.tensor([0.5]), 3)[0]
    tensor([[ 0.0000,  0.5000,  1.0000],
            [-0.5000,  0.0000,  0.5000],
            [-1.0000, -0.5000,  0.0000]])
    """
    t_k = t_q if t_k is None else t_k
    if t_q < 0 or t_k < t_q:
        raise ValueError(f"need 0 <= t_q <= t_k, got t_q={t_q}, t_k={t_k}")
    if slopes.ndim != 1:
        raise ValueError(f"slopes must be 1-D (one per head), got shape {tuple(slopes.shape)}")
    i = torch.arange(t_k - t_q, t_k, device=slopes.device, dtype=slopes.dtype)[:, None]  # (t_q, 1) query positions
    j = torch.arange(t_k, device=slopes.device, dtype=slopes.dtype)[None, :]  # (1, t_k) key positions
    return slopes[:, None, None] * (j - i)  # (n_heads, t_q, t_k): -m_h (i - j)
