"""Fine-tuning a pre-trained encoder for sentence classification.

Implements the recipe of Devlin et al. 2019 (BERT, NAACL), section 4.1 and appendix A.3: a
linear layer on top of a sentence vector, trained with the whole network by cross-entropy,
with Adam(W), a small learning rate (they searched 5e-5, 3e-5, 2e-5), batch sizes of 16 or 32,
a few epochs, linear warm-up over the first 10% of steps and linear decay to zero, and no
weight decay on biases and layer-norm parameters (their released ``optimization.py``). Two
sentence vectors are offered:

- ``pooling="cls"``: BERT's pooler, ``tanh(W_p h[CLS] + b_p)`` (section 4.1); with it the
  classifier equals ``transformers.BertForSequenceClassification`` given the same weights;
- ``pooling="mean"``: the mean of the last hidden states over real tokens (Sentence-BERT,
  Reimers & Gurevych 2019), what the course's MiniLM was trained to produce.

Two ways to change less of the network than all of it:

- ``freeze_layers(model, k)``: the embeddings and the lowest ``k`` blocks stop learning
  (``k = n_layer``: the whole encoder is frozen and only the head learns, a linear probe);
- ``parameter_groups(..., layer_decay=xi)``: per-group learning rates, the head at ``head_lr``
  and block l (counted from the top) at ``lr * xi**l``, the embeddings lowest ("discriminative
  fine-tuning", Howard & Ruder 2018, ULMFiT, section 3.2; Sun et al. 2019, "How to fine-tune
  BERT for text classification?", section 5.3, layer-wise decay 0.95).

Left out: gradual unfreezing schedules, early stopping, mixed precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.course.training import History, evaluating, train_loop
from helpers.pretraining.bert import BertEncoder
from helpers.pretraining.pretrained import mean_pool
from helpers.pretraining.tokenizer import pad_batch

__all__ = [
    "ClassifierBatch",
    "SequenceClassifier",
    "accuracy",
    "classification_batches",
    "classification_loss",
    "count_parameters",
    "fine_tune",
    "freeze_layers",
    "parameter_groups",
    "predict",
]

POOLINGS = ("cls", "mean")


class SequenceClassifier(nn.Module):
    """An encoder and a linear head: ``forward(ids, attention_mask)`` -> logits (B, n_classes)."""

    def __init__(self, encoder: BertEncoder, n_classes: int, pooling: str = "mean", dropout: float | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r} must be one of {POOLINGS}")
        if pooling == "cls" and encoder.pooler is None:
            raise ValueError("pooling='cls' needs an encoder with a pooler (BertEncoder(config, add_pooler=True))")
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r} must be an integer of at least 2")
        self.encoder, self.pooling, self.n_classes = encoder, pooling, n_classes
        self.drop = nn.Dropout(encoder.config.dropout if dropout is None else dropout)
        self.head = nn.Linear(encoder.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)  # BERT's initialisation
        nn.init.zeros_(self.head.bias)

    def features(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The sentence vectors the head reads: (B, H)."""
        out = self.encoder.run(ids, attention_mask)
        if self.pooling == "cls":
            return out.pooled
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask
        return mean_pool(out.hidden, mask)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.drop(self.features(ids, attention_mask)))  # (B, n_classes)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (tied ones once); with ``trainable_only``, those that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _is_encoder(module) -> bool:
    # by its parts, not its class: a copy of the module (fresh_import in tests) has other classes
    return all(hasattr(module, name) for name in ("tok_emb", "pos_emb", "seg_emb", "emb_norm", "blocks", "config"))


def _encoder(model: nn.Module) -> BertEncoder:
    encoder = model if _is_encoder(model) else getattr(model, "encoder", getattr(model, "bert", None))
    if not _is_encoder(encoder):
        raise ValueError(f"expected a BertEncoder or a model holding one as .encoder or .bert, got {type(model).__name__}")
    return encoder


