"""Week 4: sequence to sequence. A recurrent encoder-decoder with additive or dot attention,
its decoding (greedy, beam search: the course's decoding library, :mod:`helpers.decoding`, with
the encoder-decoder as a step function) and scoring (exact match, BLEU).

:mod:`~helpers.seq2seq.attention` <- :mod:`~helpers.seq2seq.model` <-
:mod:`~helpers.seq2seq.decoding`; :mod:`~helpers.seq2seq.bleu` scores the outputs. The data
(dates written many ways -> ISO 8601) are in :mod:`helpers.data.dates`.
"""

from helpers.seq2seq.attention import (
    AdditiveAttention,
    DotAttention,
    additive_attention,
    dot_attention,
    masked_softmax,
)
from helpers.seq2seq.bleu import accuracy_by_length, corpus_bleu, exact_match
from helpers.seq2seq.decoding import (
    Hypothesis,
    Seq2SeqState,
    beam_search,
    greedy_decode,
    initial_state,
    length_penalty,
    seq2seq_step,
    sequence_log_prob,
)
from helpers.seq2seq.model import (
    Decoder,
    Encoder,
    Memory,
    Seq2Seq,
    Seq2SeqConfig,
    Seq2SeqOutput,
    seq2seq_loss,
    sequence_loss,
)

__all__ = [
    "AdditiveAttention", "Decoder", "DotAttention", "Encoder", "Hypothesis", "Memory", "Seq2Seq",
    "Seq2SeqConfig", "Seq2SeqOutput", "Seq2SeqState", "accuracy_by_length", "additive_attention",
    "beam_search", "corpus_bleu", "dot_attention", "exact_match", "greedy_decode", "initial_state",
    "length_penalty", "masked_softmax", "seq2seq_loss", "seq2seq_step", "sequence_log_prob", "sequence_loss",
]  # fmt: skip
