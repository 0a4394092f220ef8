r"""Decoding a trained encoder-decoder, and scoring what it produced (week 4).

* :func:`greedy_decode`: the most probable next token at every step, batched.
* :func:`beam_search`: keeps the ``width`` most probable prefixes at every step (Sutskever et
  al., 2014, Sec. 3.3: a hypothesis that emits the end symbol leaves the beam for the set of
  complete hypotheses). Prefixes are ranked by their log-probability; complete hypotheses by
  the length-normalised score of Wu et al. (2016, Sec. 7, Eq. 14),

  .. math:: s(Y) = \frac{\log P(Y \mid X)}{lp(Y)}, \qquad lp(Y) = \frac{(5 + |Y|)^\alpha}{(5 + 1)^\alpha},

  where :math:`|Y|` counts the generated tokens including the end symbol; ``alpha=0`` is the
  plain log-probability. The search stops when ``width`` hypotheses are complete or after
  ``max_len`` tokens. Width 1 is greedy decoding; an unlimited width is exhaustive search.
* :func:`sequence_log_prob`: :math:`\log P(Y \mid X)` of given outputs (teacher forcing), to
  compare what greedy and beam search found.
* :func:`exact_match` and :func:`corpus_bleu` (Papineni et al., 2002: modified n-gram
  precisions up to 4, geometric mean, brevity penalty; equal to ``sacrebleu``'s corpus BLEU,
  on a 0-100 scale, with its "none" or "exp" smoothing and "char" or whitespace tokens).

Left out: coverage penalties (Wu et al., 2016), sampling (week 9), batched beam search.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "Hypothesis",
    "beam_search",
    "corpus_bleu",
    "exact_match",
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
    steps, weight_steps = [], []
    for _ in range(max_len):
        logits, state, weights = model.decode_step(y, state, memory)
        logp = torch.log_softmax(logits, dim=-1)  # (B, V)
        y = logp.argmax(dim=-1)  # (B,)
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
) -> list[list[Hypothesis]]:
    """Beam search for each source of the batch: a list (one per example) of hypotheses, best
    score first. Unfinished prefixes are returned only if fewer than ``width`` hypotheses
    finished within ``max_len`` tokens."""
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width={width!r} must be a positive integer")
    _check_max_len(max_len)
    length_penalty(0, alpha)  # validates alpha
    results = []
    for b in range(src.shape[0]):
        n = int(src_mask[b].sum())
        results.append(_beam_one(model, src[b : b + 1, :n], src_mask[b : b + 1, :n], width, max_len, alpha))
    return results


def _beam_one(model, src, src_mask, width, max_len, alpha) -> list[Hypothesis]:
    cfg = model.config
    memory = model.encode(src, src_mask)  # batch of one source
    state = model.init_state(memory)
    prefixes: list[tuple[int, ...]] = [()]
    scores = torch.zeros(1, device=src.device)  # log P of each prefix, (k,)
    finished: list[Hypothesis] = []
    for t in range(max_len):
        k = len(prefixes)
        beams = type(memory)(*(m.expand(k, *m.shape[1:]) for m in memory))
        y_prev = torch.tensor([p[-1] if p else cfg.bos_id for p in prefixes], device=src.device)
        logits, state, _ = model.decode_step(y_prev, state, beams)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (k, V)
        logp[:, [cfg.pad_id, cfg.bos_id]] = float("-inf")  # never generated
        candidates = (scores[:, None] + logp).reshape(-1)  # (k * V,)
        top = torch.topk(candidates, min(width, candidates.numel()))
        V = logp.shape[1]
        keep_rows, keep_prefixes, keep_scores = [], [], []
        for score, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            if score == float("-inf"):
                break
            row, token = divmod(flat, V)
            if token == cfg.eos_id:
                finished.append(Hypothesis(prefixes[row], True, score, score / length_penalty(t + 1, alpha)))
            else:
                keep_rows.append(row)
                keep_prefixes.append((*prefixes[row], token))
                keep_scores.append(score)
        if len(finished) >= width or not keep_rows:
            prefixes = []
            break
        index = torch.tensor(keep_rows, device=src.device)
        state = _select(state, index)
        prefixes, scores = keep_prefixes, torch.tensor(keep_scores, device=src.device)
    if len(finished) < width:  # ran out of steps: the open prefixes compete as they are
        for prefix, score in zip(prefixes, scores.tolist(), strict=True):
            finished.append(Hypothesis(prefix, False, score, score / length_penalty(len(prefix), alpha)))
    return sorted(finished, key=lambda h: h.score, reverse=True)


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


# ----------------------------------------------------------------------------- scores
def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of hypotheses identical to their reference (0 to 1)."""
    if len(hypotheses) != len(references) or len(references) == 0:
        raise ValueError(f"need as many hypotheses as references (>0), got {len(hypotheses)} and {len(references)}")
    return sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)


def _tokens(text: str, tokenize: str) -> list[str]:
    if tokenize == "char":
        return [c for c in text if not c.isspace()]
    return text.split()


def _ngrams(tokens: list[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    tokenize: str = "whitespace",
    smooth: str = "exp",
    max_order: int = 4,
) -> float:
    """Corpus BLEU (0-100) of Papineni et al. (2002), as ``sacrebleu.corpus_bleu`` computes it.

    ``references[i]`` is the reference of ``hypotheses[i]``, or a list of references. Counts of
    matching n-grams (clipped by the reference counts) and of hypothesis n-grams are summed over
    the corpus; BLEU = BP * exp(mean of log precisions), BP = exp(1 - r/c) when the total
    hypothesis length c is below the total length r of the closest references. ``smooth="exp"``
    (sacrebleu's default) replaces a zero count at order n by 1/2^k, k = 1, 2, ... .
    """
    if tokenize not in ("whitespace", "char"):
        raise ValueError(f"tokenize={tokenize!r} must be 'whitespace' or 'char'")
    if smooth not in ("none", "exp"):
        raise ValueError(f"smooth={smooth!r} must be 'none' or 'exp'")
    if len(hypotheses) != len(references) or len(hypotheses) == 0:
        raise ValueError(f"need as many hypotheses as references (>0), got {len(hypotheses)} and {len(references)}")
    correct, total = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references, strict=True):
        refs = [refs] if isinstance(refs, str) else list(refs)
        h = _tokens(hyp.rstrip(), tokenize)
        ref_tokens = [_tokens(r.rstrip(), tokenize) for r in refs]
        ref_counts: Counter = Counter()
        for r in ref_tokens:
            ref_counts |= _ngrams(r, max_order)  # max count over references
        # the closest reference length (the shorter one on ties)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in ref_tokens)[1]
        hyp_len += len(h)
        for gram, count in _ngrams(h, max_order).items():
            total[len(gram) - 1] += count
            correct[len(gram) - 1] += min(count, ref_counts[gram])
    if not any(correct):
        return 0.0
    log_precisions, halvings = [], 1.0
    for n in range(max_order):
        if total[n] == 0:
            return 0.0  # no n-grams of this order at all
        if correct[n] == 0:
            if smooth == "none":
                return 0.0
            halvings *= 2
            log_precisions.append(math.log(1.0 / (halvings * total[n])))
        else:
            log_precisions.append(math.log(correct[n] / total[n]))
    bp = 1.0 if hyp_len >= ref_len else (math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0)
    return 100.0 * bp * math.exp(sum(log_precisions) / max_order)
