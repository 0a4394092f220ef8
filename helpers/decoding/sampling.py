r"""Greedy decoding and sampling, one token at a time, through a step function.

At every step the model's scores :math:`z` for the next token go through the processors of a
:class:`~helpers.decoding.processors.SamplingConfig` (penalties, then temperature / top-k /
top-p / min-p / typical when sampling), and the next token is

.. math:: y_t = \arg\max_j \tilde z_j \quad\text{(greedy)}, \qquad
          y_t \sim \mathrm{softmax}(\tilde z) \quad\text{(sampling)}.

This is the loop of transformers' ``GenerationMixin._sample`` (the greedy and multinomial
modes of ``generate()``): same processors in the same order, the draw is
``torch.multinomial(probs, 1)``, and a row that has produced an end symbol is padded from then
on while the others go on; the loop stops when every row has ended or after
``max_new_tokens``. ``tests/decoding/test_generate_oracle.py`` checks token ids and the processed
scores of every step against ``generate()`` on a tiny GPT-2.

Left out: stopping strings, batches of prompts of different lengths (left padding), streaming.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from helpers.decoding.processors import SamplingConfig
from helpers.decoding.step import Step, last_scores

__all__ = ["GREEDY", "Generation", "generate", "sample_next_token", "temperature_config"]

GREEDY = SamplingConfig(do_sample=False)


class Generation(NamedTuple):
    """What :func:`generate` returns."""

    sequences: torch.Tensor  # (B, T + n): the prompt, then the generated tokens (padded after an end symbol)
    log_probs: torch.Tensor  # (B,) log P of the generated tokens under the model's own softmax (before any processor)
    scores: tuple[torch.Tensor, ...] | None  # per step, the processed scores (B, V), if asked for
    state: Any  # the step's last state


def _eos_tensor(eos_id, device) -> torch.Tensor | None:
    if eos_id is None:
        return None
    ids = [eos_id] if isinstance(eos_id, int) else list(eos_id)
    if not ids or not all(isinstance(i, int) and i >= 0 for i in ids):
        raise ValueError(f"eos_id={eos_id!r} must be a token id or a list of them")
    return torch.tensor(ids, device=device)


def _check_prompt(ids: torch.Tensor, max_new_tokens: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype != torch.long or ids.shape[1] == 0:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"ids must be a (B, T) LongTensor with at least one token per row, got {shape}")
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a non-negative integer")


@torch.no_grad()
def generate(
    step: Step,
    ids: torch.Tensor,
    max_new_tokens: int,
    config: SamplingConfig = GREEDY,
    eos_id: int | Sequence[int] | None = None,
    pad_id: int | None = None,
    generator: torch.Generator | None = None,
    state: Any = None,
    output_scores: bool = False,
) -> Generation:
    """Continue ``ids`` (B, T) by up to ``max_new_tokens`` tokens, greedily or by sampling as
    ``config`` says (default: greedy). Draws use ``generator`` (None: PyTorch's global one, as
    transformers does). ``state`` is the step's initial state (e.g. an encoder's memory).

    With ``eos_id``, a row ends when it produces it (or one of them) and is padded with
    ``pad_id`` (default: the first ``eos_id``) afterwards.
    """
    _check_prompt(ids, max_new_tokens)
    if not isinstance(config, SamplingConfig):
        raise ValueError(f"config must be a SamplingConfig, got {type(config).__name__}")
    eos = _eos_tensor(eos_id, ids.device)
    pad = None if eos is None else (int(eos[0]) if pad_id is None else pad_id)
    B, prompt_len = ids.shape
    unfinished = torch.ones(B, dtype=torch.bool, device=ids.device)
    log_probs = torch.zeros(B, device=ids.device)
    all_scores = []
    for _ in range(max_new_tokens):
        raw, state = step(ids, state)
        raw = last_scores(raw)  # (B, V)
        scores = config(raw, ids, prompt_len)
        if output_scores:
            all_scores.append(scores)
        if config.do_sample:
            probs = torch.softmax(scores, dim=-1)
            next_ids = torch.multinomial(probs, num_samples=1, generator=generator)[:, 0]  # (B,)
        else:
            next_ids = scores.argmax(dim=-1)  # (B,)
        chosen = torch.log_softmax(raw.float(), dim=-1).gather(1, next_ids[:, None])[:, 0]
        log_probs += torch.where(unfinished, chosen, torch.zeros_like(chosen))
        if eos is not None:
            next_ids = torch.where(unfinished, next_ids, torch.full_like(next_ids, pad))
        ids = torch.cat([ids, next_ids[:, None]], dim=1)  # (B, T + 1)
        if eos is not None:
            unfinished &= ~torch.isin(next_ids, eos)
            if not bool(unfinished.any()):
                break
    return Generation(ids, log_probs, tuple(all_scores) if output_scores else None, state)


def temperature_config(temperature: float = 1.0, top_k: int | None = None) -> SamplingConfig:
    """The :class:`SamplingConfig` behind the models' own ``generate(..., temperature, top_k)``
    (week 5's GPT, week 7's decoder) and :func:`sample_next_token`: ``temperature=0`` is greedy."""
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature >= 0:
        raise ValueError(f"temperature={temperature!r} must be a number >= 0 (0 means greedy)")
    return SamplingConfig(do_sample=temperature > 0, temperature=float(temperature) or 1.0, top_k=top_k)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One id per row of ``logits`` (B, V), drawn from softmax(logits / temperature) restricted
    to the ``top_k`` largest logits (ties with the k-th are kept); returns (B, 1).

    ``temperature=0`` returns the argmax. ``generator`` must live on the device of ``logits``.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be (B, V), got shape {shape}")
    config = temperature_config(temperature, top_k)
    if not config.do_sample:
        return logits.argmax(dim=-1, keepdim=True)  # (B, 1)
    probs = torch.softmax(config.warp(logits.float()), dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
