"""A BERT encoder built from the week-5 transformer parts, its masked-LM head, and weight loading.

Implements BERT as in Devlin et al. 2019, "BERT: pre-training of deep bidirectional
transformers for language understanding" (NAACL), section 3 and Figure 2:

    h_0 = LayerNorm(E_token[ids] + E_position[0..T-1] + E_segment[token_type_ids])
    h_l = PostLN-TransformerBlock_l(h_{l-1}, padding mask)          l = 1..L  (GELU, no causal mask)
    pooled = tanh(W_p h_L[CLS] + b_p)                                the "pooler", for [CLS] tasks
    MLM logits = LayerNorm(GELU(W_t h_L + b_t)) E_token^T + b         the head is tied to E_token

The blocks are :class:`helpers.transformer.TransformerBlock` with ``norm_first=False`` (post-LN,
as in Vaswani et al. 2017 and BERT) and BERT's layer-norm epsilon; attention is bidirectional:
every position sees every other one, except padding (``attention_mask`` 0), which nobody
attends to. :func:`from_huggingface` and :func:`load_state_dict` copy weights from a
``transformers`` ``BertModel`` / ``BertForMaskedLM`` / ``BertForPreTraining`` or a state dict in
their naming (Google's released checkpoints, sentence-transformers' MiniLM). The tests check
the hidden states, the pooler and the MLM logits against ``transformers`` given the same weights.

One departure from :class:`~helpers.transformer.FeedForward`: BERT has no dropout between the
two feed-forward layers, so it is removed here (eval mode is unaffected either way).

Left out: next-sentence prediction (its ``cls.seq_relationship`` weights are skipped when
loading; RoBERTa, Liu et al. 2019, section 4.2, found it unnecessary), relative positions,
cross-attention (BERT as a decoder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.course.training import evaluating
from helpers.transformer.block import TransformerBlock
from helpers.transformer.checks import tracing

__all__ = [
    "BertConfig",
    "BertEncoder",
    "BertForMaskedLM",
    "BertOutput",
    "MLMHead",
    "from_huggingface",
    "load_state_dict",
]


@dataclass
class BertConfig:
    """Size and options of a BERT. Defaults: a tiny BERT that pre-trains on a laptop CPU.

    BERT_BASE is ``n_layer=12, n_embd=768, n_head=12`` (Devlin et al. 2019, section 3: L=12,
    H=768, A=12, 110M parameters); all-MiniLM-L6-v2 is ``n_layer=6, n_embd=384, n_head=12``.
    """

    vocab_size: int = 30522  # BERT's uncased WordPiece vocabulary (Devlin et al. 2019, section 3: 30,000 tokens)
    n_embd: int = 128  # H, the hidden size
    n_layer: int = 2  # L, the number of blocks
    n_head: int = 2  # A, attention heads
    d_ff: int | None = None  # None: 4 H (section 3: "the feed-forward/filter size to be 4H")
    max_position: int = 512  # longest input (appendix A.2: sequences of at most 512 tokens)
    type_vocab_size: int = 2  # segments A and B (section 3, "Input/Output Representations")
    dropout: float = 0.1  # on every layer (appendix A.2)
    eps: float = 1e-12  # layer-norm epsilon of Google's released checkpoints
    pad_id: int = 0  # [PAD] in BERT's vocabulary
    fast: bool = False  # torch.nn.functional.scaled_dot_product_attention instead of the readable path

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "n_layer", "n_head", "max_position", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")

    @classmethod
    def from_huggingface(cls, config, **overrides) -> BertConfig:
        """From a ``transformers.BertConfig`` (or a dict / config.json path in its format)."""
        if isinstance(config, (str, os.PathLike)):
            config = json.loads(Path(config).read_text(encoding="utf-8"))
        get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
        act = get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"hidden_act={act!r}: only BERT's exact GELU is implemented")
        if get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute (learned) position embeddings are implemented")
        values = dict(
            vocab_size=get("vocab_size"), n_embd=get("hidden_size"), n_layer=get("num_hidden_layers"),
            n_head=get("num_attention_heads"), d_ff=get("intermediate_size"), max_position=get("max_position_embeddings"),
            type_vocab_size=get("type_vocab_size"), dropout=get("hidden_dropout_prob", 0.1),
            eps=get("layer_norm_eps", 1e-12), pad_id=get("pad_token_id", 0) or 0,
        )  # fmt: skip
        values.update(overrides)
        return cls(**values)


class BertOutput(NamedTuple):
    hidden: torch.Tensor  # (B, T, H): the last layer's hidden states
    pooled: torch.Tensor | None  # (B, H): tanh(W_p h[CLS] + b_p), None without a pooler
    weights: list[torch.Tensor | None]  # per layer (B, A, T, T), when asked for


class BertEncoder(nn.Module):
    """BERT's encoder: ``forward(ids, attention_mask=None, token_type_ids=None)`` -> (B, T, H)."""

    def __init__(self, config: BertConfig, add_pooler: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise ValueError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd, padding_idx=c.pad_id)  # E_token
        self.pos_emb = nn.Embedding(c.max_position, c.n_embd)  # E_position, learned
        self.seg_emb = nn.Embedding(c.type_vocab_size, c.n_embd)  # E_segment (A / B)
        self.emb_norm = nn.LayerNorm(c.n_embd, eps=c.eps)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(c.n_embd, c.n_head, c.d_ff, c.dropout, norm_first=False, fast=c.fast, eps=c.eps)
            for _ in range(c.n_layer)
        )
        for block in self.blocks:
            block.ff.dropout = nn.Identity()  # BERT: no dropout inside the feed-forward network
        self.pooler = nn.Linear(c.n_embd, c.n_embd) if add_pooler else None  # W_p, b_p
        self.apply(_init_bert)

    def forward(self, ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        return self.run(ids, attention_mask, token_type_ids).hidden

    def run(
        self,
        ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> BertOutput:
        """Hidden states, the pooled [CLS] vector and (with ``need_weights``) the attention
        weights. ``attention_mask`` (B, T) is 1 (or True) for real tokens, 0 for padding."""
        self._check(ids, attention_mask, token_type_ids)
        B, T = ids.shape
        positions = torch.arange(T, device=ids.device)
        segments = torch.zeros_like(ids) if token_type_ids is None else token_type_ids
        x = self.tok_emb(ids) + self.pos_emb(positions) + self.seg_emb(segments)  # (B, T, H)
        x = self.drop(self.emb_norm(x))
        keep = None if attention_mask is None else attention_mask.bool()[:, None, :]  # (B, 1, T): keys one may attend to
        weights = []
        for block in self.blocks:
            out = block.run(x, mask=keep, need_weights=need_weights)
            x = out.output
            weights.append(out.weights)
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None  # (B, H) from [CLS]
        return BertOutput(x, pooled, weights)

    def _check(self, ids, attention_mask, token_type_ids) -> None:
        if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype != torch.long:
            shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"ids must be a (B, T) LongTensor of token ids, got {shape}")
        c = self.config
        if ids.shape[1] > c.max_position:
            raise ValueError(f"{ids.shape[1]} tokens exceed max_position={c.max_position}: truncate the input")
        if not tracing() and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= c.vocab_size):
            raise ValueError(f"token ids must be in [0, {c.vocab_size}), got [{int(ids.min())}, {int(ids.max())}]")
        for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if t is not None and tuple(t.shape) != tuple(ids.shape):
                raise ValueError(f"{name} must have the shape of ids {tuple(ids.shape)}, got {tuple(t.shape)}")

    @torch.no_grad()
    def attention_maps(self, ids, attention_mask=None) -> torch.Tensor:
        """Attention weights of every layer and head: (n_layer, B, n_head, T, T), in eval mode."""
        with evaluating(self):
            return torch.stack(self.run(ids, attention_mask, need_weights=True).weights)


