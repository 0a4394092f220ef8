"""The model week 11 compresses: week 5's character-level GPT, 128 wide, trained once (600 steps)
and shipped with the package, so that the lecture does not spend its two minutes training.

The recipe (:func:`train_teacher`) is week 5's (section 6; the leaderboard's ``char-gpt``) at a
lower learning rate: AdamW at 3e-3 (week 5's 1e-2 stalls at the bigram model's loss at this
width: 2.49 nats per character after 1,500 steps, measured) with betas (0.9, 0.99) and weight decay 0.01, 20 warm-up steps then a cosine
decay, gradient clipping at 1, random windows of 64 characters, 32 per batch, on the training
part of the Wikipedia sample (``char_corpus("wikipedia")``), characters seen fewer than 20
times mapped to one unknown symbol; 2 layers, 4 heads, width 128 (so that groups of 128 inputs
exist for int4 group-wise quantization). :func:`load_teacher` reads the shipped weights
(``results/char_gpt_teacher.pt``, checked by its SHA-256) and retrains with the same recipe
when the file is missing or altered; ``python -m helpers.compression.teacher`` rewrites it.
The validation and test parts of the sample are never used here.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch

from helpers.course.training import seed_everything, train_loop
from helpers.data.chars import char_corpus, random_windows
from helpers.data.vocab import Vocab
from helpers.transformer.gpt import GPT, GPTConfig, lm_loss

__all__ = ["TEACHER_PATH", "TEACHER_STEPS", "load_teacher", "teacher_config", "teacher_vocab", "train_teacher"]

TEACHER_PATH = Path(__file__).parent / "results" / "char_gpt_teacher.pt"
TEACHER_STEPS, BLOCK, BATCH, LR, WARMUP = 600, 64, 32, 3e-3, 20
TEACHER_SHA256 = "a43e0ea10cab1a6081a4f372d62d2b7aeac7833707715e49cb1b8848411872d2"  # of the shipped file; rewrite after retraining


def teacher_vocab() -> tuple[Vocab, torch.Tensor]:
    """The character vocabulary and the training ids (week 5's: min_count=20)."""
    train_text, _, _ = char_corpus("wikipedia")
    vocab = Vocab.from_text(train_text, min_count=20)
    return vocab, vocab.encode(train_text)


def teacher_config(vocab_size: int) -> GPTConfig:
    return GPTConfig(vocab_size=vocab_size, block_size=BLOCK, n_layer=2, n_head=4, n_embd=128, fast=True)


def train_teacher(steps: int = TEACHER_STEPS, seed: int = 0, progress: bool = True) -> GPT:
    """Train the teacher from scratch with the recipe of the module docstring."""
    vocab, ids = teacher_vocab()
    seed_everything(seed)
    model = GPT(teacher_config(len(vocab)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / WARMUP) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    batches = random_windows(ids, BLOCK, BATCH, torch.Generator().manual_seed(seed))
    train_loop(model, batches, lm_loss, optimizer, steps, scheduler=schedule, grad_clip=1.0, progress=progress,
               desc="week 11 teacher")  # fmt: skip
    return model.eval()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_teacher(path: str | Path | None = None, retrain_if_missing: bool = True) -> tuple[GPT, Vocab]:
    """The trained teacher (in eval mode) and its vocabulary. A missing or altered file is
    retrained with the recipe (a few minutes on a CPU; a message says so), or, with
    ``retrain_if_missing=False``, a ``ValueError`` names the file."""
    path = TEACHER_PATH if path is None else Path(path)
    vocab, _ = teacher_vocab()
    ok = path.is_file() and (TEACHER_SHA256 is None or path != TEACHER_PATH or _sha256(path) == TEACHER_SHA256)
    if not ok:
        if not retrain_if_missing:
            raise ValueError(f"{path} is missing or altered: run `python -m helpers.compression.teacher` to rebuild it")
        print(f"{path.name} is missing or altered: training the teacher with its recipe ({TEACHER_STEPS} steps) ...")
        return train_teacher(), vocab
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = GPT(teacher_config(len(vocab)))
    model.load_state_dict(state)
    return model.eval(), vocab


if __name__ == "__main__":
    torch.set_num_threads(1)
    model = train_teacher()
    TEACHER_PATH.parent.mkdir(exist_ok=True)
    torch.save(model.state_dict(), TEACHER_PATH)
    print(TEACHER_PATH, _sha256(TEACHER_PATH))
