"""Counting a transformer: parameters, FLOPs per token, training memory, KV-cache bytes.

Implements the accounting of Kaplan et al. 2020 ("Scaling laws for neural language models",
arXiv:2001.08361, section 2.1 and Table 1) for a decoder-only transformer with n_layer layers of
width d_model, attention width d_attn = n_head d_head and feed-forward width d_ff:

    N = 2 d_model n_layer (2 d_attn + d_ff)            non-embedding weights (12 n_layer d_model^2
                                                        when d_attn = d_model, d_ff = 4 d_model)
    C_forward = 2 N + 2 n_layer n_ctx d_attn           FLOPs per token of a forward pass
    C_train = 3 C_forward ~ 6 N                        forward + backward (the backward costs twice)

A multiply-add counts as 2 FLOPs. Besides Kaplan's approximation, :func:`flops_per_token` gives
the exact number of matrix-multiply FLOPs that ``torch.utils.flop_counter.FlopCounterMode``
counts for the course's models (tests/scaling/test_counting.py checks it): every projection,
the output layer (Kaplan's "de-embed", 2 d_model n_vocab, which his N leaves out), and both
products of attention, q k^T and weights @ v, over the whole context (4 n_layer n_ctx d_attn:
Table 1 lists 2 n_layer n_ctx d_attn, one product's worth, e.g. with a causal mask halving both).
Norms, activations, softmax and RoPE are elementwise work, left out by both (sub-leading).

The same counts cover the modern variants of :mod:`helpers.scaling.decoder`: grouped-query
attention (n_kv_head key/value heads, Ainslie et al. 2023), a SwiGLU feed-forward with three
matrices (Shazeer 2020) and a mixture of experts, where a token passes through top_k of n_experts
feed-forwards (total parameters grow with n_experts, FLOPs per token only with top_k).

Memory: training with Adam keeps the weights, their gradients and two moments per weight:
16 bytes per parameter in fp32 (4 + 4 + 8); mixed precision keeps fp16 weights and gradients plus
an fp32 master copy and moments, also 16 bytes (Rajbhandari et al. 2020, ZeRO, section 3.1:
2 + 2 + 12). Activations are left out: they depend on batch, length and recomputation. The KV
cache holds keys and values of every layer: 2 n_layer n_kv_head d_head values per token.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FlopCount",
    "ParameterCount",
    "TrainingMemory",
    "TransformerShape",
    "count_parameters",
    "flops_per_token",
    "kv_cache_bytes",
    "shape_of",
    "training_memory",
]

FFN_KINDS = ("mlp", "swiglu")  # two matrices with GELU/ReLU (GPT), three with SwiGLU (Llama)
NORM_KINDS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class TransformerShape:
    """The sizes that determine a decoder-only transformer's parameters and FLOPs.

    Defaults give GPT-2's layout (Radford et al. 2019): learned positions, biases, layer norm
    with a bias, a tied output layer, d_attn = d_model and d_ff = 4 d_model.
    """

    vocab_size: int
    n_ctx: int  # the context length (learned position table; FLOPs of attention)
    n_layer: int
    d_model: int
    n_head: int
    d_attn: int | None = None  # n_head x d_head; None: d_model (Kaplan et al.'s d_attn)
    n_kv_head: int | None = None  # None: n_head (multi-head); 1: multi-query (Shazeer 2019)
    d_ff: int | None = None  # None: 4 d_model
    ffn: str = "mlp"
    n_experts: int = 0  # 0: a dense feed-forward
    top_k: int = 2
    bias: bool = True  # biases in linear layers (and in layer norms)
    norm: str = "layernorm"
    learned_positions: bool = True
    tie_embeddings: bool = True
    final_norm: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "n_ctx", "n_layer", "d_model", "n_head"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        for name, default in (("d_attn", self.d_model), ("n_kv_head", self.n_head), ("d_ff", 4 * self.d_model)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        if self.n_kv_head < 1 or self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head={self.n_kv_head} must divide n_head={self.n_head}")
        if self.n_kv_head != self.n_head and self.d_attn % self.n_head:
            raise ValueError(f"d_attn={self.d_attn} must be a multiple of n_head={self.n_head} for grouped-query attention")
        if self.ffn not in FFN_KINDS or self.norm not in NORM_KINDS:
            raise ValueError(f"ffn={self.ffn!r} must be one of {FFN_KINDS}, norm={self.norm!r} one of {NORM_KINDS}")
        if self.n_experts < 0 or (self.n_experts and not 1 <= self.top_k <= self.n_experts):
            raise ValueError(f"need n_experts >= 0 and 1 <= top_k <= n_experts, got {self.n_experts}, {self.top_k}")

    @property
    def d_head(self) -> float:
        return self.d_attn / self.n_head

    @property
    def d_kv(self) -> int:
        """Width of the keys (and of the values) of one layer: n_kv_head x d_head."""
        return self.d_attn * self.n_kv_head // self.n_head


def shape_of(config) -> TransformerShape:
    """The :class:`TransformerShape` of a course model's config (``helpers.transformer.GPTConfig`` or
    ``helpers.scaling.ModernConfig``), of a model that has a ``config``, or a shape itself."""
    if isinstance(config, TransformerShape):
        return config
    config = getattr(config, "config", config)  # a model: use its config
    kind = type(config).__name__
    if kind == "GPTConfig":
        c = config
        return TransformerShape(
            vocab_size=c.vocab_size, n_ctx=c.block_size, n_layer=c.n_layer, d_model=c.n_embd, n_head=c.n_head,
            d_ff=c.d_ff or 4 * c.n_embd, ffn="mlp", bias=c.bias, norm="layernorm",
            learned_positions=c.pos_encoding == "learned", tie_embeddings=c.tie_weights, final_norm=c.norm_first,
        )  # fmt: skip
    if kind == "ModernConfig":
        c = config
        return TransformerShape(
            vocab_size=c.vocab_size, n_ctx=c.block_size, n_layer=c.n_layer, d_model=c.n_embd, n_head=c.n_head,
            n_kv_head=c.n_kv_head, d_ff=c.d_ff, ffn="swiglu", n_experts=c.n_experts, top_k=c.top_k, bias=False,
            norm="rmsnorm", learned_positions=c.position == "learned", tie_embeddings=c.tie_weights,
        )  # fmt: skip
    raise ValueError(f"cannot count a {kind}: pass a GPTConfig, a ModernConfig or a TransformerShape")


@dataclass(frozen=True)
class ParameterCount:
    """Where the parameters are. ``total`` is what ``sum(p.numel() for p in model.parameters())``
    gives; ``non_embedding`` leaves out the token and position tables and an untied output layer;
    ``kaplan`` is Kaplan et al.'s N, the weight matrices of the blocks only (no biases, norms)."""

    embedding: int  # token table (+ learned positions)
    attention: int  # q, k, v, o projections of all layers, with biases
    feed_forward: int  # feed-forward (all experts, and routers) of all layers, with biases
    norms: int  # every norm's gain (and bias)
    head: int  # an untied output layer (0 when tied to the token table)
    kaplan: int

    @property
    def total(self) -> int:
        return self.embedding + self.attention + self.feed_forward + self.norms + self.head

    @property
    def non_embedding(self) -> int:
        return self.attention + self.feed_forward + self.norms


