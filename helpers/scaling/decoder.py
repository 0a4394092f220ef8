"""A modern decoder-only transformer: what changed between GPT-2 and today's open models.

The block of Llama (Touvron et al. 2023, "LLaMA", section 2.2) and its successors, built from
the parts of this package: pre-normalisation with RMSNorm (Zhang & Sennrich 2019), rotary
positions in every attention layer instead of a position table (Su et al. 2021),
grouped-query attention (Ainslie et al. 2023), a SwiGLU feed-forward (Shazeer 2020), no
biases anywhere; optionally a mixture of experts in place of the feed-forward (Mixtral, Jiang
et al. 2024). For n_layer blocks:

    h_0 = W_e[idx]
    h <- h + Attention(RMSNorm_1(h))          (RoPE on q and k; n_kv_head key/value heads)
    h <- h + FFN(RMSNorm_2(h))                (SwiGLU, or top-k of n_experts SwiGLUs)
    logits = RMSNorm_f(h_L) W_out

``to_huggingface()`` (:mod:`helpers.scaling.export`) copies the weights into ``transformers``'
``LlamaForCausalLM`` (or ``MixtralForCausalLM`` with experts); the tests check the logits agree
to 1e-5. For the length-extrapolation experiment the position scheme can also be ALiBi (Press
et al. 2022), GPT's learned table, the sinusoids of Vaswani et al. 2017 or nothing, with the
rest of the model unchanged.

``run(idx, cache)`` is the whole interface a decoding loop needs: logits for new tokens given
the KV cache of the earlier ones, and the new cache. ``generate`` samples with it, through the
course's decoding library (:func:`helpers.decoding.generate` over a cached step). Left out: dropout, the RoPE scaling
variants for longer contexts (NTK, YaRN), sliding-window attention, and padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from helpers.course.training import evaluating
from helpers.decoding.sampling import generate, temperature_config
from helpers.decoding.step import cached_step
from helpers.scaling.attention import IMPLEMENTATIONS, KV, GroupedQueryAttention
from helpers.scaling.layers import RMSNorm, SwiGLU, swiglu_hidden
from helpers.scaling.moe import MoEFeedForward
from helpers.transformer.positions import LearnedPositionalEncoding, sinusoidal_encoding

__all__ = ["ModernBlock", "ModernConfig", "ModernDecoder", "DecoderOutput", "POSITIONS"]

POSITIONS = ("rope", "alibi", "learned", "sinusoidal", "none")


@dataclass
class ModernConfig:
    """Sizes and options of a :class:`ModernDecoder` (defaults: a tiny Llama for a laptop CPU)."""

    vocab_size: int
    block_size: int = 128  # training context; generation slides a window of this length
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None  # None: n_head (multi-head); 1: multi-query
    n_embd: int = 128
    d_ff: int | None = None  # None: 2/3 of 4 n_embd, rounded up to a multiple of 8 (Shazeer 2020)
    position: str = "rope"
    rope_base: float = 10000.0  # Su et al. 2021, equation 15
    norm_eps: float = 1e-5
    n_experts: int = 0  # 0: a dense SwiGLU; else a mixture of experts in every block
    top_k: int = 2  # experts per token (Mixtral: 2 of 8)
    tie_weights: bool = False  # Llama keeps a separate output matrix
    attention: str = "plain"  # "plain" (readable), "tiled" (online softmax) or "fast" (torch's fused kernel)
    block: int = 64  # tile size of attention="tiled"

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"n_embd={self.n_embd} must be n_head={self.n_head} times an even head size (RoPE rotates pairs)")
        self.n_kv_head = self.n_head if self.n_kv_head is None else self.n_kv_head
        if self.n_kv_head < 1 or self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head={self.n_kv_head} must divide n_head={self.n_head}")
        self.d_ff = swiglu_hidden(self.n_embd) if self.d_ff is None else self.d_ff
        if self.position not in POSITIONS:
            raise ValueError(f"position={self.position!r} must be one of {POSITIONS}")
        if self.attention not in IMPLEMENTATIONS:
            raise ValueError(f"attention={self.attention!r} must be one of {IMPLEMENTATIONS}")
        if self.n_experts < 0 or (self.n_experts and not 1 <= self.top_k <= self.n_experts):
            raise ValueError(f"need n_experts >= 0 and 1 <= top_k <= n_experts, got {self.n_experts}, {self.top_k}")


class BlockOutput(NamedTuple):
    output: torch.Tensor
    kv: KV
    router_logits: torch.Tensor | None
    weights: torch.Tensor | None


class ModernBlock(nn.Module):
    """``h + Attention(RMSNorm(h))``, then ``h + FFN(RMSNorm(h))``."""

    def __init__(self, c: ModernConfig):
        super().__init__()
        self.attn_norm = RMSNorm(c.n_embd, c.norm_eps)
        self.attn = GroupedQueryAttention(c.n_embd, c.n_head, c.n_kv_head, c.position, c.rope_base, c.attention, c.block)
        self.ffn_norm = RMSNorm(c.n_embd, c.norm_eps)
        self.ffn = MoEFeedForward(c.n_embd, c.d_ff, c.n_experts, c.top_k) if c.n_experts else SwiGLU(c.n_embd, c.d_ff)

    def forward(self, h: torch.Tensor, past_kv: KV | None = None, need_weights: bool = False) -> BlockOutput:
        a = self.attn(self.attn_norm(h), past_kv, need_weights)
        h = h + a.output
        f = self.ffn(self.ffn_norm(h))
        if isinstance(f, tuple):  # a mixture of experts also returns its router logits
            return BlockOutput(h + f.output, a.kv, f.router_logits, a.weights)
        return BlockOutput(h + f, a.kv, None, a.weights)


class DecoderOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, vocab_size)
    cache: list[KV]  # per layer (keys, values), each (B, n_kv_head, T_so_far, d_head)
    router_logits: tuple[torch.Tensor, ...] | None  # per layer (B * T, n_experts), with experts
    weights: list[torch.Tensor | None]  # per layer (B, n_head, T, T_so_far), with need_weights


class ModernDecoder(nn.Module):
    """Decoder-only transformer: ``forward(idx)`` maps ids (B, T) to logits (B, T, vocab_size)."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        if not isinstance(config, ModernConfig):
            raise ValueError(f"config must be a ModernConfig, got {type(config).__name__}")
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)  # W_e
        self.pos_emb = LearnedPositionalEncoding(c.block_size, c.n_embd) if c.position == "learned" else None
        self.blocks = nn.ModuleList(ModernBlock(c) for _ in range(c.n_layer))
        self.norm_f = RMSNorm(c.n_embd, c.norm_eps)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)  # W_out
        for module in self.modules():  # GPT-2's initialisation (Radford et al. 2019, section 2.3)
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        # Fixed sinusoids have entries of size ~1: as in helpers.transformer.GPT (Vaswani et al. 2017, section 3.4)
        # the token embeddings get unit-size entries too (std n_embd^-1/2, times sqrt(n_embd)).
        self.emb_scale = math.sqrt(c.n_embd) if c.position == "sinusoidal" else 1.0
        if c.position == "sinusoidal":
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=c.n_embd**-0.5)
        for block in self.blocks:  # projections into the residual stream, scaled by 1/sqrt(2 n_layer)
            experts = block.ffn.experts if c.n_experts else [block.ffn]
            for proj in [block.attn.o_proj] + [e.down_proj for e in experts]:
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.run(idx).logits

    def run(self, idx: torch.Tensor, cache: list[KV] | None = None, need_weights: bool = False) -> DecoderOutput:
        """Logits for ``idx`` (B, T), the positions after those in ``cache`` (the previous call's
        ``cache``; None for a fresh start), the new cache, and with experts the router logits."""
        c = self.config
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
            raise ValueError(f"idx must be a (B, T) LongTensor of token ids, got {getattr(idx, 'shape', type(idx).__name__)}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= c.vocab_size):
            raise ValueError(f"token ids must be in [0, {c.vocab_size}), got [{int(idx.min())}, {int(idx.max())}]")
        if cache is not None and len(cache) != c.n_layer:
            raise ValueError(f"cache has {len(cache)} layers, the model has {c.n_layer}: pass the previous run's cache")
        B, T = idx.shape
        past_len = 0 if cache is None else cache[0][0].shape[2]
        h = self.tok_emb(idx) * self.emb_scale  # (B, T, C)
        positions = torch.arange(past_len, past_len + T, device=idx.device)
        if self.pos_emb is not None:  # raises beyond block_size: a learned table has no more rows
            h = h + self.pos_emb(positions)
        elif c.position == "sinusoidal":
            h = h + sinusoidal_encoding(positions, c.n_embd).to(h)
        new_cache, router_logits, weights = [], [], []
        for i, block in enumerate(self.blocks):
            out = block(h, None if cache is None else cache[i], need_weights)
            h = out.output
            new_cache.append(out.kv)
            router_logits.append(out.router_logits)
            weights.append(out.weights)
        logits = self.head(self.norm_f(h))  # (B, T, vocab_size)
        return DecoderOutput(logits, new_cache, tuple(router_logits) if c.n_experts else None, weights)

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Parameters (a tied head counts once); without the token/position tables and an untied
        head when ``include_embeddings=False``."""
        total = sum(p.numel() for p in self.parameters())
        if include_embeddings:
            return total
        tables = self.tok_emb.weight.numel() + (self.pos_emb.embedding.weight.numel() if self.pos_emb else 0)
        return total - tables - (0 if self.config.tie_weights else self.head.weight.numel())

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
        """Continue ``idx`` (B, T) by ``max_new_tokens`` sampled tokens (``temperature=0``: greedy),
        seeing at most the last ``block_size`` tokens, like :meth:`helpers.transformer.GPT.generate`.
        With ``use_cache`` each step feeds only the newest token while the window is not full;
        the tokens are the same either way."""
        config = temperature_config(temperature, top_k)  # generate() checks idx and max_new_tokens
        window = self.config.block_size

        def forward(new_ids, cache):
            out = self.run(new_ids, cache)
            return out.logits, (out.cache if use_cache else None)

        if use_cache:
            step = cached_step(forward, window)
        else:
            def step(ids, state):
                return forward(ids[:, -window:], None)[0], None

        with evaluating(self):
            return generate(step, idx, max_new_tokens, config, generator=generator).sequences