class MLMHead(nn.Module):
    """BERT's masked-LM head: ``LayerNorm(GELU(dense(h))) E_token^T + bias`` -> (.., vocab)."""

    def __init__(self, config: BertConfig, token_embedding: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd)  # W_t, b_t
        self.norm = nn.LayerNorm(config.n_embd, eps=config.eps)
        self.decoder = token_embedding  # tied: the output matrix is E_token (not a copy)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.gelu(self.dense(hidden)))
        return h @ self.decoder.weight.T + self.bias  # (..., vocab_size)


class BertForMaskedLM(nn.Module):
    """An encoder (``.bert``) and the MLM head (``.head``): ``forward`` -> logits (B, T, V)."""

    def __init__(self, config: BertConfig, add_pooler: bool = False):
        super().__init__()
        self.config = config
        self.bert = BertEncoder(config, add_pooler=add_pooler)
        self.head = MLMHead(config, self.bert.tok_emb)
        self.head.apply(_init_bert)

    def forward(self, ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        return self.head(self.bert(ids, attention_mask, token_type_ids))


def _init_bert(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, unit layer norms (the released
    code's ``initializer_range``; Devlin et al. do not state it in the paper)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# ----------------------------------------------------------------------------- weights from Hugging Face
_SKIPPED = ("position_ids", "cls.seq_relationship.", "cls.predictions.decoder.")  # buffer, NSP, the decoder (tied to E_token and cls.predictions.bias)


def _huggingface_names(model: nn.Module) -> dict[str, str]:
    """Our parameter name -> the name in a Hugging Face BERT state dict (without "bert.")."""
    encoder = model.bert if isinstance(model, BertForMaskedLM) else model
    prefix = "bert." if isinstance(model, BertForMaskedLM) else ""
    names = {
        "tok_emb.weight": "embeddings.word_embeddings.weight",
        "pos_emb.weight": "embeddings.position_embeddings.weight",
        "seg_emb.weight": "embeddings.token_type_embeddings.weight",
        "emb_norm.weight": "embeddings.LayerNorm.weight",
        "emb_norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "attn.q_proj": "attention.self.query", "attn.k_proj": "attention.self.key", "attn.v_proj": "attention.self.value",
        "attn.out_proj": "attention.output.dense", "norm1": "attention.output.LayerNorm",
        "ff.fc1": "intermediate.dense", "ff.fc2": "output.dense", "norm2": "output.LayerNorm",
    }  # fmt: skip
    for i in range(len(encoder.blocks)):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"blocks.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    if encoder.pooler is not None:
        names["pooler.weight"], names["pooler.bias"] = "pooler.dense.weight", "pooler.dense.bias"
    names = {prefix + k: v for k, v in names.items()}
    if isinstance(model, BertForMaskedLM):
        names.update({
            "head.dense.weight": "cls.predictions.transform.dense.weight",
            "head.dense.bias": "cls.predictions.transform.dense.bias",
            "head.norm.weight": "cls.predictions.transform.LayerNorm.weight",
            "head.norm.bias": "cls.predictions.transform.LayerNorm.bias",
            "head.bias": "cls.predictions.bias",
        })  # fmt: skip
    return names


def _normalise_key(key: str) -> str:
    """Google's TF-converted checkpoints call layer-norm parameters gamma/beta; drop "bert."."""
    key = key.removeprefix("bert.")
    if key.endswith(".gamma"):
        key = key[: -len("gamma")] + "weight"
    elif key.endswith(".beta"):
        key = key[: -len("beta")] + "bias"
    return key


def load_state_dict(model: BertEncoder | BertForMaskedLM, state_dict: dict[str, torch.Tensor]) -> None:
    """Copy a Hugging Face-named BERT state dict into ``model`` (in place, no grad).

    Every parameter of ``model`` must be found, with its shape. Entries it has no place for are
    skipped when they are next-sentence prediction, the tied decoder, the position-id buffer,
    or a pooler or MLM head that ``model`` lacks (an encoder taken from a pre-training
    checkpoint); anything else left over is an error, so that a wrong checkpoint cannot load
    silently.
    """
    given = {_normalise_key(k): v for k, v in state_dict.items()}
    names = _huggingface_names(model)
    missing = [theirs for theirs in names.values() if theirs not in given]
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} BERT weights, e.g. {missing[:3]}: is it a BERT of this size?")
    # a pooler or an MLM head in the file that this model has no place for may be left behind
    optional = ("pooler.", "cls.")
    used = set(names.values())
    leftover = [k for k in given if k not in used and not k.startswith(optional) and not any(s in k for s in _SKIPPED)]
    if leftover:
        raise ValueError(f"the checkpoint has weights this model does not use: {leftover[:5]}")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for ours, theirs in names.items():
            if params[ours].shape != given[theirs].shape:
                raise ValueError(f"{theirs} has shape {tuple(given[theirs].shape)}, expected {tuple(params[ours].shape)}")
            params[ours].copy_(given[theirs])


def from_huggingface(model, fast: bool = False) -> BertEncoder | BertForMaskedLM:
    """Our copy of a ``transformers`` BERT: a ``BertModel`` becomes a :class:`BertEncoder` (with
    its pooler if it has one); a ``BertForMaskedLM`` or ``BertForPreTraining`` a
    :class:`BertForMaskedLM`. In eval mode, on the device and dtype of the given model."""
    config = BertConfig.from_huggingface(model.config, fast=fast)
    state = model.state_dict()
    has_head = any(k.startswith("cls.predictions.") for k in state)
    has_pooler = any(_normalise_key(k).startswith("pooler.") for k in state)
    ours = BertForMaskedLM(config, add_pooler=has_pooler) if has_head else BertEncoder(config, add_pooler=has_pooler)
    load_state_dict(ours, state)
    weight = next(model.parameters())
    return ours.to(device=weight.device, dtype=weight.dtype).eval()
