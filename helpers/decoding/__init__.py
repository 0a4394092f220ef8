"""Week 9: decoding. The one place where the course turns next-token scores into text.

Every decoder works on any model through a *step function* (:mod:`~helpers.decoding.step`):
``step(ids, state) -> (scores, state)``, ids (B, T) the text so far, scores the next-token
logits (B, V) or (B, N, V). Week 4's encoder-decoder (:func:`helpers.seq2seq.seq2seq_step`),
week 5's GPT (:func:`lm_step`, used by ``GPT.generate``) and any ``transformers`` model
(:func:`huggingface_step`) decode through the same code.

:mod:`~helpers.decoding.processors` (temperature, top-k, top-p, min-p, typical, penalties) <-
:mod:`~helpers.decoding.sampling` (greedy and sampling) <- :mod:`~helpers.decoding.beam`,
:mod:`~helpers.decoding.contrastive`, :mod:`~helpers.decoding.speculative`;
:mod:`~helpers.decoding.quality` measures the text, :mod:`~helpers.decoding.adaptive` picks a
preset from the prompt. Greedy, sampling and beam search give the token ids of transformers'
``generate()`` (``tests/decoding/test_generate_oracle.py``).

Plugging in another model (week 7's modern decoder, say) takes a few lines. If it has a KV cache
``forward(new_ids, cache) -> (logits, cache)``, where ``cache`` holds tensors with the time
axis at dimension 2 (B, heads, T, d), wrap it with :func:`cached_step`::

    from helpers.decoding import cached_step, generate, SamplingConfig

    def forward(new_ids, cache):                       # new_ids (B, N): the tokens not yet cached
        out = model(new_ids, cache=cache)              # your model's own call
        return out.logits, out.cache                   # (B, N, V), the cache for next time

    step = cached_step(forward, block_size=model.config.block_size)
    text = generate(step, prompt_ids, 100, SamplingConfig(temperature=0.8, top_p=0.95)).sequences

:func:`cached_step` feeds only new tokens, cuts the cache back when speculative decoding
rejected tokens (pass ``crop=`` if your cache is not a nest of such tensors) and slides the
window past ``block_size``. Return ``(logits, cache, hidden)`` from ``forward`` to use
contrastive search. Positions: ``forward`` gets the cache of the tokens before ``new_ids``, so a
rotary model takes its position offset from the cache length. A model without a cache is
:func:`forward_step` (``model(ids) -> logits``).
"""

from helpers.decoding.adaptive import PRESETS, detect_task, preset_for
from helpers.decoding.beam import Hypothesis, beam_search, length_penalty
from helpers.decoding.contrastive import contrastive_scores, contrastive_search
from helpers.decoding.processors import (
    SamplingConfig,
    apply_temperature,
    frequency_presence_penalty,
    min_p_filter,
    no_repeat_ngram_filter,
    repetition_penalty,
    suppress_tokens,
    top_k_filter,
    top_p_filter,
    typical_filter,
)
from helpers.decoding.quality import distinct_n, perplexity, repetition_rate, self_bleu
from helpers.decoding.sampling import (
    GREEDY,
    Generation,
    generate,
    sample_next_token,
    temperature_config,
)
from helpers.decoding.speculative import (
    SpeculativeResult,
    acceptance_probability,
    expected_tokens_per_round,
    residual_distribution,
    speculative_generate,
)
from helpers.decoding.step import (
    CacheState,
    bigram_step,
    cached_step,
    crop_time,
    forward_step,
    huggingface_step,
    last_scores,
    lm_step,
    select_rows,
)

__all__ = [
    "GREEDY", "PRESETS", "CacheState", "Generation", "Hypothesis", "SamplingConfig", "SpeculativeResult",
    "acceptance_probability", "apply_temperature", "beam_search", "bigram_step", "cached_step",
    "contrastive_scores", "contrastive_search", "crop_time", "detect_task", "distinct_n",
    "expected_tokens_per_round", "forward_step", "frequency_presence_penalty", "generate",
    "huggingface_step", "last_scores", "length_penalty", "lm_step", "min_p_filter",
    "no_repeat_ngram_filter", "perplexity", "preset_for", "repetition_penalty", "repetition_rate",
    "residual_distribution", "sample_next_token", "select_rows", "self_bleu", "speculative_generate",
    "suppress_tokens", "temperature_config", "top_k_filter", "top_p_filter", "typical_filter",
]  # fmt: skip
