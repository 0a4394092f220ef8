r"""Decoding a trained encoder-decoder through the course's decoding library (week 4).

The search itself lives once, in :mod:`helpers.decoding` (week 9 builds it); this module is the
few lines that plug the encoder-decoder into it:

* :func:`seq2seq_step` and :func:`initial_state`: the decoder as a step function. The state holds
  the encoder's memory and the decoder's recurrent state, one row per output being written, so
  that beam search can reorder the rows of both;
* :func:`greedy_decode`: the most probable next token at every step, batched;
* :func:`beam_search`: the ``width`` most probable prefixes at every step (Sutskever et al., 2014,
  Sec. 3.2), finished hypotheses ranked by the length-normalised score of Wu et al. (2016, Sec. 7,
  Eq. 14),

  .. math:: s(Y) = \frac{\log P(Y \mid X)}{lp(Y)}, \qquad lp(Y) = \frac{(5 + |Y|)^\alpha}{(5 + 1)^\alpha},

  where :math:`|Y|` counts the generated tokens including the end symbol; ``alpha=0`` is the
  plain log-probability. The search stops after ``max_len`` tokens, or as soon as no open
  prefix can beat the worst of the ``width`` best complete hypotheses: extending a prefix only
  lowers its log-probability, so no extension of a prefix with log-probability :math:`L` scores
  more than :math:`L / lp(\text{max\_len})` (``early_stopping="never"`` of
  :func:`helpers.decoding.beam_search`). Width 1 is greedy decoding; an unlimited width is
  exhaustive search;
* :func:`sequence_log_prob`: :math:`\log P(Y \mid X)` of given outputs (teacher forcing), to
  compare what greedy and beam search found.

Padding and the begin symbol are never generated (suppressed tokens). Scores for the outputs
(exact match, BLEU) are in :mod:`helpers.seq2seq.bleu`.

Left out: coverage penalties (Wu et al., 2016); sampling and the rest are in week 9.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from helpers.decoding.beam import Hypothesis
from helpers.decoding.beam import beam_search as search
from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import generate

__all__ = [
    "Hypothesis",
    "Seq2SeqState",
    "beam_search",
    "greedy_decode",
    "initial_state",
    "length_penalty",
    "seq2seq_step",
    "sequence_log_prob",
]


class Seq2SeqState(NamedTuple):
    """The decoder's state for a batch of outputs: the encoder's memory and the recurrent state."""

    memory: Any  # a helpers.seq2seq.model.Memory, one row per output
    rnn: Any  # (B, H), or (h, c) for an LSTM


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016), Eq. 14: ``((5 + length) / 6) ** alpha``."""
    if not isinstance(alpha, (int, float)) or alpha < 0:
        raise ValueError(f"alpha={alpha} must be >= 0 (0 = no length normalisation)")
    return ((5.0 + length) / 6.0) ** alpha


def _check_max_len(max_len: int) -> None:
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len={max_len!r} must be a positive integer")


def initial_state(model, src: torch.Tensor, src_mask: torch.Tensor) -> Seq2SeqState:
    """Encode the sources once; the decoder starts from ``s_0``."""
    memory = model.encode(src, src_mask)
    return Seq2SeqState(memory, model.init_state(memory))


def seq2seq_step(model):
    """The step function of an encoder-decoder with ``decode_step(y_prev, state, memory)``:
    it reads the last token of each row of ``ids`` (which start with the begin symbol)."""

    def step(ids: torch.Tensor, state: Seq2SeqState):
        logits, rnn, _ = model.decode_step(ids[:, -1], state.rnn, state.memory)
        return logits, Seq2SeqState(state.memory, rnn)

    return step


def _config(model) -> SamplingConfig:
    cfg = model.config
    return SamplingConfig(do_sample=False, suppress_tokens=(cfg.pad_id, cfg.bos_id))


def _start(model, src) -> torch.Tensor:
    return torch.full((src.shape[0], 1), model.config.bos_id, dtype=torch.long, device=src.device)


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, src_mask: torch.Tensor, max_len: int = 20):
    """Greedy decoding of a batch. Returns ``(tokens, weights, log_probs)``: for each example the
    list of generated ids (without the end symbol), its attention weights (len + 1, S) as a
    tensor (or None without attention; the last row is the step that produced the end symbol),
    and the log-probability of the output including the end symbol, as a tensor (B,)."""
    _check_max_len(max_len)
    cfg = model.config
    out = generate(seq2seq_step(model), _start(model, src), max_len, _config(model), eos_id=cfg.eos_id,
                   pad_id=cfg.pad_id, state=initial_state(model, src, src_mask))  # fmt: skip
    ids = out.sequences[:, 1:].tolist()  # (B, L) without the begin symbol
    tokens = [row[: row.index(cfg.eos_id)] if cfg.eos_id in row else row for row in ids]
    attn = [None] * len(tokens)
    if getattr(model, "has_attention", False):
        # the weights of every step, by one teacher-forced pass over what was generated
        weights = model(src, src_mask, out.sequences[:, :-1]).weights  # (B, L, S)
        lengths = src_mask.sum(dim=1).tolist()
        attn = [weights[b, : len(t) + 1, : lengths[b]].cpu() for b, t in enumerate(tokens)]
    return tokens, attn, out.log_probs


@torch.no_grad()
def beam_search(
    model,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    width: int = 5,
    max_len: int = 20,
    alpha: float = 0.0,
    batched: bool = False,
) -> list[list[Hypothesis]]:
    """Beam search for each source of the batch: for each example, the (at most ``width``) best
    hypotheses it found, best score first; ``finished=False`` marks an output cut at ``max_len``.

    The clear version searches one source at a time; ``batched=True`` runs the decoder once
    per step for the beams of all sources together (same results, much faster on a batch).
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width={width!r} must be a positive integer")
    _check_max_len(max_len)
    length_penalty(0, alpha)  # validates alpha

    def run(s, m):
        return search(seq2seq_step(model), _start(model, s), width, max_len, model.config.eos_id, alpha,
                      early_stopping="never", config=_config(model), state=initial_state(model, s, m), form="gnmt")  # fmt: skip

    if batched:
        return run(src, src_mask)
    results = []
    for b in range(src.shape[0]):
        n = int(src_mask[b].sum())
        results += run(src[b : b + 1, :n], src_mask[b : b + 1, :n])
    return results


@torch.no_grad()
def sequence_log_prob(model, src: torch.Tensor, src_mask: torch.Tensor, outputs: Sequence[Sequence[int]], eos: bool = True):
    """``log P(y | x)`` of each output (ids without begin/end symbols), with the end symbol
    appended when ``eos`` is True. Returns a tensor (B,)."""
    cfg = model.config
    if len(outputs) != src.shape[0]:
        raise ValueError(f"{len(outputs)} outputs for {src.shape[0]} sources")
    rows = [[cfg.bos_id, *map(int, y)] + ([cfg.eos_id] if eos else []) for y in outputs]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [cfg.pad_id] * (T - len(r)) for r in rows], device=src.device)  # (B, T)
    logits = model(src, src_mask, ids[:, :-1]).logits  # (B, T-1, V)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(2, ids[:, 1:, None])[..., 0]  # (B, T-1)
    return (logp * (ids[:, 1:] != cfg.pad_id)).sum(dim=1)
