"""A character-level recurrent language model and sampling from it.

The model (as in Graves 2013, "Generating sequences with recurrent neural networks", arXiv
1308.0850, section 3, and Karpathy's char-rnn, 2015): embed each character, run a recurrent
layer (:class:`helpers.rnn.LSTM`, :class:`~helpers.rnn.GRU` or :class:`~helpers.rnn.RNN`), and read the next-character
distribution off every hidden state::

    e_t = E[x_t],   h_t = f(e_t, h_{t-1}),   p(x_{t+1} | x_{<=t}) = softmax(h_t W_o^T + b_o)

Training is teacher-forced (the true previous character is fed at every step); generation
feeds the model its own samples, so errors it never saw in training can build up: exposure
bias (Ranzato et al. 2016, ICLR; scheduled sampling, Bengio et al. 2015, NeurIPS).

:func:`sample` draws from ``softmax(logits / temperature)`` (temperature 0 = greedy) through the
course's decoding library (:mod:`helpers.decoding`, with :func:`charlm_step`, where week 9 adds
top-p, beam search and the rest); :func:`stream_loss` scores a whole text with the state carried
across chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from helpers.course.training import evaluating
from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import GREEDY
from helpers.decoding.sampling import generate as decode
from helpers.rnn.bptt import stream_batches
from helpers.rnn.cells import detach_state
from helpers.rnn.layers import GRU, LSTM, RNN

__all__ = ["CharLM", "CharLMConfig", "charlm_step", "generate", "sample", "stream_loss"]


@dataclass
class CharLMConfig:
    """Sizes of a :class:`CharLM`. Defaults are small enough for a CPU in a minute."""

    vocab_size: int
    hidden_size: int = 128  # char-rnn's smallest setting (Karpathy 2015) is 128
    embed_dim: int = 32  # a one-hot input would do; a small embedding is cheaper
    num_layers: int = 1
    cell: str = "lstm"  # "lstm", "gru", "rnn" (tanh) or "rnn_relu"
    dropout: float = 0.0  # between recurrent layers, as in torch.nn.LSTM
    fast: bool = False  # True: PyTorch's fused kernel on the same parameters (tested equal)

    def __post_init__(self):
        if self.cell not in ("lstm", "gru", "rnn", "rnn_relu"):
            raise ValueError(f"cell={self.cell!r}: choose 'lstm', 'gru', 'rnn' or 'rnn_relu'")
        for name in ("vocab_size", "hidden_size", "embed_dim", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")


class CharLM(nn.Module):
    """Embedding -> recurrent layer -> linear read-out over the characters.

    ``forward(ids (B, T), state=None) -> (logits (B, T, V), state)``; pass the returned state to
    the next call to continue the text.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        if c.cell in ("lstm", "gru"):
            layer = LSTM if c.cell == "lstm" else GRU
            self.rnn = layer(c.embed_dim, c.hidden_size, c.num_layers, dropout=c.dropout, fast=c.fast)
        else:
            nonlinearity = "relu" if c.cell == "rnn_relu" else "tanh"
            self.rnn = RNN(c.embed_dim, c.hidden_size, c.num_layers, nonlinearity, dropout=c.dropout, fast=c.fast)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)

    def forward(self, ids: torch.Tensor, state=None):
        if ids.ndim != 2:
            raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
        output, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(output), state  # (B, T, V)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature={temperature!r} must be a finite number >= 0 (0 = greedy)")


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: torch.Tensor,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Continue ``prompt`` (1-D ids, at least one) by ``length`` ids drawn one at a time from
    ``softmax(logits / temperature)``; ``temperature=0`` takes the most likely id (greedy).

    The model reads the prompt once, then only its own last sample, carrying its state. Draws
    use ``generator`` (a CPU ``torch.Generator``) so that a seed fixes the text. Returns the
    ``length`` new ids (1-D, on the CPU).
    """
    _check_temperature(temperature)
    if prompt.ndim != 1 or len(prompt) == 0:
        raise ValueError(f"prompt must be a non-empty 1-D tensor of ids, got shape {tuple(prompt.shape)}")
    if length < 0:
        raise ValueError(f"length={length} must be >= 0")
    config = GREEDY if temperature == 0 else SamplingConfig(temperature=float(temperature))
    with evaluating(model):
        out = decode(charlm_step(model), prompt.cpu()[None], length, config, generator=generator).sequences
    return out[0, len(prompt) :]


def charlm_step(model: nn.Module):
    """The model as a step function of :mod:`helpers.decoding`: the first call reads the whole
    prompt, later ones only the last token, carrying the recurrent state. Scores come back on
    the CPU (so that a CPU ``generator`` draws, wherever the model runs)."""
    device = next(model.parameters()).device

    def step(ids: torch.Tensor, state):
        logits, state = model((ids if state is None else ids[:, -1:]).to(device), state)  # (1, T, V)
        return logits[:, -1].float().cpu(), state

    return step


def generate(model, vocab, prompt: str, length: int = 200, temperature: float = 1.0, generator=None) -> str:
    """``prompt`` followed by ``length`` sampled characters (see :func:`sample`)."""
    if not prompt:
        raise ValueError("prompt must have at least one character")
    return prompt + vocab.decode(sample(model, vocab.encode(prompt), length, temperature, generator))


@torch.no_grad()
def stream_loss(model: nn.Module, ids: torch.Tensor, batch_size: int = 16, bptt: int = 128) -> float:
    """Mean cross-entropy (nats per character) of ``ids`` under ``model``, reading the text as
    ``batch_size`` streams with the state carried across chunks (divide by ln 2 for bits)."""
    with evaluating(model):
        device = next(model.parameters()).device
        total, count, state = 0.0, 0, None
        for x, y, start in stream_batches(ids.to(device), batch_size, bptt, epochs=1):
            logits, state = model(x, None if start else detach_state(state))
            B, T, V = logits.shape
            total += F.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T), reduction="sum").item()
            count += B * T
    return total / count