def freeze_layers(model: nn.Module, k: int | None) -> nn.Module:
    """Freeze the embeddings and the lowest ``k`` blocks of ``model``'s encoder (in place);
    everything else is made trainable. ``k=None`` trains everything; ``k=0`` freezes only the
    embeddings; ``k=n_layer`` the whole encoder but its pooler. Returns ``model``.

    Frozen parameters get ``requires_grad=False``: no gradients, no optimiser state, and
    :func:`parameter_groups` leaves them out.
    """
    encoder = _encoder(model)
    n = len(encoder.blocks)
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= n):
        raise ValueError(f"freeze_layers={k!r} must be None (train everything) or an integer in [0, {n}]")
    for p in model.parameters():
        p.requires_grad_(True)
    if k is None:
        return model
    frozen = [encoder.tok_emb, encoder.pos_emb, encoder.seg_emb, encoder.emb_norm, *encoder.blocks[:k]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return model


def _depth(name: str, n_layer: int) -> int:
    """How far below the top a parameter sits: 0 for the head and pooler, l + 1 for block
    n_layer - 1 - l, n_layer + 1 for the embeddings."""
    parts = name.split(".")
    if "blocks" in parts:
        index = int(parts[parts.index("blocks") + 1])
        return n_layer - index
    if any(p.endswith("_emb") or p == "emb_norm" for p in parts):
        return n_layer + 1
    return 0


def parameter_groups(
    model: nn.Module,
    lr: float,
    head_lr: float | None = None,
    layer_decay: float = 1.0,
    weight_decay: float = 0.01,
) -> list[dict]:
    """Parameter groups for ``torch.optim.AdamW``: trainable parameters only, each with its
    learning rate and weight decay.

    The head (and the pooler) learn at ``head_lr`` (default ``lr``); the top block at ``lr``,
    each block below at ``layer_decay`` times the one above, and the embeddings below the lowest
    block. Biases and layer-norm parameters get no weight decay (BERT's optimiser).

    >>> from helpers.pretraining.bert import BertConfig
    >>> clf = SequenceClassifier(BertEncoder(BertConfig(vocab_size=50, n_layer=2)), n_classes=3)
    >>> sorted({g["lr"] for g in parameter_groups(clf, lr=1e-4, head_lr=1e-3, layer_decay=0.5)})
    [2.5e-05, 5e-05, 0.0001, 0.001]
    """
    if not lr > 0 or (head_lr is not None and not head_lr > 0):
        raise ValueError(f"learning rates must be positive, got lr={lr}, head_lr={head_lr}")
    if not 0 < layer_decay <= 1:
        raise ValueError(f"layer_decay={layer_decay} must be in (0, 1] (1: the same rate everywhere)")
    n_layer = len(_encoder(model).blocks)
    norms = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        depth = _depth(name, n_layer)
        rate = (head_lr or lr) if depth == 0 else lr * layer_decay ** (depth - 1)
        decay = 0.0 if (name.endswith("bias") or id(p) in norms) else weight_decay
        groups.setdefault((rate, decay), []).append(p)
    if not groups:
        raise ValueError("the model has no trainable parameters: did you freeze everything?")
    return [{"params": ps, "lr": rate, "weight_decay": decay} for (rate, decay), ps in groups.items()]


class ClassifierBatch(NamedTuple):
    ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B,)


def classification_batches(
    ids: Sequence[Sequence[int]],
    labels: Sequence[int],
    batch_size: int = 16,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    pad_id: int = 0,
    device: torch.device | str | None = None,
) -> Iterator[ClassifierBatch]:
    """Endless padded batches of (ids, attention mask, labels), a new shuffle every epoch
    (reproducible with ``generator``); without ``shuffle``, the data in order, once."""
    if len(ids) != len(labels) or len(ids) == 0:
        raise ValueError(f"need as many labels as texts, and at least one: got {len(ids)} texts, {len(labels)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be positive")
    y = torch.as_tensor(list(labels), dtype=torch.long)
    while True:
        order = torch.randperm(len(ids), generator=generator) if shuffle else torch.arange(len(ids))
        for chunk in order.split(batch_size):
            b = pad_batch([ids[i] for i in chunk.tolist()], pad_id)
            yield ClassifierBatch(b.ids.to(device), b.attention_mask.to(device), y[chunk].to(device))
        if not shuffle:
            return


