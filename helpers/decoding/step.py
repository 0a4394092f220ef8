r"""The step function: how a model plugs into the decoders of :mod:`helpers.decoding`.

Every decoder (greedy, sampling, beam, contrastive and speculative) sees a model only through

.. code-block:: text

    step(ids, state) -> (scores, state)

* ``ids`` (B, T): everything so far, prompt and generated tokens, one row per sequence;
* ``state``: ``None`` on the first call, then whatever the previous call returned (a KV cache,
  a recurrent state, the encoder's memory): the step decides what to remember;
* ``scores``: the next-token logits, (B, V), or (B, N, V) for the last N positions of ``ids``
  (the last row predicts the token after ``ids``). Logits, not probabilities: the decoders
  normalise where the algorithm needs it (beam search sums log-softmax scores), as transformers
  does; the repetition penalty (:mod:`~helpers.decoding.processors`) must see logits.

Beam search and contrastive search reorder or copy rows of a batch: they call
:func:`select_rows` on the state, which indexes dimension 0 of every tensor inside it (tuples,
lists, dicts and named tuples are walked; an object with its own ``select_rows(index)`` method
is asked). Speculative decoding throws away rejected tokens: it calls the step with ``ids`` that
no longer end with what the state has seen, so a caching step must keep only the longest common
prefix; :func:`cached_step` does this for any model with a KV cache.

Ready-made steps:

* :func:`cached_step` turns ``forward(new_ids, cache) -> (logits, cache)`` into a step with a KV
  cache: it feeds only the tokens the cache has not seen, rolls the cache back when ``ids``
  diverge from it, and slides the window past ``block_size``;
* :func:`lm_step` is that for the course's GPT (``model.run(idx, past_kv)``), with or without
  the cache; ``hidden=True`` also returns the last hidden states (contrastive search);
* :func:`forward_step` for any ``model(ids) -> logits`` (no cache);
* :func:`huggingface_step` for a ``transformers`` causal LM with its own cache;
* :func:`bigram_step`: a table of next-token log-probabilities, for worked examples.

The sequence-to-sequence model of week 4 plugs in with its own few lines
(:func:`helpers.seq2seq.decoding.seq2seq_step`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

__all__ = [
    "CacheState",
    "bigram_step",
    "cached_step",
    "crop_time",
    "forward_step",
    "huggingface_step",
    "last_scores",
    "lm_step",
    "select_rows",
]

Step = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def select_rows(state: Any, index: torch.Tensor) -> Any:
    """The rows ``index`` (a 1-D LongTensor, repeats allowed) of every tensor in ``state``.

    >>> select_rows((torch.tensor([10, 11]), [torch.tensor([[1], [2]])], 3), torch.tensor([1, 1, 0]))
    (tensor([11, 11, 10]), [tensor([[2],
            [2],
            [1]])], 3)
    """
    if state is None or isinstance(state, (int, float, str, bool)):
        return state
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    if hasattr(state, "select_rows"):
        return state.select_rows(index)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a named tuple
        return type(state)(*(select_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index) for s in state)
    if isinstance(state, dict):
        return {k: select_rows(v, index) for k, v in state.items()}
    raise ValueError(
        f"cannot select rows of a state of type {type(state).__name__}: use tensors, tuples, lists or "
        "dicts of them, or give the state a select_rows(index) method"
    )


def last_scores(scores: torch.Tensor) -> torch.Tensor:
    """The scores (B, V) of the next token, as float32 or wider, from (B, V) or (B, N, V)."""
    if not isinstance(scores, torch.Tensor) or scores.ndim not in (2, 3):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"a step must return scores of shape (B, V) or (B, N, V), got {shape}")
    scores = scores[:, -1] if scores.ndim == 3 else scores
    return scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores


def crop_time(cache: Any, length: int, time_dim: int = 2) -> Any:
    """Every tensor of a KV cache cut to its first ``length`` positions along ``time_dim``."""
    if cache is None:
        return None
    if isinstance(cache, torch.Tensor):
        return cache.narrow(time_dim, 0, length)
    if isinstance(cache, tuple) and hasattr(cache, "_fields"):
        return type(cache)(*(crop_time(c, length, time_dim) for c in cache))
    if isinstance(cache, (tuple, list)):
        return type(cache)(crop_time(c, length, time_dim) for c in cache)
    raise ValueError(f"cannot crop a cache of type {type(cache).__name__}: pass crop= to cached_step")


def _common_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the longest prefix shared by every row of ``a`` and ``b`` (same batch size)."""
    m = min(a.shape[1], b.shape[1])
    same = (a[:, :m] == b[:, :m].to(a.device)).all(dim=0)  # (m,)
    return m if bool(same.all()) else int((~same).nonzero()[0])


class CacheState(NamedTuple):
    """What :func:`cached_step` remembers: the model's cache and the ids (B, L) it holds, or
    ``ids=None`` when the cache cannot be extended (the window slid past ``block_size``)."""

    cache: Any
    ids: torch.Tensor | None


