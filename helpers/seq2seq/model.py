r"""A recurrent encoder-decoder with optional attention (week 4).

The model of Bahdanau et al. (2015, Sec. 3 and Appendix A) at a small scale:

* **Encoder**: embeddings, then a GRU or LSTM, bidirectional by default (Sec. 3.2). The
  annotation of source position :math:`j` is :math:`h_j = [\overrightarrow{h}_j;
  \overleftarrow{h}_j]`; padded positions are skipped with packed sequences, so a padded batch
  gives the same annotations as the unpadded sequences one by one.
* **Decoder** (Eq. 4 and A.2.2): at output step :math:`i`, a context vector :math:`c_i`, then
  :math:`s_i = \mathrm{RNN}([E y_{i-1}; c_i], s_{i-1})` and
  :math:`p(y_i \mid y_{<i}, x) = \mathrm{softmax}(W_o [s_i; c_i; E y_{i-1}])`, with
  :math:`s_0 = \tanh(W_s h_{\text{final}})`. With attention :math:`c_i` is the attention
  context for the query :math:`s_{i-1}` (:mod:`helpers.seq2seq.attention`); without attention it is
  the same vector :math:`c = h_{\text{final}}` at every step, the fixed-length summary of
  the RNN encoder-decoder of Cho et al. (2014, Sec. 2.2) that Bahdanau et al. call the
  bottleneck. Any module with ``forward(query, keys, mask) -> (context, weights)`` can be
  plugged in.
* **Training** by maximum likelihood with teacher forcing (Williams & Zipser, 1989): the
  previous *gold* token is fed back; ``teacher_forcing < 1`` feeds the model's own previous
  prediction instead with probability ``1 - teacher_forcing`` per example and step.

Departures from the paper: the output layer is one linear map instead of a maxout layer
(A.2.2), and :math:`h_{\text{final}}` concatenates the last forward and backward states (the
paper initialises :math:`s_0` from the backward state only; an LSTM's memory cell starts at
zero). Every attention module, Luong's scores included, is wired the Bahdanau way; Luong et al.
(2015) query with the *current* state :math:`s_i` and feed the context to the output layer
(and back as "input feeding"), which is left out. Decoding (greedy, beam search) and scores
(BLEU, exact match) are in :mod:`helpers.seq2seq.bleu`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers.seq2seq.attention import AdditiveAttention, DotAttention

__all__ = ["Decoder", "Encoder", "Memory", "Seq2Seq", "Seq2SeqConfig", "Seq2SeqOutput", "seq2seq_loss", "sequence_loss"]

_CELLS = {"gru": (nn.GRU, nn.GRUCell), "lstm": (nn.LSTM, nn.LSTMCell)}
_ATTENTION = ("additive", "dot", "general", "none")


@dataclass
class Seq2SeqConfig:
    """Sizes and choices of :class:`Seq2Seq`. The defaults are small, for a CPU in a minute."""

    src_vocab_size: int
    tgt_vocab_size: int
    emb_dim: int = 32
    hidden_dim: int = 64  # per direction; Bahdanau et al. (2015) use 1000 (A.2)
    cell: str = "gru"  # "gru" (Cho et al., 2014; Bahdanau et al., 2015) or "lstm" (Sutskever et al., 2014)
    bidirectional: bool = True  # a BiRNN encoder, Bahdanau et al. (2015), Sec. 3.2
    attention: str = "additive"  # "additive" (Bahdanau), "dot" or "general" (Luong), "none" (Cho)
    attn_dim: int = 32  # n' of Bahdanau's alignment model (1000 in the paper)
    dropout: float = 0.0  # on embeddings and on the decoder's output features
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size", "emb_dim", "hidden_dim", "attn_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.cell not in _CELLS:
            raise ValueError(f"cell={self.cell!r} must be 'gru' or 'lstm'")
        if self.attention not in _ATTENTION:
            raise ValueError(f"attention={self.attention!r} must be one of {', '.join(_ATTENTION)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")
        if self.attention == "dot" and self.bidirectional:
            raise ValueError(
                "the dot score needs annotations as big as the decoder state: use bidirectional=False "
                "with attention='dot', or attention='general'"
            )

    @property
    def enc_dim(self) -> int:
        """Size of an annotation h_j (both directions)."""
        return self.hidden_dim * (2 if self.bidirectional else 1)


class Memory(NamedTuple):
    """What the decoder reads from the encoder: annotations, their mask, the summary vector."""

    keys: torch.Tensor  # (B, S, enc_dim), zero at padded positions
    mask: torch.Tensor  # (B, S) True on real positions
    summary: torch.Tensor  # (B, enc_dim): last forward state and first backward state
    projected_keys: torch.Tensor | None = None  # U_a h_j, computed once (additive attention)


class Seq2SeqOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, V)
    weights: torch.Tensor | None  # (B, T, S) attention weights, None without attention


def _check_mask(src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
    """Validate a right-padded mask and return the lengths (B,)."""
    if src.ndim != 2 or src_mask.shape != src.shape or src_mask.dtype != torch.bool:
        raise ValueError(
            f"src must be (B, S) token ids and src_mask a bool tensor of the same shape, got "
            f"{tuple(src.shape)} and {src_mask.dtype} {tuple(src_mask.shape)}"
        )
    lengths = src_mask.sum(dim=1)
    if bool((lengths == 0).any()):
        raise ValueError("every source needs at least one token (a row of src_mask is all False)")
    prefix = torch.arange(src.shape[1], device=src.device).unsqueeze(0) < lengths.unsqueeze(1)
    if not torch.equal(prefix, src_mask):
        raise ValueError("src_mask must be True on a prefix of each row: pad on the right")
    return lengths


class Encoder(nn.Module):
    """Embeddings and a (bi)directional GRU/LSTM over the real (unpadded) positions."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab_size, config.emb_dim, padding_idx=config.pad_id)
        rnn = _CELLS[config.cell][0]
        self.rnn = rnn(config.emb_dim, config.hidden_dim, batch_first=True, bidirectional=config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor) -> Memory:
        B, S = src.shape
        lengths = _check_mask(src, src_mask)
        x = self.dropout(self.embedding(src))  # (B, S, emb)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        keys, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, enc_dim)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n); the summary is built from h_n
            h_n = h_n[0]
        summary = h_n.transpose(0, 1).reshape(B, -1)  # (num_dirs, B, H) -> (B, num_dirs * H)
        return Memory(keys, src_mask, summary)


