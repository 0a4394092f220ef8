r"""Decoding a trained encoder-decoder, and scoring what it produced (week 4).

* :func:`greedy_decode`: the most probable next token at every step, batched.
* :func:`beam_search`: keeps the ``width`` most probable prefixes at every step (Sutskever et
  al., 2014, Sec. 3.2: a hypothesis that emits the end symbol leaves the beam for the set of
  complete hypotheses). Prefixes are ranked by their log-probability; complete hypotheses by
  the length-normalised score of Wu et al. (2016, Sec. 7, Eq. 14),

  .. math:: s(Y) = \frac{\log P(Y \mid X)}{lp(Y)}, \qquad lp(Y) = \frac{(5 + |Y|)^\alpha}{(5 + 1)^\alpha},

  where :math:`|Y|` counts the generated tokens including the end symbol; ``alpha=0`` is the
  plain log-probability. The search stops after ``max_len`` tokens, or as soon as no open
  prefix can beat the best complete hypothesis: extending a prefix only lowers its
  log-probability, so no extension of a prefix with log-probability :math:`L` scores more than
  :math:`L / lp(\text{max\_len})`. Width 1 is greedy decoding; an unlimited width is
  exhaustive search.
* :func:`sequence_log_prob`: :math:`\log P(Y \mid X)` of given outputs (teacher forcing), to
  compare what greedy and beam search found.

Scores for the outputs (exact match, BLEU) are in :mod:`helpers.seq2seq.bleu`.

Left out: coverage penalties (Wu et al., 2016) and sampling (week 9).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "Hypothesis",
    "beam_search",
    "greedy_decode",
    "length_penalty",
    "sequence_log_prob",
]


@dataclass(frozen=True)
class Hypothesis:
    """One output of beam search: token ids (without begin/end symbols), whether it ended with
    the end symbol, its log-probability and its length-normalised score."""

    tokens: tuple[int, ...]
    finished: bool
    log_prob: float
    score: float


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016), Eq. 14: ``((5 + length) / 6) ** alpha``."""
    if alpha < 0:
        raise ValueError(f"alpha={alpha} must be >= 0 (0 = no length normalisation)")
    return ((5.0 + length) / 6.0) ** alpha


def _check_max_len(max_len: int) -> None:
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len={max_len!r} must be a positive integer")


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, src_mask: torch.Tensor, max_len: int = 20):
    """Greedy decoding of a batch. Returns ``(tokens, weights, log_probs)``: for each example the
    list of generated ids (without the end symbol), its attention weights (len + 1, S) as a
    tensor (or None without attention; the last row is the step that produced the end symbol),
    and the log-probability of the output including the end symbol, as a tensor (B,)."""
    _check_max_len(max_len)
    cfg = model.config
    B = src.shape[0]
    memory = model.encode(src, src_mask)
    state = model.init_state(memory)
    y = torch.full((B,), cfg.bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    log_probs = torch.zeros(B, device=src.device)
    never = torch.zeros(cfg.tgt_vocab_size, dtype=torch.bool, device=src.device)
    never[[cfg.pad_id, cfg.bos_id]] = True  # padding and the begin symbol are never generated
    steps, weight_steps = [], []
    for _ in range(max_len):
        logits, state, weights = model.decode_step(y, state, memory)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B, V)
        y = logp.masked_fill(never, float("-inf")).argmax(dim=-1)  # (B,)
        log_probs += torch.where(done, torch.zeros_like(log_probs), logp.gather(1, y[:, None])[:, 0])
        steps.append(torch.where(done, torch.full_like(y, cfg.pad_id), y))
        weight_steps.append(weights)
        done |= y == cfg.eos_id
        if bool(done.all()):
            break
    ids = torch.stack(steps, dim=1).tolist()  # (B, L)
    all_weights = None if weight_steps[0] is None else torch.stack(weight_steps, dim=1)  # (B, L, S)
    tokens, attn = [], []
    lengths = src_mask.sum(dim=1).tolist()
    for b, row in enumerate(ids):
        n = row.index(cfg.eos_id) if cfg.eos_id in row else len(row)
        tokens.append(row[:n])
        attn.append(None if all_weights is None else all_weights[b, : n + 1, : lengths[b]].cpu())
    return tokens, attn, log_probs