def cached_step(
    forward: Callable,
    block_size: int | None = None,
    crop: Callable[[Any, int], Any] = crop_time,
) -> Step:
    """A step around ``forward(new_ids (B, N), cache) -> (logits (B, N, V), cache[, hidden])``,
    where ``cache`` is None or what ``forward`` returned for the tokens before ``new_ids``.

    The step feeds only the tokens the cache has not seen. If ``ids`` share only a prefix with
    the cached tokens (speculative decoding rejected some), the cache is cut back to that prefix
    with ``crop(cache, length)``. Past ``block_size`` tokens the model sees the last
    ``block_size`` ones, every position moves, and the whole window is recomputed at every step.
    When ``forward`` also returns hidden states, the step returns ``(logits, hidden, state)``.
    """

    def step(ids: torch.Tensor, state: CacheState | None):
        T = ids.shape[1]
        start = 0
        cache = None
        if state is not None and state.ids is not None and state.ids.shape[0] == ids.shape[0]:
            start = min(_common_prefix(ids, state.ids), T - 1)  # at least one token to feed
            if block_size is None or T <= block_size:
                cache = state.cache if start == state.ids.shape[1] else crop(state.cache, start)
            else:
                start = 0
        if cache is None:
            start = 0 if block_size is None else max(0, T - block_size)
        out = forward(ids[:, start:], cache)
        keep = block_size is None or T <= block_size
        new_state = CacheState(out[1], ids if keep else None)
        return (out[0], out[2], new_state) if len(out) == 3 else (out[0], new_state)

    return step


def lm_step(model, use_cache: bool = True, hidden: bool = False) -> Step:
    """The step of a model with ``run(idx, past_kv) -> output`` with ``.logits``, ``.kv`` and
    ``.hidden``, such as the course's :class:`helpers.transformer.GPT` (its ``config.block_size``
    is the window). ``use_cache=False`` recomputes the window at every step (same tokens, more
    work); ``hidden=True`` makes the step return ``(logits, hidden, state)``.

    The model is used as it is: put it in eval mode first (no dropout)."""
    block_size = getattr(getattr(model, "config", None), "block_size", None)

    def forward(new_ids, cache):
        out = model.run(new_ids, cache)
        kv = out.kv if use_cache else None
        return (out.logits, kv, out.hidden) if hidden else (out.logits, kv)

    if use_cache:
        return cached_step(forward, block_size)

    def step(ids, state):
        window = ids if block_size is None else ids[:, -block_size:]
        out = forward(window, None)
        return (out[0], out[2], None) if hidden else (out[0], None)

    return step


def forward_step(model: Callable[[torch.Tensor], torch.Tensor], block_size: int | None = None) -> Step:
    """The step of any ``model(ids (B, T)) -> logits (B, T, V)``, without a cache: the whole
    sequence (its last ``block_size`` tokens) is fed at every call. Models that return a tuple
    (logits first, as week 3's ``CharLM``) work too."""

    def step(ids, state):
        window = ids if block_size is None else ids[:, -block_size:]
        out = model(window)
        return (out[0] if isinstance(out, tuple) else out), None

    return step


class _HFState(NamedTuple):
    cache: Any
    ids: torch.Tensor

    def select_rows(self, index):
        # transformers' caches reorder in place; the decoders never reuse a state they replaced
        self.cache.reorder_cache(index.to(self.ids.device))
        return _HFState(self.cache, self.ids.index_select(0, index.to(self.ids.device)))


def huggingface_step(model, all_positions: bool = False) -> Step:
    """The step of a ``transformers`` causal LM (``GPT2LMHeadModel``, ``LlamaForCausalLM``, ...)
    with its own KV cache, computing logits as ``generate()`` does (for the last position only,
    unless ``all_positions``), so that the two see bit-identical scores."""
    params = inspect.signature(model.forward).parameters
    cache_key = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5

    def step(ids, state):
        kwargs = {"use_cache": True}
        start = 0
        if state is not None and state.ids.shape[0] == ids.shape[0]:
            start = min(_common_prefix(ids, state.ids), ids.shape[1] - 1)
            if start < state.ids.shape[1]:
                state.cache.crop(start)
            kwargs[cache_key] = state.cache
        if not all_positions:
            kwargs["logits_to_keep"] = 1
        with torch.no_grad():
            out = model(input_ids=ids[:, start:], **kwargs)
        cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
        return out.logits, _HFState(cache, ids)

    return step


def bigram_step(log_probs: torch.Tensor) -> Step:
    """A toy model whose next-token scores depend only on the last token: ``log_probs[i]`` (V,)
    after token i. For worked examples (week 4's beam search example, the notebooks).

    >>> step = bigram_step(torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]])))
    >>> step(torch.tensor([[0, 1]]), None)[0].exp()
    tensor([[0.9000, 0.1000]])
    """
    if not isinstance(log_probs, torch.Tensor) or log_probs.ndim != 2 or log_probs.shape[0] != log_probs.shape[1]:
        raise ValueError("log_probs must be a square (V, V) tensor: row i scores the token after token i")

    def step(ids, state):
        return log_probs[ids[:, -1]], None

    return step
