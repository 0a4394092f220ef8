"""The week 7 experiments: train tiny language models for a token budget and measure them.

Shared by the notebook (which reruns one point live) and the scripts in ``benchmarks/`` that
run the whole sweep, so a number in ``helpers/scaling/data/sweep.csv`` and the notebook's rerun
come from the same code with the same seed.

- :func:`train_lm`: AdamW with a linear warm-up and a cosine decay to a tenth of the learning
  rate over exactly the token budget (Hoffmann et al. 2022, section 3.1 and Figure A1: a
  cosine cycle longer than the run overestimates the loss of short runs).
- :func:`sweep_point`: one course GPT (:class:`helpers.transformer.GPT`) of a given shape trained on a
  given number of characters of the Wikipedia sample; its validation loss and word-completion
  scores as a CSV row.
- :func:`word_completion_items` and :func:`word_scores`: the emergence task, built from held-out
  text: complete a word from its first letters, as a phone keyboard does. Three scores of the
  same predictions: per-letter accuracy (teacher forced: is each letter the most likely one
  given the prompt and the true letters before it?), the mean log-probability per letter, and
  exact match: every letter right, which is what greedy decoding of the whole completion
  needs. Schaeffer et al. (2023) show that such all-or-nothing metrics make smooth progress
  look like a sudden ability.
- :func:`loss_by_position`: mean next-token loss at each position of windows longer than the
  training context (Press et al. 2022 evaluate extrapolation this way, Figure 1).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn

from helpers.data.chars import char_corpus, random_windows
from helpers.data.vocab import Vocab
from helpers.transformer.gpt import GPT, GPTConfig, evaluate_loss, lm_loss

__all__ = [
    "SWEEP_FIELDS",
    "SWEEP_LR",
    "SWEEP_SIZES",
    "SWEEP_TOKENS",
    "CharData",
    "char_data",
    "load_results",
    "loss_by_position",
    "sweep_point",
    "train_lm",
    "word_completion_items",
    "word_scores",
]


@dataclass(frozen=True)
class CharData:
    vocab: Vocab
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    val_text: str


def char_data(min_count: int = 20) -> CharData:
    """The Wikipedia sample as characters, split by article (the split and vocabulary of week 5)."""
    train_text, val_text, _ = char_corpus("wikipedia")
    vocab = Vocab.from_text(train_text, min_count=min_count)
    return CharData(vocab, vocab.encode(train_text), vocab.encode(val_text), val_text)


def train_lm(
    model: nn.Module,
    train_ids: torch.Tensor,
    tokens: int,
    block_size: int = 64,
    batch_size: int = 32,
    lr: float = 3e-3,
    warmup: int | None = None,
    seed: int = 0,
) -> float:
    """Train ``model`` (ids (B, T) -> logits) on ``tokens`` tokens of random windows; returns the
    seconds spent. The number of steps is tokens / (batch_size x block_size), rounded up.

    ``warmup`` (steps; default min(200, half the steps)): shorter warm-ups left the wider models
    stuck near the bigram loss for hundreds of steps (measured on the 40-wide model at 1M
    characters: 2.54 nats per character after a 50-step warm-up, 2.19 after 200)."""
    if tokens < 1 or block_size < 1 or batch_size < 1:
        raise ValueError(f"tokens={tokens}, block_size={block_size} and batch_size={batch_size} must be positive")
    steps = math.ceil(tokens / (batch_size * block_size))
    warmup = min(200, steps // 2) if warmup is None else warmup
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)

    def schedule(step: int) -> float:  # warm-up, then cosine from 1 to 0.1 over the remaining steps
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    batches = random_windows(train_ids, block_size, batch_size, torch.Generator().manual_seed(seed))
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        x, y = next(batches)
        loss = lm_loss(model, (x.to(device), y.to(device)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    model.eval()
    return time.perf_counter() - start


_WORD = re.compile(r"(?<= )[a-z]+(?=[ ,.;:])")


def word_completion_items(
    text: str, n_items: int = 2000, context: int = 48, given: int = 3, min_letters: int = 6, max_letters: int = 13, seed: int = 0
) -> list[tuple[str, str]]:
    """``n_items`` (prompt, completion) pairs from ``text``, as a phone keyboard meets them: the
    prompt is ``context`` characters before a lowercase word of ``min_letters`` to
    ``max_letters`` letters plus its first ``given`` letters; the completion is the rest of the
    word. Chosen at random with ``seed``; prompt and completion fit in 64 characters by default.

    >>> word_completion_items("the cat sat on the keyboard today.", 1, context=4)
    [('the key', 'board')]
    """
    if context < 1 or given < 0 or not given < min_letters <= max_letters or n_items < 1:
        raise ValueError(
            f"need context={context} >= 1, n_items={n_items} >= 1 and 0 <= given={given} < min_letters={min_letters} "
            f"<= max_letters={max_letters}"
        )
    found = [
        (m.start(), m.group()) for m in _WORD.finditer(text)
        if min_letters <= len(m.group()) <= max_letters and m.start() >= context
    ]  # fmt: skip
    if len(found) < n_items:
        raise ValueError(f"the text holds {len(found)} words of {min_letters}-{max_letters} letters after {context} characters; asked for {n_items}")
    order = torch.randperm(len(found), generator=torch.Generator().manual_seed(seed))[:n_items].sort().values
    items = []
    for i in order.tolist():
        start, word = found[i]
        items.append((text[start - context : start] + word[:given], word[given:]))
    return items


@torch.no_grad()
def word_scores(model: nn.Module, vocab: Vocab, items, batch_size: int = 256) -> dict[str, float]:
    """Per-letter accuracy, mean log-probability per letter (nats) and exact-match accuracy of
    ``model`` on the (context, word) ``items`` (see the module docstring)."""
    device = next(model.parameters()).device
    model.eval()
    correct = log_prob = letters = exact = 0.0
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        width = max(len(c) + len(w) for c, w in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        target = torch.zeros(len(chunk), width - 1, dtype=torch.bool)  # which predictions are letters of the word
        for row, (c, w) in enumerate(chunk):
            text = vocab.encode(c + w)
            ids[row, : len(text)] = text
            target[row, len(c) - 1 : len(c) + len(w) - 1] = True
        logits = model(ids[:, :-1].to(device)).float().cpu()  # (n, width - 1, V)
        truth = ids[:, 1:]
        hits = (logits.argmax(-1) == truth) & target  # (n, width - 1)
        lp = torch.log_softmax(logits, -1).gather(-1, truth[..., None])[..., 0]  # (n, width - 1)
        correct += hits.sum().item()
        log_prob += lp[target].sum().item()
        letters += target.sum().item()
        exact += (hits.sum(1) == target.sum(1)).sum().item()  # greedy gets the word iff every letter is the argmax
    return {"letter_accuracy": correct / letters, "letter_log_prob": log_prob / letters, "exact_match": exact / len(items)}


SWEEP_SIZES = ((1, 16, 2), (2, 24, 2), (2, 40, 2), (3, 56, 4), (4, 72, 4))  # (n_layer, n_embd, n_head)
SWEEP_TOKENS = (500_000, 1_000_000, 2_000_000, 4_000_000)  # characters; the training text has 2.3M
SWEEP_LR = 1e-2  # the best of 3e-3, 5e-3, 1e-2, 2e-2 for the smallest and a large size at 0.5M-1M tokens

SWEEP_FIELDS = (
    "n_layer", "n_embd", "n_head", "parameters", "non_embedding", "tokens", "train_flops", "val_loss",
    "letter_accuracy", "letter_log_prob", "exact_match", "seconds", "seed",
)  # fmt: skip


def sweep_point(
    data: CharData,
    n_layer: int,
    n_embd: int,
    n_head: int,
    tokens: int,
    seed: int = 0,
    lr: float = SWEEP_LR,
    block_size: int = 64,
    items=None,
    eval_tokens: int = 131_072,
) -> dict[str, float]:
    """Train one course GPT for ``tokens`` characters and measure it (a row of the sweep CSV).

    ``train_flops`` is 6 N D with N the non-embedding parameters (Kaplan et al. 2020)."""
    from helpers.scaling.counting import count_parameters

    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=len(data.vocab), block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, fast=True)
    model = GPT(config)
    seconds = train_lm(model, data.train_ids, tokens, block_size=block_size, lr=lr, seed=seed)
    n = count_parameters(config)
    row = {
        "n_layer": n_layer, "n_embd": n_embd, "n_head": n_head, "parameters": n.total, "non_embedding": n.non_embedding,
        "tokens": tokens, "train_flops": 6 * n.non_embedding * tokens,
        "val_loss": evaluate_loss(model, data.val_ids, block_size, max_tokens=eval_tokens),
        "seconds": round(seconds, 2), "seed": seed,
    }  # fmt: skip
    if items is not None:
        row.update(word_scores(model, data.vocab, items))
    return row


@torch.no_grad()
def loss_by_position(model: nn.Module, ids: torch.Tensor, length: int, n_windows: int = 64, batch_size: int = 16) -> torch.Tensor:
    """Mean next-token loss (nats) at each position 0..length-1 of ``n_windows`` consecutive,
    non-overlapping windows of ``ids``, each read without earlier context: shape (length,)."""
    if ids.ndim != 1 or len(ids) < n_windows * length + 1:
        raise ValueError(f"need {n_windows * length + 1} ids for {n_windows} windows of {length}, got {len(ids)}")
    device = next(model.parameters()).device
    model.eval()
    total = torch.zeros(length)
    starts = torch.arange(n_windows) * length
    for chunk in starts.split(batch_size):
        windows = ids[chunk[:, None] + torch.arange(length + 1)].to(device)  # (b, length + 1)
        logits = model(windows[:, :-1]).float()  # (b, length, V)
        loss = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")  # (b, length)
        total += loss.sum(0).cpu()
    return total / n_windows


def load_results(name: str = "sweep"):
    """A committed table of results as a ``pandas.DataFrame``: ``"sweep"`` (made by
    ``benchmarks/scaling_sweep.py``) or ``"extrapolation"`` (``benchmarks/scaling_extrapolation.py``).
    They ship with the package (``helpers/scaling/data/``), so the notebook finds them in Colab."""
    import pandas as pd

    path = resources.files("helpers.scaling") / "data" / f"{name}.csv"
    if not path.is_file():
        raise ValueError(f"no results named {name!r}: run benchmarks/scaling_{name}.py to make helpers/scaling/data/{name}.csv")
    with path.open() as f:
        return pd.read_csv(f)