def _select(state, index: torch.Tensor):
    """Rows ``index`` of a decoder state (a tensor, or a tuple of tensors for an LSTM)."""
    return tuple(s[index] for s in state) if isinstance(state, tuple) else state[index]


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
    """Beam search for each source of the batch: for each example, the complete hypotheses it
    found, best score first. Open prefixes are added (``finished=False``) only if fewer than
    ``width`` hypotheses were complete after ``max_len`` tokens.

    The clear version searches one source at a time; ``batched=True`` runs the decoder once
    per step for the beams of all sources together (same results, much faster on a batch).
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width={width!r} must be a positive integer")
    _check_max_len(max_len)
    length_penalty(0, alpha)  # validates alpha
    if batched:
        return _beam_batched(model, src, src_mask, width, max_len, alpha)
    results = []
    for b in range(src.shape[0]):
        n = int(src_mask[b].sum())
        results.append(_beam_one(model, src[b : b + 1, :n], src_mask[b : b + 1, :n], width, max_len, alpha))
    return results


def _next_logp(model, prefixes, state, memory):
    """Log-probabilities (k, V) of the next token after each prefix, and the new state."""
    cfg = model.config
    y_prev = torch.tensor([p[-1] if p else cfg.bos_id for p in prefixes], device=memory.keys.device)
    logits, state, _ = model.decode_step(y_prev, state, memory)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (k, V)
    logp[:, [cfg.pad_id, cfg.bos_id]] = float("-inf")  # never generated
    return logp, state


def _prune(prefixes, scores, logp, width, t, alpha, eos_id, finished):
    """One step of the search for one source: the ``width`` best extensions of its ``k``
    prefixes (log P = ``scores`` (k,) + ``logp`` (k, V)); those that end go to ``finished``.
    Returns the rows, prefixes and scores of the extensions that stay open."""
    V = logp.shape[1]
    candidates = (scores[:, None] + logp).reshape(-1)  # (k * V,)
    top = torch.topk(candidates, min(width, candidates.numel()))
    rows, kept, kept_scores = [], [], []
    for score, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        if score == float("-inf"):
            break
        row, token = divmod(flat, V)
        if token == eos_id:
            finished.append(Hypothesis(prefixes[row], True, score, score / length_penalty(t + 1, alpha)))
        else:
            rows.append(row)
            kept.append((*prefixes[row], token))
            kept_scores.append(score)
    return rows, kept, kept_scores


def _cannot_improve(finished, best_open: float, max_len: int, alpha: float) -> bool:
    """No extension of an open prefix (best log-probability ``best_open``) can score more than
    the best complete hypothesis."""
    if not finished:
        return False
    return max(h.score for h in finished) >= best_open / length_penalty(max_len, alpha)


def _close(finished, prefixes, scores, width, alpha):
    """After max_len steps, open prefixes compete as they are if fewer than width finished."""
    if len(finished) < width:
        for prefix, score in zip(prefixes, scores, strict=True):
            finished.append(Hypothesis(prefix, False, score, score / length_penalty(len(prefix), alpha)))
    return sorted(finished, key=lambda h: h.score, reverse=True)


def _beam_one(model, src, src_mask, width, max_len, alpha) -> list[Hypothesis]:
    memory = model.encode(src, src_mask)  # a batch of one source
    state = model.init_state(memory)
    prefixes: list[tuple[int, ...]] = [()]
    scores = torch.zeros(1, device=src.device)  # log P of each prefix, (k,)
    finished: list[Hypothesis] = []
    for t in range(max_len):
        k = len(prefixes)
        beams = type(memory)(*(None if m is None else m.expand(k, *m.shape[1:]) for m in memory))
        logp, state = _next_logp(model, prefixes, state, beams)
        rows, prefixes, kept_scores = _prune(prefixes, scores, logp, width, t, alpha, model.config.eos_id, finished)
        if not rows or _cannot_improve(finished, max(kept_scores), max_len, alpha):
            return _close(finished, [], [], width, alpha)
        state = _select(state, torch.tensor(rows, device=src.device))
        scores = torch.tensor(kept_scores, device=src.device)
    return _close(finished, prefixes, scores.tolist(), width, alpha)


def _beam_batched(model, src, src_mask, width, max_len, alpha) -> list[list[Hypothesis]]:
    B = src.shape[0]
    memory = model.encode(src, src_mask)
    state = model.init_state(memory)
    owner = list(range(B))  # the source of each open prefix; a source's prefixes are contiguous
    prefixes: list[tuple[int, ...]] = [() for _ in range(B)]
    scores = torch.zeros(B, device=src.device)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    for t in range(max_len):
        index = torch.tensor(owner, device=src.device)
        beams = type(memory)(*(None if m is None else m[index] for m in memory))  # (R, ...)
        logp, state = _next_logp(model, prefixes, state, beams)
        keep, new_owner, new_prefixes, new_scores = [], [], [], []
        for b, group in itertools.groupby(range(len(owner)), key=owner.__getitem__):
            rows = list(group)
            sub = [prefixes[r] for r in rows]
            kept_rows, kept, kept_scores = _prune(
                sub, scores[rows], logp[rows], width, t, alpha, model.config.eos_id, finished[b]
            )
            if not kept_rows or _cannot_improve(finished[b], max(kept_scores), max_len, alpha):
                continue  # this source is done
            keep += [rows[i] for i in kept_rows]
            new_owner += [b] * len(kept_rows)
            new_prefixes += kept
            new_scores += kept_scores
        if not keep:
            break
        state = _select(state, torch.tensor(keep, device=src.device))
        owner, prefixes, scores = new_owner, new_prefixes, torch.tensor(new_scores, device=src.device)
    else:  # max_len reached: the sources still open close with their open prefixes
        for b, group in itertools.groupby(range(len(owner)), key=owner.__getitem__):
            rows = list(group)
            finished[b] = _close(finished[b], [prefixes[r] for r in rows], scores[rows].tolist(), width, alpha)
    return [sorted(f, key=lambda h: h.score, reverse=True) for f in finished]


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
