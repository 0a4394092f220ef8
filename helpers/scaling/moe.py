"""A mixture-of-experts feed-forward with top-k routing and the load-balancing loss.

Shazeer et al. 2017 ("Outrageously large neural networks", ICLR) replace one feed-forward by
n experts and a router; Switch Transformers (Fedus, Zoph & Shazeer 2022, JMLR, section 2) send
each token to one expert, Mixtral (Jiang et al. 2024, "Mixtral of experts", section 2.1) to the
top 2 of 8. For a token x, with router weights W_g (n_experts x d_model):

    p = softmax(W_g x)                              router probabilities (in float32)
    T = the top_k experts by p;  w_e = p_e / sum_{e' in T} p_e'    (Mixtral renormalises)
    y = sum_{e in T} w_e SwiGLU_e(x)

A token costs top_k feed-forwards, whatever n_experts is: parameters grow with n_experts,
FLOPs per token with top_k (see :func:`helpers.scaling.flops_per_token`).

Nothing stops the router from sending every token to the same expert. The auxiliary
load-balancing loss (Fedus et al. 2022, equations 4-6) is

    loss = n_experts * sum_e f_e P_e,   f_e = share of routing slots given to e,  P_e = mean p_e

minimal (= top_k) when both are uniform. As in ``transformers``' Mixtral
(``load_balancing_loss_func``), f_e counts all top_k choices (so sum_e f_e = top_k) and the rows
of every layer are pooled. Equal to ``transformers.MixtralSparseMoeBlock`` given the same
weights, outputs and router logits (tests/scaling/test_moe.py).

Left out: expert capacity and dropped tokens (Fedus et al. 2022, section 2.2), router z-loss,
router noise, padding masks in the loss, and expert parallelism (the reason MoE is fast at scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from helpers.scaling.layers import SwiGLU

__all__ = ["MoEFeedForward", "MoEOutput", "expert_load", "load_balancing_loss", "route"]


def route(router_logits: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top_k experts of each row of ``router_logits`` (N, n_experts) and their renormalised
    weights: (weights (N, top_k) in float32, experts (N, top_k))."""
    probs = torch.softmax(router_logits.float(), dim=-1)  # (N, E)
    weights, experts = torch.topk(probs, top_k, dim=-1)  # (N, k) each
    return weights / weights.sum(dim=-1, keepdim=True), experts


def expert_load(experts: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Share of the routing slots that went to each expert (sums to 1), shape (n_experts,)."""
    return torch.bincount(experts.flatten(), minlength=n_experts).float() / experts.numel()


def load_balancing_loss(
    router_logits: torch.Tensor | Sequence[torch.Tensor], n_experts: int, top_k: int
) -> torch.Tensor:
    """n_experts * sum_e f_e P_e over the rows of one layer's logits (N, n_experts), or of a
    sequence of layers' logits pooled together (as Mixtral does)."""
    logits = torch.cat(list(router_logits)) if not isinstance(router_logits, torch.Tensor) else router_logits
    if logits.ndim != 2 or logits.shape[-1] != n_experts:
        raise ValueError(f"router logits must be (N, n_experts={n_experts}), got {tuple(logits.shape)}")
    probs = torch.softmax(logits.float(), dim=-1)  # (N, E)
    _, experts = torch.topk(probs, top_k, dim=-1)  # (N, k)
    f = torch.bincount(experts.flatten(), minlength=n_experts).float() / len(logits)  # slots per token, sums to k
    P = probs.mean(dim=0)  # (E,) mean router probability
    return n_experts * (f * P).sum()


class MoEOutput(NamedTuple):
    output: torch.Tensor  # (B, T, d_model)
    router_logits: torch.Tensor  # (B * T, n_experts)
    load: torch.Tensor  # (n_experts,) share of routing slots per expert


class MoEFeedForward(nn.Module):
    """``n_experts`` SwiGLU feed-forwards and a router that sends each token to ``top_k`` of them."""

    def __init__(self, d_model: int, d_ff: int, n_experts: int, top_k: int = 2):
        super().__init__()
        if not isinstance(n_experts, int) or n_experts < 1 or not isinstance(top_k, int) or not 1 <= top_k <= n_experts:
            raise ValueError(f"need n_experts >= 1 and 1 <= top_k <= n_experts, got n_experts={n_experts}, top_k={top_k}")
        self.n_experts, self.top_k = n_experts, top_k
        self.router = nn.Linear(d_model, n_experts, bias=False)  # W_g
        self.experts = nn.ModuleList(SwiGLU(d_model, d_ff) for _ in range(n_experts))

    def forward(self, x: torch.Tensor) -> MoEOutput:
        B, T, C = x.shape
        flat = x.reshape(B * T, C)  # (N, C): routing is per token
        logits = self.router(flat)  # (N, E)
        weights, experts = route(logits, self.top_k)  # (N, k) each
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(experts == e)  # the tokens routed to e, and in which of their k slots
            if len(token):
                y = expert(flat[token]) * weights[token, slot, None].to(flat.dtype)  # (n_e, C): w_e SwiGLU_e(x)
                out = out.index_add(0, token, y)
        return MoEOutput(out.view(B, T, C), logits, expert_load(experts, self.n_experts))
