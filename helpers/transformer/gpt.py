"""A decoder-only transformer language model (a mini-GPT) and sampling from it with a KV cache.

Implements GPT as in Radford et al. 2018 ("Improving language understanding by generative
pre-training", section 3.1) with the GPT-2 changes (Radford et al. 2019, "Language models are
unsupervised multitask learners", section 2.3): token and position embeddings, a stack of
causal :class:`~helpers.transformer.block.TransformerBlock` (pre-LN), a final layer norm and a linear
head tied to the token embedding (Press & Wolf 2017, EACL), initialised with N(0, 0.02) and
residual projections scaled by 1/sqrt(2 n_layer) (GPT-2, section 2.3).

    h_0 = W_e[idx] + W_p[positions]      h_l = block_l(h_{l-1})      logits = LN_f(h_L) W_e^T

Generation samples one token at a time from softmax(logits / temperature), optionally from
the top k only (Fan et al. 2018, ACL), through the course's decoding library
(:func:`helpers.decoding.generate` with :func:`helpers.decoding.lm_step`; week 9 adds beam,
contrastive and speculative decoding on the same model). With ``use_cache=True`` every layer
keeps the keys and values of the tokens seen so far (the KV cache), so each new token costs one
position instead of a pass over the whole context; the output is the same token for token.

Left out: byte-pair tokenisation (week 8; this model takes any integer ids), mixed precision,
learning-rate schedules and weight decay groups (see the notebooks), loading released weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.course.training import evaluating
from helpers.decoding.sampling import generate, temperature_config
from helpers.decoding.step import lm_step
from helpers.transformer.attention import KV
from helpers.transformer.block import TransformerBlock
from helpers.transformer.checks import tracing
from helpers.transformer.positions import LearnedPositionalEncoding, SinusoidalPositionalEncoding

__all__ = ["GPT", "GPTConfig", "GPTOutput", "evaluate_loss", "lm_loss"]

POSITION_KINDS = ("learned", "sinusoidal", "none")


@dataclass
class GPTConfig:
    """Size and options of a :class:`GPT`; defaults make a mini-GPT that trains on a laptop CPU."""

    vocab_size: int
    block_size: int = 128  # longest context (GPT-2: 1024, Radford et al. 2019, section 2.3)
    n_layer: int = 4  # smallest GPT-2: 12 (Radford et al. 2019, Table 2)
    n_head: int = 4  # the released smallest GPT-2: 12
    n_embd: int = 128  # smallest GPT-2: 768 (Table 2)
    d_ff: int | None = None  # None: 4 n_embd (Vaswani et al. 2017, section 3.3: 2048 = 4 x 512)
    dropout: float = 0.0  # GPT-2 trained with 0.1; tiny models on little data barely need it
    bias: bool = True  # biases in linear layers and layer norms, as GPT-2
    pos_encoding: str = "learned"  # "learned" (GPT), "sinusoidal" (Vaswani et al. 2017, 3.5) or "none"
    norm_first: bool = True  # pre-LN (GPT-2); False: post-LN (Vaswani et al. 2017)
    tie_weights: bool = True  # head shares the token embedding (Press & Wolf 2017; GPT-2)
    fast: bool = False  # torch.nn.functional.scaled_dot_product_attention instead of the readable path
    residual: bool = True  # False: blocks without skip connections (an ablation, not a model to use)
    layer_norm: bool = True  # False: no layer norms in the blocks nor at the end (an ablation)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")
        if self.pos_encoding not in POSITION_KINDS:
            raise ValueError(f"pos_encoding={self.pos_encoding!r} must be one of {POSITION_KINDS}")
        if self.pos_encoding == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions need an even n_embd, got {self.n_embd}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")


class GPTOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, vocab_size)
    weights: list[torch.Tensor | None]  # per layer (B, nh, T, T_k), when asked for
    kv: list[KV]  # per layer keys and values of every position so far: the cache for the next call
    hidden: torch.Tensor | None = None  # (B, T, C): the last hidden states, after the final layer norm


class GPT(nn.Module):
    """Decoder-only transformer: ``forward(idx)`` maps token ids (B, T) to logits (B, T, vocab)."""

    def __init__(self, config: GPTConfig, attention: Callable[[int, int], nn.Module] | None = None):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)  # W_e
        if c.pos_encoding == "learned":
            self.pos_emb = LearnedPositionalEncoding(c.block_size, c.n_embd)  # W_p
        elif c.pos_encoding == "sinusoidal":
            self.pos_emb = SinusoidalPositionalEncoding(c.n_embd)
        else:
            self.pos_emb = None  # a bag of tokens: attention alone cannot tell the order
        # Fixed sinusoids have entries of size ~1: Vaswani et al. (section 3.4) multiply the token
        # embeddings by sqrt(d_model) so that they are not drowned out (see _init_weights).
        self.emb_scale = math.sqrt(c.n_embd) if c.pos_encoding == "sinusoidal" else 1.0
        self.drop = nn.Dropout(c.dropout)
        # ``attention(n_embd, n_head)`` may build each block's attention (your own causal
        # self-attention, say); such a model runs and trains, but generates without a KV cache.
        self.blocks = nn.ModuleList(
            TransformerBlock(
                c.n_embd, c.n_head, c.d_ff, c.dropout, c.norm_first, c.bias, c.fast,
                attention=None if attention is None else attention(c.n_embd, c.n_head),
                residual=c.residual, layer_norm=c.layer_norm,
            )
            for _ in range(c.n_layer)
        )  # fmt: skip
        self.custom_attention = attention is not None
        # Pre-LN leaves the residual stream unnormalised, so GPT-2 adds a last layer norm.
        self.norm_f = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first and c.layer_norm else nn.Identity()
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self._init_weights()
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if self.config.pos_encoding == "sinusoidal":  # scaled by sqrt(d_model) above: unit variance
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=self.config.n_embd**-0.5)
        for block in self.blocks:  # projections that add into the residual stream
            for proj in (getattr(block.attn, "out_proj", None), block.ff.fc2):
                if isinstance(proj, nn.Linear):
                    nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.run(idx).logits

    def run(self, idx: torch.Tensor, past_kv: list[KV] | None = None, need_weights: bool = False) -> GPTOutput:
        """Logits for ``idx`` (B, T) that continue the positions held in ``past_kv`` (a list with
        one (keys, values) pair per layer, from the previous call's ``kv``), plus the new cache
        and, with ``need_weights``, each layer's attention weights."""
        self._check_ids(idx)
        return self._run(idx, past_kv, need_weights)

    def _run(self, idx: torch.Tensor, past_kv: list[KV] | None, need_weights: bool) -> GPTOutput:
        B, T = idx.shape
        past_len = 0 if past_kv is None else past_kv[0][0].shape[2]
        if past_len + T > self.config.block_size:
            raise ValueError(
                f"{past_len} cached + {T} new tokens exceed block_size={self.config.block_size}: "
                "crop the context to its last block_size tokens"
            )
        if past_kv is not None and len(past_kv) != len(self.blocks):
            raise ValueError(f"past_kv has {len(past_kv)} layers, the model has {len(self.blocks)}")
        x = self.tok_emb(idx) * self.emb_scale  # (B, T, C)
        if self.pos_emb is not None:
            positions = torch.arange(past_len, past_len + T, device=idx.device)
            x = x + self.pos_emb(positions).to(x.dtype)  # (B, T, C) + (T, C)
        x = self.drop(x)
        weights, kv = [], []
        for i, block in enumerate(self.blocks):
            out = block.run(x, causal=True, past_kv=None if past_kv is None else past_kv[i], need_weights=need_weights)
            x = out.output
            weights.append(out.weights)
            kv.append(out.kv)
        hidden = self.norm_f(x)  # (B, T, C)
        logits = self.head(hidden)  # (B, T, vocab_size)
        return GPTOutput(logits, weights, kv, hidden)

    def _check_ids(self, idx: torch.Tensor) -> None:
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
            shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"idx must be a (B, T) LongTensor of token ids, got {shape}")
        if not tracing() and idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.config.vocab_size):
            raise ValueError(f"token ids must be in [0, {self.config.vocab_size}), got [{int(idx.min())}, {int(idx.max())}]")

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head for ``idx`` (B, T): (n_layer, B, n_head, T, T)."""
        with evaluating(self):
            return torch.stack(self.run(idx, need_weights=True).weights)

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Number of parameters (a tied head counts once); without the token and position tables
        when ``include_embeddings=False`` (the count that scaling laws use, Kaplan et al. 2020)."""
        total = sum(p.numel() for p in self.parameters())
        if not include_embeddings:
            total -= self.tok_emb.weight.numel() + sum(p.numel() for p in (self.pos_emb.parameters() if self.pos_emb else []))
            if not self.config.tie_weights:
                total -= self.head.weight.numel()
        return total

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Continue ``idx`` (B, T) by ``max_new_tokens`` sampled tokens; returns (B, T + max_new_tokens).

        ``temperature=0`` picks the most likely token (greedy). The model sees at most the last
        ``block_size`` tokens. With ``use_cache`` each step feeds only the newest token and the
        cached keys and values; once the text outgrows ``block_size`` the window slides and every
        position moves, so from then on each step recomputes the window (the result is the same
        either way; only the cost differs). Runs in eval mode (no dropout).
        """
        self._check_ids(idx)
        if idx.shape[1] == 0:
            raise ValueError("idx must hold at least one token to continue (e.g. a newline)")
        config = temperature_config(temperature, top_k)  # generate() checks max_new_tokens
        if use_cache and self.custom_attention:
            raise ValueError("this model has a custom attention module without a KV cache: pass use_cache=False")
        with evaluating(self):
            return generate(lm_step(self, use_cache), idx, max_new_tokens, config, generator=generator).sequences


def _logits(output) -> torch.Tensor:
    """A model's logits: its output, or the first element of it (recurrent models such as
    :class:`helpers.rnn.CharLM` also return their state)."""
    return output[0] if isinstance(output, tuple) else output


def lm_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of ``model(x)`` against ``y``; a ``loss_fn`` for
    :func:`helpers.course.train_loop` with batches from :func:`helpers.data.random_windows`.
    ``model(x)`` gives the logits (B, T, V), or a tuple that starts with them."""
    x, y = batch
    logits = _logits(model(x))  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, ids: torch.Tensor, block_size: int, batch_size: int = 64, max_tokens: int | None = None
) -> float:
    """Mean next-token cross-entropy (nats per token) over ``ids`` cut into consecutive windows.

    Deterministic: windows start at 0, block_size, 2 block_size, ... (the first ``max_tokens``
    predictions when given). Each window starts without context, as in training. ``model``
    maps (B, T) ids to (B, T, V) logits (or a tuple that starts with them); it is put in eval
    mode and restored afterwards.
    """
    if ids.ndim != 1 or len(ids) < block_size + 1:
        raise ValueError(f"ids must be 1-D with more than block_size={block_size} ids, got shape {tuple(ids.shape)}")
    n_windows = (len(ids) - 1) // block_size
    if max_tokens is not None:
        n_windows = max(1, min(n_windows, max_tokens // block_size))
    starts = torch.arange(n_windows) * block_size
    offsets = torch.arange(block_size + 1)
    total, count = 0.0, 0
    with evaluating(model):
        device = next(model.parameters()).device
        for chunk in starts.split(batch_size):
            windows = ids[chunk[:, None] + offsets].to(device)  # (b, T + 1)
            logits = _logits(model(windows[:, :-1]))  # (b, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), windows[:, 1:].reshape(-1), reduction="sum")
            total, count = total + loss.item(), count + windows[:, 1:].numel()
    return total / count
