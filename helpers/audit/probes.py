"""Template probes: how much more probable a model finds one filler than its counterfactual.

A template with one slot, ``"{} worked as a nurse."``, and a pair of fillers (``he``/``she``,
two names, two nationalities). For a **masked LM** the slot is ``[MASK]`` and the score of a
filler is ``ln P([MASK] = filler | template)`` (Kurita et al. 2019, "Measuring bias in
contextualized word representations", use its normalised form; we report the raw log-ratio).
For a **causal LM** the score is the log-probability of the whole filled sentence,
``ln P(template(filler))``: the filler is only seen through the words around it (Nadeem et
al. 2021, StereoSet, score whole sentences the same way). The **gap** of a template is

    g_t = score_t(a) - score_t(b)        (a natural log-odds: e^{g_t} = P(a) / P(b))

and its mean over many templates is reported with a **percentile bootstrap** interval
(Efron & Tibshirani 1993, ch. 13): resample the templates with replacement, recompute the mean,
read the 2.5% and 97.5% quantiles. The interval is over templates, not over the model's
training run: another seed of the same model could give another gap.

Left out: the prior correction of Kurita et al. (dividing by ``P(filler)`` with the target
word masked too) and StereoSet's curated sentences; the templates here are the course's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from helpers.course.training import evaluating

__all__ = [
    "ProbeResult",
    "bootstrap_interval",
    "filler_gap",
    "masked_filler_logprobs",
    "sequence_logprobs",
]


@dataclass(frozen=True)
class ProbeResult:
    """Mean gap (nats) over templates, its bootstrap interval and the per-template gaps."""

    mean: float
    low: float
    high: float
    gaps: np.ndarray
    level: float

    def __str__(self) -> str:
        return f"{self.mean:+.3f} nats [{self.low:+.3f}, {self.high:+.3f}] ({self.level:.0%} bootstrap, {len(self.gaps)} templates)"


def bootstrap_interval(
    values,
    n_resamples: int = 10_000,
    level: float = 0.95,
    generator: np.random.Generator | None = None,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the statistic (default: mean) and its percentile bootstrap interval.

    ``statistic`` takes an array (n_resamples, n) and returns (n_resamples,); the default is the
    row mean. ``generator`` defaults to ``np.random.default_rng(0)`` so the interval is reproducible.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(
            f"values must be 1-D with at least 2 entries to bootstrap, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("values hold NaN or infinite entries")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} must be between 0 and 1 (e.g. 0.95)")
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples!r} must be a positive integer")
    rng = np.random.default_rng(0) if generator is None else generator
    stat = statistic or (lambda m: m.mean(axis=-1))
    resamples = x[rng.integers(0, len(x), size=(n_resamples, len(x)))]  # (n_resamples, n)
    low, high = np.quantile(stat(resamples), [(1 - level) / 2, (1 + level) / 2])
    return float(stat(x[None])[0]), float(low), float(high)


def filler_gap(
    scores,
    a: int | Sequence[int],
    b: int | Sequence[int],
    level: float = 0.95,
    n_resamples: int = 10_000,
    generator: np.random.Generator | None = None,
) -> ProbeResult:
    """Gap between fillers ``a`` and ``b`` (columns of ``scores``, (n_templates, n_fillers)).

    A list of columns is a group (several female names, say): its score per template is the mean
    of its columns' scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be (n_templates, n_fillers), got shape {s.shape}")
    cols = {}
    for name, group in (("a", a), ("b", b)):
        group = [group] if isinstance(group, (int, np.integer)) else list(group)
        if not group or any(not 0 <= int(g) < s.shape[1] for g in group):
            raise ValueError(
                f"{name}={group!r} must name columns of scores (0 .. {s.shape[1] - 1})"
            )
        cols[name] = [int(g) for g in group]
    gaps = s[:, cols["a"]].mean(axis=1) - s[:, cols["b"]].mean(axis=1)  # (n_templates,)
    mean, low, high = bootstrap_interval(gaps, n_resamples, level, generator)
    return ProbeResult(mean, low, high, gaps, level)


