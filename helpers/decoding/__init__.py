"""Week 9: decoding. (Draft: the full docstring comes with the rest of the package.)"""

from helpers.decoding.beam import Hypothesis, beam_search, length_penalty
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
from helpers.decoding.sampling import GREEDY, Generation, generate, sample_next_token
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
