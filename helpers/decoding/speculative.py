r"""Speculative decoding (Leviathan, Kalman & Matias 2023, "Fast inference from transformers via
speculative decoding", ICML, Algorithm 1; Chen, Borgeaud, Irving, Lespiau, Sifre & Jumper 2023,
"Accelerating large language model decoding with speculative sampling", Algorithm 2).

A small *draft* model :math:`q` writes :math:`\gamma` tokens one by one; the big *target* model
:math:`p` then scores all of them in **one** pass, and a rule accepts a prefix of the draft so
that the text is distributed exactly as if the target had sampled every token itself:

1. draft :math:`x_i \sim q(\cdot \mid x_{<i})` for :math:`i = 1 \dots \gamma`;
2. one target pass gives :math:`p(\cdot \mid x_{<i})` for :math:`i = 1 \dots \gamma + 1`;
3. accept :math:`x_i` with probability :math:`\min\big(1, p(x_i) / q(x_i)\big)`, in order;
4. at the first rejection, draw the token instead from the *residual*
   :math:`r = \mathrm{norm}\big(\max(0, p - q)\big)` and stop; if all :math:`\gamma` were
   accepted, draw one more token from :math:`p(\cdot \mid x_{\le \gamma})`.

Why it is exact (Leviathan et al., Appendix A): a token :math:`x` comes out of one position
either accepted, with probability :math:`q(x) \min(1, p(x)/q(x)) = \min(p(x), q(x))`, or drawn
after a rejection, with probability :math:`\big(1 - \sum_y \min(p(y), q(y))\big)\, r(x) =
\max(0, p(x) - q(x))`; the two add up to :math:`p(x)`. Each round costs :math:`\gamma` draft
steps and one target step and yields between 1 and :math:`\gamma + 1` tokens; with an
acceptance rate :math:`\alpha` (assumed the same at every position) the expected number is
:math:`(1 - \alpha^{\gamma + 1}) / (1 - \alpha)` (Leviathan et al., Eq. 1).

With greedy decoding (``do_sample=False``) a draft token is accepted when it is the target's
argmax, and the output is exactly the target's greedy output.

Both models see the same :class:`~helpers.decoding.processors.SamplingConfig` (temperature,
top-k, penalties ...), so the text follows the target's *processed* distribution. The target's
step must return scores for its last N positions, N at least the tokens added since its
previous call (any :func:`~helpers.decoding.step.cached_step` does); after a rejection both
steps are called with ids that no longer end with what they saw, and roll their caches back.

:func:`acceptance_probability` and :func:`residual_distribution` are the rule itself; the tests
check on small enumerable models that the distribution they induce is the target's, exactly.

Left out: batches of several prompts (rows would accept different numbers of tokens), trees
of drafts, and drafting with the target's own early layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import _check_prompt, _eos_tensor
from helpers.decoding.step import Step, last_scores

__all__ = [
    "SpeculativeResult",
    "acceptance_probability",
    "expected_tokens_per_round",
    "residual_distribution",
    "speculative_generate",
]


def acceptance_probability(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``min(1, p / q)`` for every token (where the draft gives q = 0 the token is never
    drafted; 1 there). ``p`` and ``q`` are distributions over the last dimension.

    >>> acceptance_probability(torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.25, 0.6, 0.15]))
    tensor([1.0000, 0.5000, 1.0000])
    """
    ratio = torch.where(q > 0, p / q.clamp_min(torch.finfo(q.dtype).tiny), torch.ones_like(p))
    return ratio.clamp(max=1.0)


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``max(0, p - q)`` normalised: what to draw from after a rejection. (If p = q nothing is
    ever rejected; the target distribution is returned then.)

    >>> residual_distribution(torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.25, 0.6, 0.15]))
    tensor([0.8333, 0.0000, 0.1667])
    """
    excess = (p - q).clamp_min(0.0)
    total = excess.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, excess / total.clamp_min(torch.finfo(p.dtype).tiny), p)


def expected_tokens_per_round(alpha: float, gamma: int) -> float:
    """Leviathan et al. (2023), Eq. 1: ``(1 - alpha ** (gamma + 1)) / (1 - alpha)`` tokens per
    target call, for an acceptance rate ``alpha`` in [0, 1].

    >>> expected_tokens_per_round(0.0, 4), expected_tokens_per_round(1.0, 4)
    (1.0, 5.0)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha} must be in [0, 1]")
    return gamma + 1.0 if alpha == 1.0 else (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


@dataclass(frozen=True)
class SpeculativeResult:
    sequences: torch.Tensor  # (1, T + n)
    rounds: int  # target calls after the prompt
    drafted: int  # draft tokens proposed
    accepted: int  # draft tokens accepted
    rejected: int  # rounds that ended with a rejection (the draft tokens after it were never checked)

    @property
    def acceptance_rate(self) -> float:
        """Accepted / checked draft tokens: the empirical alpha of Leviathan et al., the chance
        that a draft token is accepted when it is checked (tokens after a rejection are not)."""
        checked = self.accepted + self.rejected
        return self.accepted / checked if checked else float("nan")

    @property
    def tokens_per_round(self) -> float:
        n_new = self.accepted + self.rounds  # each round adds its accepted drafts and one token of the target's
        return n_new / self.rounds if self.rounds else float("nan")


def _distribution(config: SamplingConfig, scores, ids, prompt_len):
    return torch.softmax(config(scores.float(), ids, prompt_len), dim=-1)


def _draw(probs: torch.Tensor, config: SamplingConfig, generator) -> int:
    if not config.do_sample:
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.no_grad()
def speculative_generate(
    target: Step,
    draft: Step,
    ids: torch.Tensor,
    max_new_tokens: int,
    gamma: int = 4,
    config: SamplingConfig | None = None,
    eos_id: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> SpeculativeResult:
    """Continue one prompt ``ids`` (1, T) by ``max_new_tokens`` tokens (fewer if ``eos_id``
    comes) distributed as the ``target`` step would sample them with ``config``, drafting
    ``gamma`` tokens at a time with the ``draft`` step. Draws use ``generator``."""
    _check_prompt(ids, max_new_tokens)
    if ids.shape[0] != 1:
        raise ValueError(f"speculative decoding takes one prompt at a time, got a batch of {ids.shape[0]}")
    if not isinstance(gamma, int) or isinstance(gamma, bool) or gamma < 1:
        raise ValueError(f"gamma={gamma!r} must be a positive integer (draft tokens per round)")
    config = SamplingConfig() if config is None else config
    eos = _eos_tensor(eos_id, ids.device)
    prompt_len = ids.shape[1]
    t_state = d_state = None
    rounds = drafted = accepted = rejected = 0
    while ids.shape[1] - prompt_len < max_new_tokens:
        g = min(gamma, max_new_tokens - (ids.shape[1] - prompt_len) - 1)  # room for the target's token
        # 1. draft g tokens
        proposal, q = ids, []
        for _ in range(g):
            scores, d_state = draft(proposal, d_state)
            q.append(_distribution(config, last_scores(scores), proposal, prompt_len)[0])  # (V,)
            token = _draw(q[-1], config, generator)
            proposal = torch.cat([proposal, proposal.new_tensor([[token]])], dim=1)
            if eos is not None and token in eos.tolist():
                break
        g = len(q)
        # 2. one target pass over the prompt so far and the g drafts
        scores, t_state = target(proposal, t_state)
        if scores.ndim != 3 or scores.shape[1] < g + 1:
            raise ValueError(f"the target step must return scores (1, N, V) for at least its last {g + 1} positions")
        p = [_distribution(config, scores[:, -(g + 1) + i], proposal[:, : ids.shape[1] + i], prompt_len)[0]
             for i in range(g + 1)]  # fmt: skip
        rounds += 1
        drafted += g
        # 3-4. accept a prefix of the drafts, then one token from the target (or the residual)
        n = 0
        for i in range(g):
            x = int(proposal[0, ids.shape[1] + i])
            if config.do_sample:
                u = torch.rand(1, generator=generator, device=p[i].device)
                ok = bool(u < acceptance_probability(p[i][x], q[i][x]))
            else:
                ok = x == int(p[i].argmax())
            if not ok:
                break
            n += 1
        accepted += n
        rejected += n < g
        if n < g:
            last = residual_distribution(p[n], q[n]) if config.do_sample else p[n]
        else:
            last = p[g]
        token = _draw(last, config, generator)
        ids = torch.cat([proposal[:, : ids.shape[1] + n], proposal.new_tensor([[token]])], dim=1)
        if eos is not None and bool(torch.isin(ids[0, prompt_len:], eos).any()):
            end = int(torch.isin(ids[0, prompt_len:], eos).nonzero()[0]) + prompt_len + 1
            ids = ids[:, :end]
            break
    return SpeculativeResult(ids, rounds, drafted, accepted, rejected)