def classification_loss(model: nn.Module, batch: ClassifierBatch) -> torch.Tensor:
    """Mean cross-entropy of ``model(ids, mask)`` against the labels: a ``loss_fn`` for
    :func:`helpers.course.training.train_loop`."""
    return F.cross_entropy(model(batch.ids, batch.attention_mask), batch.labels)


def fine_tune(
    model: nn.Module,
    ids: Sequence[Sequence[int]],
    labels: Sequence[int],
    *,
    epochs: float = 3.0,
    min_steps: int = 0,
    batch_size: int = 16,
    lr: float = 5e-5,
    head_lr: float | None = None,
    layer_decay: float = 1.0,
    weight_decay: float = 0.01,
    freeze: int | None = None,
    warmup: float = 0.1,
    seed: int = 0,
    eval_fn=None,
    eval_every: int | None = None,
    progress: bool = True,
    desc: str = "fine-tuning",
) -> History:
    """Fine-tune ``model`` (a :class:`SequenceClassifier`) on tokenised texts and their labels.

    Trains ``max(min_steps, ceil(epochs * N / batch_size))`` steps of AdamW on shuffled batches
    (``seed``), with ``freeze_layers(model, freeze)`` first, the learning rates of
    :func:`parameter_groups`, linear warm-up over the first ``warmup`` fraction of the steps and
    linear decay to 0, and gradients clipped at norm 1. Returns the :class:`History`.
    """
    if not epochs > 0 or min_steps < 0:
        raise ValueError(f"epochs={epochs} must be positive and min_steps={min_steps} non-negative")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup={warmup} is a fraction of the steps, in [0, 1)")
    freeze_layers(model, freeze)
    steps = max(min_steps, math.ceil(epochs * len(ids) / batch_size))
    optimizer = torch.optim.AdamW(parameter_groups(model, lr, head_lr, layer_decay, weight_decay), betas=(0.9, 0.999), eps=1e-6)
    n_warm = max(1, round(warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / n_warm, max(0.0, (steps - s) / max(1, steps - n_warm)))
    )
    device = next(model.parameters()).device
    pad_id = _encoder(model).config.pad_id
    batches = classification_batches(ids, labels, batch_size, torch.Generator().manual_seed(seed), pad_id=pad_id, device=device)
    return train_loop(model, batches, classification_loss, optimizer, steps, scheduler=schedule, grad_clip=1.0,
                      eval_fn=eval_fn, eval_every=eval_every, progress=progress, desc=desc)  # fmt: skip


@torch.no_grad()
def predict(model: nn.Module, ids: Sequence[Sequence[int]], batch_size: int = 64) -> torch.Tensor:
    """Predicted class of every tokenised text (N,), in eval mode; batches sorted by length."""
    device = next(model.parameters()).device
    pad_id = _encoder(model).config.pad_id
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = torch.empty(len(ids), dtype=torch.long)
    with evaluating(model):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            b = pad_batch([ids[i] for i in chunk], pad_id)
            out[chunk] = model(b.ids.to(device), b.attention_mask.to(device)).argmax(-1).cpu()
    return out


def accuracy(predicted, labels) -> float:
    """Share of predictions equal to the labels."""
    predicted, labels = torch.as_tensor(predicted), torch.as_tensor(labels)
    if predicted.shape != labels.shape or labels.numel() == 0:
        raise ValueError(f"predictions {tuple(predicted.shape)} and labels {tuple(labels.shape)} must match and be non-empty")
    return (predicted == labels).double().mean().item()