def _layer_weights(s: TransformerShape) -> tuple[int, int, int, int]:
    """Per layer: attention weights, attention biases, feed-forward weights (all experts and the
    router), feed-forward weights a token uses (top_k experts and the router)."""
    d, kv = s.d_model, s.d_kv
    attn = d * s.d_attn + 2 * d * kv + s.d_attn * d  # W^Q, W^K, W^V, W^O
    attn_bias = (s.d_attn + 2 * kv + d) if s.bias else 0
    one_ffn = (3 if s.ffn == "swiglu" else 2) * d * s.d_ff
    if s.n_experts:
        router = d * s.n_experts
        return attn, attn_bias, s.n_experts * one_ffn + router, s.top_k * one_ffn + router
    return attn, attn_bias, one_ffn, one_ffn


def count_parameters(config) -> ParameterCount:
    """Parameters of a model with this config, by part (see :class:`ParameterCount`).

    >>> from helpers.scaling.published import GPT2
    >>> n = count_parameters(GPT2["small"])
    >>> n.total, n.kaplan  # Kaplan's N = 12 n_layer d_model^2 for GPT-2's shapes
    (124439808, 84934656)
    """
    s = shape_of(config)
    attn, attn_bias, ffn, _ = _layer_weights(s)
    ffn_bias = 0
    if s.bias:
        ffn_bias = (s.d_ff * (2 if s.ffn == "swiglu" else 1) + s.d_model) * max(1, s.n_experts)
    norm_size = s.d_model * (2 if s.norm == "layernorm" and s.bias else 1)
    n_norms = 2 * s.n_layer + (1 if s.final_norm else 0)
    embedding = s.vocab_size * s.d_model + (s.n_ctx * s.d_model if s.learned_positions else 0)
    kaplan = s.n_layer * (attn + ffn)
    return ParameterCount(
        embedding=embedding,
        attention=s.n_layer * (attn + attn_bias),
        feed_forward=s.n_layer * (ffn + ffn_bias),
        norms=n_norms * norm_size,
        head=0 if s.tie_embeddings else s.vocab_size * s.d_model,
        kaplan=kaplan,
    )