class Decoder(nn.Module):
    """One output step at a time: context, recurrent update, distribution over the next token."""

    def __init__(self, config: Seq2SeqConfig, attention: nn.Module | None):
        super().__init__()
        D, H, E = config.enc_dim, config.hidden_dim, config.emb_dim
        self.is_lstm = config.cell == "lstm"
        self.embedding = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.pad_id)
        self.attention = attention
        self.bridge = nn.Linear(D, H)  # s_0 = tanh(W_s h_final)
        self.rnn = _CELLS[config.cell][1](E + D, H)
        self.out = nn.Linear(H + D + E, config.tgt_vocab_size)  # W_o [s_i; c_i; E y_{i-1}]
        self.dropout = nn.Dropout(config.dropout)

    def init_state(self, memory: Memory):
        s0 = torch.tanh(self.bridge(memory.summary))  # (B, H)
        return (s0, torch.zeros_like(s0)) if self.is_lstm else s0

    def step(self, y_prev: torch.Tensor, state, memory: Memory):
        """``y_prev`` (B,) -> ``(logits (B, V), new state, weights (B, S) or None)``."""
        s_prev = state[0] if self.is_lstm else state  # (B, H): the query s_{i-1}
        emb = self.dropout(self.embedding(y_prev))  # (B, E)
        if self.attention is None:
            context, weights = memory.summary, None  # the fixed-length vector c
        else:
            extra = {} if memory.projected_keys is None else {"projected_keys": memory.projected_keys}
            context, weights = self.attention(s_prev, memory.keys, memory.mask, **extra)  # (B, D), (B, S)
        state = self.rnn(torch.cat([emb, context], dim=-1), state)
        s_i = state[0] if self.is_lstm else state
        logits = self.out(self.dropout(torch.cat([s_i, context, emb], dim=-1)))  # (B, V)
        return logits, state, weights