def _template_check(templates: Sequence[str]) -> None:
    if isinstance(templates, str) or not templates:
        raise ValueError(f"templates must be a non-empty list of strings, got {templates!r}")
    for t in templates:
        if not isinstance(t, str) or t.count("{}") != 1:
            raise ValueError(f"template {t!r} must hold exactly one '{{}}' where the filler goes")


@torch.no_grad()
def masked_filler_logprobs(
    model: Callable[..., torch.Tensor],
    tokenizer,
    templates: Sequence[str],
    fillers: Sequence[str],
    id_map: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """``ln P([MASK] = filler | template)``, an array (n_templates, n_fillers), for a masked LM.

    ``model(ids, attention_mask)`` returns logits (B, T, V); ``tokenizer`` is a
    :class:`~helpers.pretraining.WordPieceTokenizer` (``mask_id``, ``tokens``, ``token_to_id``,
    ``__call__``). ``id_map`` maps tokenizer ids to the model's ids (week 6's tiny BERT reads a
    :class:`~helpers.pretraining.SubVocabulary`: pass ``sub.encode``). Each filler must be one
    WordPiece token (and not unknown to the model): a filler cut into pieces has no single slot.
    """
    _template_check(templates)
    if isinstance(fillers, str) or len(fillers) < 1:
        raise ValueError(f"fillers must be a non-empty list of words, got {fillers!r}")
    mapping = id_map or (lambda ids: ids)
    filler_ids = []
    for f in fillers:
        pieces = [t for t in tokenizer.tokens(f) if t not in ("[CLS]", "[SEP]")]
        if len(pieces) != 1:
            raise ValueError(
                f"filler {f!r} is {len(pieces)} WordPiece tokens {pieces}: use fillers of one token"
            )
        filler_ids.append(tokenizer.token_to_id(pieces[0]))
    unk = tokenizer.token_to_id("[UNK]")
    mapped = mapping(torch.tensor(filler_ids + [unk]))
    for f, m in zip(fillers, mapped[:-1].tolist(), strict=True):
        if m == int(mapped[-1]):
            raise ValueError(f"filler {f!r} is unknown to the model (id_map sends it to [UNK])")
    batch = tokenizer([t.replace("{}", "[MASK]") for t in templates], max_length=None)
    ids = batch.ids  # (B, T)
    where = ids == tokenizer.mask_id
    if not torch.all(where.sum(dim=1) == 1):
        raise ValueError(
            "each template must hold exactly one slot; a template already contains '[MASK]'"
        )
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else ids.device
    was_training = getattr(model, "training", False)
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        logits = (
            model(mapping(ids).to(device), batch.attention_mask.to(device)).float().cpu()
        )  # (B, T, V)
    finally:
        if isinstance(model, torch.nn.Module):
            model.train(was_training)
    logp = F.log_softmax(logits[where], dim=-1)  # (B, V): the slot of each template
    return logp[:, mapped[:-1]].numpy().astype(np.float64)  # (B, n_fillers)


@torch.no_grad()
def sequence_logprobs(
    model: torch.nn.Module, sequences: Sequence[torch.Tensor], start_id: int
) -> np.ndarray:
    """``ln P(sequence)`` under a causal LM, each sequence read after the token ``start_id``.

    ``model(idx)`` returns logits (B, T, V) (the course's :class:`~helpers.transformer.GPT`). A
    sequence plus its start token must fit the model's context (``config.block_size``).
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence of ids")
    block = getattr(getattr(model, "config", None), "block_size", None)
    device = next(model.parameters()).device
    out = []
    with evaluating(model):
        for seq in sequences:
            seq = torch.as_tensor(seq, dtype=torch.long)
            if seq.ndim != 1 or len(seq) == 0:
                raise ValueError(
                    f"each sequence must be 1-D and non-empty, got shape {tuple(seq.shape)}"
                )
            if block is not None and len(seq) > block:
                raise ValueError(
                    f"a sequence of {len(seq)} ids does not fit the context of {block}: shorten the template"
                )
            x = torch.cat([torch.tensor([start_id]), seq[:-1]])[None].to(device)  # (1, T) inputs
            logp = F.log_softmax(model(x).float(), dim=-1)[0]  # (T, V)
            out.append(float(logp.gather(-1, seq.to(device)[:, None]).sum()))
    return np.array(out)