@dataclass(frozen=True)
class FlopCount:
    """Matrix-multiply FLOPs per token of one forward pass over a context of ``n_ctx`` tokens."""

    projections: int  # 2 x the weights a token passes through in the blocks
    attention: int  # q k^T and weights @ v against the whole context: 4 n_layer n_ctx d_attn
    head: int  # the output layer ("de-embed"): 2 d_model n_vocab
    kaplan_forward: int  # Kaplan et al. 2020, Table 1: 2 N + 2 n_layer n_ctx d_attn
    n_active: int  # parameters a token uses in the blocks (Kaplan's N; top_k experts for MoE)

    @property
    def forward(self) -> int:
        return self.projections + self.attention + self.head

    @property
    def backward(self) -> int:
        """Gradients with respect to the inputs and the weights of every product: twice the forward."""
        return 2 * self.forward

    @property
    def train(self) -> int:
        return self.forward + self.backward

    @property
    def kaplan_train(self) -> int:
        """The rule of thumb ``6 N`` per training token (Kaplan et al. 2020, section 2.1)."""
        return 6 * self.n_active


def flops_per_token(config, context: int | None = None) -> FlopCount:
    """FLOPs per token of a forward pass with ``context`` tokens (default: the config's n_ctx).

    >>> from helpers.scaling.published import GPT3
    >>> f = flops_per_token(GPT3["175B"])
    >>> round(f.kaplan_train * 300e9 / 1e23, 2)  # 6 N D for 300B training tokens
    3.13
    """
    s = shape_of(config)
    n_ctx = s.n_ctx if context is None else context
    if not isinstance(n_ctx, int) or n_ctx < 1:
        raise ValueError(f"context={context!r} must be a positive number of tokens")
    attn, _, _, ffn_active = _layer_weights(s)
    n_active = s.n_layer * (attn + ffn_active)
    return FlopCount(
        projections=2 * n_active,
        attention=4 * s.n_layer * n_ctx * s.d_attn,
        head=2 * s.d_model * s.vocab_size,
        kaplan_forward=2 * n_active + 2 * s.n_layer * n_ctx * s.d_attn,
        n_active=n_active,
    )


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes of what training keeps besides the activations."""

    weights: int
    gradients: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer


PRECISIONS = {  # bytes per parameter: weights, gradients, optimizer state (Adam)
    "fp32": (4, 4, 8),  # two fp32 moments
    "mixed": (2, 2, 12),  # fp16 weights and gradients; fp32 master weights and moments (ZeRO, 3.1)
}


def training_memory(parameters, precision: str = "fp32", optimizer: str = "adam") -> TrainingMemory:
    """Memory for the weights, gradients and optimizer state of ``parameters`` (a count, a
    config or a :class:`ParameterCount`). ``optimizer``: "adam" (two moments) or "sgd" (none).

    >>> training_memory(1_000_000).total  # 16 bytes per parameter
    16000000
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} must be one of {tuple(PRECISIONS)}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer={optimizer!r} must be 'adam' or 'sgd'")
    if isinstance(parameters, ParameterCount):
        n = parameters.total
    elif isinstance(parameters, int) and not isinstance(parameters, bool):
        n = parameters
    else:
        n = count_parameters(parameters).total
    if n < 0:
        raise ValueError(f"the number of parameters must be >= 0, got {n}")
    w, g, o = PRECISIONS[precision]
    if optimizer == "sgd":
        o = 4 if precision == "mixed" else 0  # mixed precision still keeps fp32 master weights
    return TrainingMemory(weights=w * n, gradients=g * n, optimizer=o * n)


def kv_cache_bytes(config, tokens: int = 1, batch: int = 1, bytes_per_value: int = 4) -> int:
    """Bytes of the keys and values cached for ``batch`` sequences of ``tokens`` tokens:
    ``2 n_layer n_kv_head d_head`` values per token (keys and values of every layer).

    >>> from helpers.scaling.published import GPT3
    >>> kv_cache_bytes(GPT3["175B"], tokens=2048, bytes_per_value=2) / 2**30  # GiB, fp16
    9.0
    """
    for name, value in (("tokens", tokens), ("batch", batch), ("bytes_per_value", bytes_per_value)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}={value!r} must be a non-negative integer")
    s = shape_of(config)
    return 2 * s.n_layer * s.d_kv * tokens * batch * bytes_per_value
