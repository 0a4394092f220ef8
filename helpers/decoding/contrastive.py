r"""Contrastive search (Su, Lan, Wang, Yogatama, Kong & Collier 2022, "A contrastive framework for
neural text generation", NeurIPS, Sec. 4).

Greedy decoding repeats itself because the most likely next token often re-states the
context. Contrastive search takes, among the k most likely tokens :math:`V^{(k)}`, the one that
is both likely and *unlike* every token so far:

.. math::

    x_t = \arg\max_{v \in V^{(k)}} \Big\{ (1 - \alpha)\, p_\theta(v \mid x_{<t})
          - \alpha \max_{1 \le j \le t-1} s(h_v, h_{x_j}) \Big\},

where :math:`h_v` is the model's last hidden state at the new position when :math:`v` is
appended, :math:`h_{x_j}` those of the context (the prompt included) and :math:`s` the cosine
similarity: the second term is the *degeneration penalty*. :math:`\alpha = 0` (or k = 1) is
greedy decoding. Each step runs the model once on k candidate continuations (as k rows of a
batch).

The step function must also return the hidden states: ``step(ids, state) -> (logits, hidden,
state)`` with ``hidden`` (B, N, C) for the last N positions, e.g.
:func:`helpers.decoding.step.lm_step` with ``hidden=True``.

Contrastive search has left transformers' core ``generate()`` (version 5 moved it to a Hub
repository), so it is checked on a worked example and on its defining property: every chosen
token maximises the objective above, recomputed from scratch (``tests/decoding/test_contrastive.py``).

Left out: the SimCTG training objective of the same paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import Generation, _check_prompt, _eos_tensor
from helpers.decoding.step import last_scores, select_rows

__all__ = ["contrastive_scores", "contrastive_search"]


def contrastive_scores(
    probs: torch.Tensor, candidates: torch.Tensor, context: torch.Tensor, alpha: float
) -> torch.Tensor:
    r"""The objective of contrastive search for k candidates of each of B rows: ``probs`` (B, k) are
    :math:`p_\theta(v \mid x_{<t})`, ``candidates`` (B, k, C) the hidden states :math:`h_v`,
    ``context`` (B, T, C) those of the tokens so far. Returns (B, k).

    >>> context = torch.tensor([[[1.0, 0.0]]])  # one token so far
    >>> h = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # candidate 0 points the same way
    >>> contrastive_scores(torch.tensor([[0.6, 0.4]]), h, context, alpha=0.5)
    tensor([[-0.2000,  0.2000]])
    """
    similarity = F.normalize(candidates, dim=-1) @ F.normalize(context, dim=-1).transpose(1, 2)  # (B, k, T)
    penalty = similarity.max(dim=-1).values  # (B, k): the degeneration penalty
    return (1.0 - alpha) * probs - alpha * penalty


def _check(k, alpha):
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k={k!r} must be a positive integer (the number of candidates)")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r} must be in [0, 1] (0 = greedy; Su et al. use 0.5 to 0.7)")


@torch.no_grad()
def contrastive_search(
    step,
    ids: torch.Tensor,
    max_new_tokens: int,
    k: int = 4,
    alpha: float = 0.6,
    eos_id: int | Sequence[int] | None = None,
    pad_id: int | None = None,
    config: SamplingConfig | None = None,
    state: Any = None,
) -> Generation:
    """Continue ``ids`` (B, T) by contrastive search with ``k`` candidates and weight ``alpha``
    (Su et al. 2022 use k = 5 to 10 and alpha = 0.5 to 0.7 for open-ended text). ``config`` may
    add penalties (applied to the logits before the softmax, as transformers did). The result's
    ``log_probs`` are those of the chosen tokens under the model's own softmax."""
    _check_prompt(ids, max_new_tokens)
    _check(k, alpha)
    config = SamplingConfig(do_sample=False) if config is None else config
    eos = _eos_tensor(eos_id, ids.device)
    pad = None if eos is None else (int(eos[0]) if pad_id is None else pad_id)
    B, prompt_len = ids.shape
    logits, hidden, state = step(ids, state)
    if hidden.ndim != 3 or hidden.shape[1] < prompt_len:
        raise ValueError("contrastive search needs the hidden states of every prompt position: a step that returns (logits, hidden (B, T, C), state)")
    context = hidden[:, -prompt_len:]  # (B, T, C)
    next_logits = last_scores(logits)  # (B, V)
    unfinished = torch.ones(B, dtype=torch.bool, device=ids.device)
    log_probs = torch.zeros(B, device=ids.device)
    rows = torch.arange(B, device=ids.device)
    for _ in range(max_new_tokens):
        probs = torch.softmax(config(next_logits, ids, prompt_len), dim=-1)  # (B, V)
        kk = min(k, probs.shape[-1])
        top_probs, top_ids = torch.topk(probs, kk, dim=-1)  # (B, k)
        # run the model once on the k continuations of every row
        expanded = rows.repeat_interleave(kk)  # (B*k,)
        candidates = torch.cat([ids[expanded], top_ids.reshape(-1, 1)], dim=1)  # (B*k, T + 1)
        cand_logits, cand_hidden, cand_state = step(candidates, select_rows(state, expanded))
        h_v = cand_hidden[:, -1].reshape(B, kk, -1)  # (B, k, C)
        best = contrastive_scores(top_probs, h_v, context, alpha).argmax(dim=-1)  # (B,)
        chosen_rows = rows * kk + best  # the winning candidate of each row
        next_ids = top_ids.gather(1, best[:, None])[:, 0]
        chosen = torch.log_softmax(next_logits.float(), dim=-1).gather(1, next_ids[:, None])[:, 0]
        log_probs += torch.where(unfinished, chosen, torch.zeros_like(chosen))
        if eos is not None:
            next_ids = torch.where(unfinished, next_ids, torch.full_like(next_ids, pad))
        ids = torch.cat([ids, next_ids[:, None]], dim=1)
        state = select_rows(cand_state, chosen_rows)
        context = torch.cat([context, h_v[rows, best][:, None]], dim=1)  # (B, T + 1, C)
        next_logits = last_scores(cand_logits)[chosen_rows]
        if eos is not None:
            unfinished &= ~torch.isin(next_ids, eos)
            if not bool(unfinished.any()):
                break
    return Generation(ids, log_probs, None, state)
