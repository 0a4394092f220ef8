r"""Beam search through a step function, with transformers' score convention.

Beam search keeps the ``width`` most probable prefixes (the beam) and extends each by every
token (Sutskever, Vinyals & Le 2014, Sec. 3.2; Graves 2012). One step, for each source:

1. every prefix :math:`y` of the beam and token :math:`v` give a candidate with
   :math:`\log P(y v) = \log P(y) + \log p(v \mid y)` (log-softmax of the scores, then the
   penalties of the config, if any);
2. the ``2 * width`` best candidates are kept (more with several end symbols), best first;
3. those among the first ``width`` that end (an end symbol, or the length limit) join the
   finished hypotheses with the score :math:`\log P(Y) / lp(|Y|)`; only the ``width`` best
   finished hypotheses are kept;
4. the ``width`` best candidates that did not end form the next beam.

:math:`|Y|` counts the generated tokens, the end symbol included. The length penalty is
transformers' :math:`lp(n) = n^\alpha` (``form="power"``, the convention of ``generate()``:
``length_penalty`` is :math:`\alpha`, 0 scores by plain log-probability, > 0 favours longer
outputs) or Wu et al.'s :math:`lp(n) = ((5 + n) / 6)^\alpha` (2016, Sec. 7, Eq. 14,
``form="gnmt"``, the one of week 4).

When to stop, ``early_stopping`` as in transformers:

* ``True``: as soon as ``width`` hypotheses are finished;
* ``False`` (default): when the best prefix of the beam, scored at its current length, cannot
  beat the worst of the ``width`` finished hypotheses (a heuristic: with
  :math:`\alpha > 0` a longer hypothesis could still have won);
* ``"never"``: the same test with the best length the prefix could still reach (the maximum
  length when :math:`\alpha > 0`): extending a prefix only lowers its log-probability, so this
  bound is exact and the ``width`` finished hypotheses are the best the beam can find.

This follows ``GenerationMixin._beam_search`` of transformers 5 step for step, with one
simplification: transformers fills the beam's empty slots with scores of -1e9 (at the first
step every slot but one, later whenever fewer than ``width`` candidates are left), we with
-inf, and never let such a slot finish. The two give the same hypotheses whenever every step
has ``2 * width`` candidates of finite score, which the oracle test
(``tests/decoding/test_generate_oracle.py``) checks against ``generate(num_beams=...)`` token
for token; with more beams than candidates (an exhaustive search) ours returns only real ones.

Left out: beam sampling, diverse (group) and constrained beam search, ``num_return_sequences``
(every finished hypothesis is returned, best first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import _check_prompt, _eos_tensor
from helpers.decoding.step import Step, last_scores, select_rows

__all__ = ["Hypothesis", "beam_search", "length_penalty"]

NEG_INF = float("-inf")
FORMS = ("power", "gnmt")


@dataclass(frozen=True)
class Hypothesis:
    """One output of beam search: the generated ids (without the prompt and the end symbol),
    whether it ended with the end symbol (False: cut at ``max_new_tokens``), its log-probability
    (the sum over its tokens, end symbol included, after the config's penalties) and its score
    ``log_prob / lp(length)``."""

    tokens: tuple[int, ...]
    finished: bool
    log_prob: float
    score: float


def length_penalty(length: int, alpha: float, form: str = "power") -> float:
    """``length ** alpha`` (transformers, ``form="power"``) or ``((5 + length) / 6) ** alpha``
    (Wu et al. 2016, Eq. 14, ``form="gnmt"``).

    >>> length_penalty(4, 1.0), length_penalty(7, 1.0, "gnmt")
    (4.0, 2.0)
    """
    if form not in FORMS:
        raise ValueError(f"form={form!r} must be 'power' (transformers) or 'gnmt' (Wu et al. 2016)")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha != alpha:
        raise ValueError(f"length penalty alpha={alpha!r} must be a number")
    return float(length**alpha) if form == "power" else ((5.0 + length) / 6.0) ** alpha


def _check(width, max_new_tokens, early_stopping, config):
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width={width!r} must be a positive integer")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be at least 1 for beam search")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping={early_stopping!r} must be True, False or 'never'")
    if not isinstance(config, SamplingConfig) or config.do_sample:
        raise ValueError("config must be a SamplingConfig with do_sample=False (beam sampling is left out)")


_length_penalty = length_penalty  # the parameter of beam_search has the same (transformers') name


@torch.no_grad()
def beam_search(
    step: Step,
    ids: torch.Tensor,
    width: int,
    max_new_tokens: int,
    eos_id: int | Sequence[int] | None,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    config: SamplingConfig | None = None,
    state: Any = None,
    form: str = "power",
) -> list[list[Hypothesis]]:
    """Beam search of ``width`` for every row of ``ids`` (B, T): for each, its finished
    hypotheses (at most ``width``), best score first. The defaults are those of transformers'
    ``generate(num_beams=width)``: ``length_penalty=1.0`` (the exponent alpha), ``early_stopping=False``.

    ``config`` may add penalties (repetition, no-repeat n-grams, suppressed tokens) to the
    log-probabilities; ``state`` is the step's initial state, one row per row of ``ids``.
    """
    config = SamplingConfig(do_sample=False) if config is None else config
    _check_prompt(ids, max_new_tokens)
    _check(width, max_new_tokens, early_stopping, config)
    _length_penalty(1, length_penalty, form)  # validates alpha and form
    eos = _eos_tensor(eos_id, ids.device)
    B, T0 = ids.shape
    K = width
    n_keep = max(2, 1 + (0 if eos is None else len(eos))) * K  # candidates per source and step
    alpha = length_penalty
    lp = lambda n: _length_penalty(n, alpha, form)  # noqa: E731

    # As transformers does, every source starts with K copies of its prompt, all but one dead.
    rows = ids.repeat_interleave(K, dim=0)  # (B*K, T0)
    if state is not None:
        state = select_rows(state, torch.arange(B, device=ids.device).repeat_interleave(K))
    beam_logp = torch.full((B, K), NEG_INF, device=ids.device)
    beam_logp[:, 0] = 0.0
    done_score = torch.full((B, K), NEG_INF, device=ids.device)  # the finished hypotheses, best first
    done_logp = torch.full((B, K), NEG_INF, device=ids.device)
    done_tokens = torch.zeros((B, K, max_new_tokens), dtype=torch.long, device=ids.device)
    done_len = torch.zeros((B, K), dtype=torch.long, device=ids.device)
    done_eos = torch.zeros((B, K), dtype=torch.bool, device=ids.device)
    improvable = torch.ones(B, dtype=torch.bool, device=ids.device)

    for t in range(max_new_tokens):
        scores, state = step(rows, state)
        logp = torch.log_softmax(last_scores(scores).float(), dim=-1)  # (B*K, V)
        logp = config.penalise(logp, rows, T0)
        V = logp.shape[-1]
        # 1-2. the best candidates of each source, over all its prefixes and tokens
        candidates = (logp.view(B, K, V) + beam_logp[:, :, None]).view(B, K * V)
        cand_logp, flat = torch.topk(candidates, min(n_keep, K * V), dim=-1)  # (B, C), best first
        parent, token = flat // V, flat % V  # (B, C)
        length = t + 1  # generated tokens after this step
        ends = torch.full_like(token, length == max_new_tokens, dtype=torch.bool)
        if eos is not None:
            ends |= torch.isin(token, eos)
        alive = cand_logp > NEG_INF
        generated = torch.cat([rows.view(B, K, -1)[:, :, T0:].gather(1, parent[:, :, None].expand(-1, -1, t)),
                               token[:, :, None]], dim=2)  # (B, C, t + 1)  # fmt: skip

        # 3. candidates ranked among the first K that end join the finished ones, while allowed
        full = (done_score > NEG_INF).all(dim=1)  # (B,)
        may_add = improvable & ~(full & (early_stopping is True))
        top_rank = torch.arange(cand_logp.shape[1], device=ids.device) < K
        joins = ends & alive & top_rank[None, :] & may_add[:, None]  # (B, C)
        new_score = torch.where(joins, cand_logp / lp(length), torch.full_like(cand_logp, NEG_INF))
        merged = torch.cat([done_score, new_score], dim=1)  # (B, K + C)
        done_score, pick = torch.topk(merged, K, dim=1)
        padded = torch.nn.functional.pad(generated, (0, max_new_tokens - length))
        done_tokens = torch.cat([done_tokens, padded], dim=1).gather(1, pick[:, :, None].expand(-1, -1, max_new_tokens))
        done_logp = torch.cat([done_logp, cand_logp], dim=1).gather(1, pick)
        done_len = torch.cat([done_len, torch.full_like(token, length)], dim=1).gather(1, pick)
        cand_eos = torch.zeros_like(ends) if eos is None else torch.isin(token, eos)
        done_eos = torch.cat([done_eos, cand_eos], dim=1).gather(1, pick)

        # 4. the next beam: the K best candidates that go on
        going = torch.where(ends | ~alive, torch.full_like(cand_logp, NEG_INF), cand_logp)
        beam_logp, keep = torch.topk(going, K, dim=1)  # (B, K)
        parent_rows = (torch.arange(B, device=ids.device)[:, None] * K + parent.gather(1, keep)).view(-1)
        rows = torch.cat([rows[parent_rows], token.gather(1, keep).view(-1, 1)], dim=1)  # (B*K, T0 + t + 1)
        state = select_rows(state, parent_rows)

        # when to stop: can the best prefix still beat the worst kept hypothesis?
        grows = early_stopping == "never" and alpha > 0
        best_possible = beam_logp[:, 0] / lp(max_new_tokens if grows else length)
        full = (done_score > NEG_INF).all(dim=1)
        worst = torch.where(full, done_score.min(dim=1).values, torch.full_like(best_possible, NEG_INF))
        improvable &= best_possible > worst
        if not bool(improvable.any()) or (early_stopping is True and bool(full.all())):
            break
        if bool(ends.all()) or not bool((beam_logp > NEG_INF).any()):
            break

    results = []
    for b in range(B):
        hyps = []
        for k in range(K):
            if done_score[b, k] == NEG_INF:
                continue
            n, ended = int(done_len[b, k]), bool(done_eos[b, k])
            tokens = done_tokens[b, k, : n - 1 if ended else n].tolist()
            hyps.append(Hypothesis(tuple(tokens), ended, float(done_logp[b, k]), float(done_score[b, k])))
        results.append(hyps)
    return results