def _build_attention(config: Seq2SeqConfig) -> nn.Module | None:
    if config.attention == "additive":
        return AdditiveAttention(config.hidden_dim, config.enc_dim, config.attn_dim)
    if config.attention in ("dot", "general"):
        return DotAttention(config.hidden_dim, config.enc_dim, general=config.attention == "general")
    return None


class Seq2Seq(nn.Module):
    """Encoder-decoder for token ids. ``attention`` replaces the one the config names (for
    your own attention module: ``forward(query, keys, mask) -> (context, weights)``)."""

    def __init__(self, config: Seq2SeqConfig, attention: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config, attention if attention is not None else _build_attention(config))

    @property
    def has_attention(self) -> bool:
        return self.decoder.attention is not None

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> Memory:
        """Annotations, mask and summary; with an attention module that has ``project_keys``
        (as :class:`~helpers.seq2seq.attention.AdditiveAttention`), also its key projection."""
        memory = self.encoder(src, src_mask)
        project = getattr(self.decoder.attention, "project_keys", None)
        return memory if project is None else memory._replace(projected_keys=project(memory.keys))

    def init_state(self, memory: Memory):
        return self.decoder.init_state(memory)

    def decode_step(self, y_prev: torch.Tensor, state, memory: Memory):
        """One decoder step: ``(logits (B, V), state, weights (B, S) or None)``."""
        return self.decoder.step(y_prev, state, memory)

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor,
        tgt_in: torch.Tensor,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Seq2SeqOutput:
        """Logits for every position of ``tgt_in`` (B, T), which starts with the begin symbol.

        With ``teacher_forcing=1`` the input at step i is ``tgt_in[:, i]``; otherwise each
        example feeds back its own previous argmax with probability ``1 - teacher_forcing``
        (drawn on the CPU with ``generator``).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing={teacher_forcing} must be in [0, 1]")
        if tgt_in.ndim != 2 or tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"tgt_in must be (B, T) with B={src.shape[0]}, got {tuple(tgt_in.shape)}")
        B, T = tgt_in.shape
        memory = self.encode(src, src_mask)
        state = self.init_state(memory)
        y = tgt_in[:, 0]
        all_logits, all_weights = [], []
        for i in range(T):
            logits, state, weights = self.decode_step(y, state, memory)
            all_logits.append(logits)
            all_weights.append(weights)
            if i + 1 < T:
                y = tgt_in[:, i + 1]
                if teacher_forcing < 1.0:
                    own = torch.rand(B, generator=generator).to(src.device) >= teacher_forcing
                    y = torch.where(own, logits.argmax(dim=-1).detach(), y)
        logits = torch.stack(all_logits, dim=1)  # (B, T, V)
        weights = None if all_weights[0] is None else torch.stack(all_weights, dim=1)  # (B, T, S)
        return Seq2SeqOutput(logits, weights)


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Mean cross-entropy (nats per token) over the non-padding targets; logits (B, T, V)."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=pad_id)


def seq2seq_loss(model: Seq2Seq, batch, teacher_forcing: float = 1.0, generator: torch.Generator | None = None):
    """The training loss for a batch with ``src``, ``src_mask`` and ``tgt`` (begin + target +
    end, padded): predict ``tgt[:, 1:]`` from ``tgt[:, :-1]``. Fits ``train_loop``'s loss_fn."""
    out = model(batch.src, batch.src_mask, batch.tgt[:, :-1], teacher_forcing, generator)
    return sequence_loss(out.logits, batch.tgt[:, 1:], model.config.pad_id)
