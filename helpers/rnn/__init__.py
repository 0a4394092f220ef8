"""Week 3: memory. Recurrent cells and layers (simple RNN, LSTM, GRU) from their equations
(equal to PyTorch's), training through time, a character language model, and the memory
tasks' classifier.

:mod:`~helpers.rnn.cells` (one step) <- :mod:`~helpers.rnn.layers` (sequences) <-
:mod:`~helpers.rnn.bptt` (truncated back-propagation through time, gradient probes) <-
:mod:`~helpers.rnn.charlm` (the character LM) and :mod:`~helpers.rnn.recall` (the recall task
and chatbot models; their data are in :mod:`helpers.data.recall`).
"""

from helpers.rnn.bptt import TruncatedBPTT, clip_grad_norm, state_gradient_norms, stream_batches
from helpers.rnn.cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
    detach_state,
    gru_cell,
    gru_gates,
    lstm_cell,
    lstm_gates,
    rnn_cell,
    set_forget_bias,
)
from helpers.rnn.charlm import CharLM, CharLMConfig, charlm_step, generate, sample, stream_loss
from helpers.rnn.layers import GRU, LSTM, RNN
from helpers.rnn.recall import (
    SequenceClassifier,
    accuracy,
    reply,
    retention_curve,
    train_classifier,
    train_on_dialogues,
)

__all__ = [
    "GRU", "LSTM", "RNN", "CharLM", "CharLMConfig", "GRUCell", "LSTMCell", "RNNCell", "SequenceClassifier",
    "TruncatedBPTT", "accuracy", "charlm_step", "clip_grad_norm", "detach_state", "generate", "gru_cell",
    "gru_gates", "lstm_cell", "lstm_gates", "reply",
    "retention_curve", "rnn_cell", "sample", "set_forget_bias", "state_gradient_norms", "stream_batches",
    "stream_loss", "train_classifier", "train_on_dialogues",
]  # fmt: skip
