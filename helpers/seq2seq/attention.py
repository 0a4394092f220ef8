r"""Attention for recurrent encoder-decoders: additive (Bahdanau et al., 2015) and
multiplicative (Luong et al., 2015), each returning its weights so they can be plotted.

A decoder state (the *query*) scores every encoder annotation (the *keys*) with an alignment
model, a softmax over the source positions turns the scores into weights, and the context
vector is the weighted average of the annotations (Bahdanau et al., 2015, Sec. 3.1):

.. math::

    e_{ij} = a(s_{i-1}, h_j), \qquad
    \alpha_{ij} = \frac{\exp e_{ij}}{\sum_{k=1}^{T_x} \exp e_{ik}}, \qquad
    c_i = \sum_{j=1}^{T_x} \alpha_{ij} h_j .

Alignment models implemented:

* additive, Bahdanau et al. (2015), Appendix A.1.2:
  :math:`a(s_{i-1}, h_j) = v_a^\top \tanh(W_a s_{i-1} + U_a h_j)`, no biases, as in the paper;
* dot, Luong et al. (2015), Sec. 3.1, Eq. 8: :math:`\mathrm{score}(h_t, \bar h_s) = h_t^\top \bar h_s`;
* general, the same equation: :math:`h_t^\top W_a \bar h_s`; ``scale`` optionally divides the
  scores by a constant (:math:`\sqrt{d}` gives the scaled dot product of week 5).

Padding: ``mask`` (B, T_x) is True on real source positions; padded positions get weight 0.
Left out: Luong's *local* attention (a window around a predicted position) and its
*location* score, and multi-head attention (week 5, :mod:`helpers.transformer`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdditiveAttention", "DotAttention", "additive_attention", "dot_attention", "masked_softmax"]


def _check_inputs(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None) -> None:
    if query.ndim != 2 or keys.ndim != 3 or query.shape[0] != keys.shape[0]:
        raise ValueError(
            f"query must be (B, d_q) and keys (B, T_x, d_k) with the same B; got "
            f"{tuple(query.shape)} and {tuple(keys.shape)}"
        )
    if mask is not None:
        if mask.shape != keys.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(keys.shape[:2])} (True = real "
                f"position), got {mask.dtype} {tuple(mask.shape)}"
            )


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis where ``mask`` is True; masked entries get exactly 0.

    >>> masked_softmax(torch.tensor([[1.0, 1.0, 5.0]]), torch.tensor([[True, True, False]]))
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("every row of mask needs at least one True entry (an empty source has nothing to attend to)")
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def additive_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    W_a: torch.Tensor,  # noqa: N803 - the paper's symbols
    U_a: torch.Tensor,  # noqa: N803
    v_a: torch.Tensor,
    mask: torch.Tensor | None = None,
    Uh: torch.Tensor | None = None,  # noqa: N803
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Bahdanau attention with explicit weights: returns ``(context, weights)``.

    ``query`` :math:`s_{i-1}` (B, n), ``keys`` :math:`h_j` (B, T_x, d_k), ``W_a`` (n', n),
    ``U_a`` (n', d_k), ``v_a`` (n',) -> context (B, d_k) and weights (B, T_x), where
    :math:`e_{ij} = v_a^\top \tanh(W_a s_{i-1} + U_a h_j)`. ``Uh`` may hold
    :math:`U_a h_j` (B, T_x, n') computed once per source: it does not depend on the output
    step i, and Bahdanau et al. (A.1.2) pre-compute it to save computation.
    """
    _check_inputs(query, keys, mask)
    # W_a s_{i-1}: (B, n'), broadcast over the source positions
    Ws = query @ W_a.T  # (B, n')
    if Uh is None:
        Uh = keys @ U_a.T  # U_a h_j for every j: (B, T_x, n')
    e = torch.tanh(Ws.unsqueeze(1) + Uh) @ v_a  # (B, T_x)
    alpha = masked_softmax(e, mask)  # (B, T_x)
    context = torch.bmm(alpha.unsqueeze(1), keys).squeeze(1)  # (B, d_k)
    return context, alpha


def dot_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    mask: torch.Tensor | None = None,
    W_a: torch.Tensor | None = None,  # noqa: N803
    scale: float | None = None,
    Wh: torch.Tensor | None = None,  # noqa: N803
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Luong attention: ``score = h_t^T h_s`` ("dot") or ``h_t^T W_a h_s`` ("general", when
    ``W_a`` (d_q, d_k) is given), divided by ``scale`` if given. Returns ``(context, weights)``.
    ``Wh`` may hold :math:`W_a \bar h_s` (B, T_x, d_q), computed once per source.
    """
    _check_inputs(query, keys, mask)
    if Wh is not None:
        projected = Wh
    else:
        projected = keys if W_a is None else keys @ W_a.T  # (B, T_x, d_q)
    if projected.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"dot attention needs query and keys of one size, got {query.shape[-1]} and "
            f"{projected.shape[-1]}: pass W_a ('general' score) to map one onto the other"
        )
    scores = torch.bmm(projected, query.unsqueeze(2)).squeeze(2)  # (B, T_x)
    if scale is not None:
        scores = scores / scale
    alpha = masked_softmax(scores, mask)  # (B, T_x)
    context = torch.bmm(alpha.unsqueeze(1), keys).squeeze(1)  # (B, d_k)
    return context, alpha


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015) attention with parameters ``W_a``, ``U_a``, ``v_a`` (``nn.Linear``
    without bias). ``forward(query, keys, mask=None) -> (context, weights)``."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("attn_dim", attn_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        self.W_a = nn.Linear(query_dim, attn_dim, bias=False)
        self.U_a = nn.Linear(key_dim, attn_dim, bias=False)
        self.v_a = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """:math:`U_a h_j` for every source position, (B, T_x, n'): compute it once per source
        and pass it to :meth:`forward` at every output step."""
        return self.U_a(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ):
        return additive_attention(
            query, keys, self.W_a.weight, self.U_a.weight, self.v_a.weight[0], mask, Uh=projected_keys
        )


class DotAttention(nn.Module):
    """Luong et al. (2015) global attention: the "dot" score, or "general" when
    ``general=True`` (a learned ``W_a``, needed when query and key sizes differ).
    ``scaled=True`` divides the scores by sqrt(query size). Returns ``(context, weights)``."""

    def __init__(self, query_dim: int, key_dim: int, general: bool = False, scaled: bool = False):
        super().__init__()
        if not general and query_dim != key_dim:
            raise ValueError(
                f"the dot score needs query_dim == key_dim, got {query_dim} and {key_dim}: use general=True"
            )
        self.W_a = nn.Linear(key_dim, query_dim, bias=False) if general else None
        self.scale = float(query_dim) ** 0.5 if scaled else None

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """The keys as the score sees them, (B, T_x, d_q): :math:`W_a \bar h_s` or the keys."""
        return keys if self.W_a is None else self.W_a(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ):
        W_a = None if self.W_a is None else self.W_a.weight
        return dot_attention(query, keys, mask, W_a=W_a, scale=self.scale, Wh=projected_keys)

