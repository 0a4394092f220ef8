"""A recurrent classifier for the memory tasks of :mod:`helpers.data.recall`, and the chatbot.

- :class:`SequenceClassifier`: embedding -> :class:`helpers.rnn.RNN` / :class:`~helpers.rnn.LSTM`
  / :class:`~helpers.rnn.GRU` -> linear read-out of the last hidden state; :func:`train_classifier` and
  :func:`accuracy` train and score it on either task.
- :func:`train_on_dialogues`, :func:`retention_curve`, :func:`reply`: the context-keeping
  chatbot toy of week 3 (a bot must recall a name given turns earlier).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from helpers.course.training import History, train_loop
from helpers.data.recall import Dialogues, row_batches
from helpers.rnn.cells import set_forget_bias
from helpers.rnn.layers import GRU, LSTM, RNN

__all__ = ["SequenceClassifier", "accuracy", "reply", "retention_curve", "train_classifier", "train_on_dialogues"]


class SequenceClassifier(nn.Module):
    """Read a sequence of ids, answer with one class from the last hidden state.

    ``forward(ids (B, T)) -> logits (B, n_classes)``. ``forget_bias`` (LSTM or GRU) starts the
    forget gates open, or a GRU's update gates (see :func:`helpers.rnn.set_forget_bias`); pad
    id 0 embeds to zeros.
    """

    def __init__(self, vocab_size: int, n_classes: int, hidden_size: int = 64, cell: str = "lstm",
                 embed_dim: int = 16, forget_bias: float | None = None, fast: bool = True):  # fmt: skip
        super().__init__()
        if cell not in ("lstm", "gru", "rnn"):
            raise ValueError(f"cell={cell!r}: choose 'lstm', 'gru' or 'rnn'")
        if forget_bias is not None and cell == "rnn":
            raise ValueError("forget_bias applies to an LSTM or a GRU (its update gate); leave it None for cell='rnn'")
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cell](embed_dim, hidden_size, fast=fast)
        if forget_bias is not None:
            set_forget_bias(self.rnn, forget_bias)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(self.embed(ids))  # (B, T, H)
        return self.head(output[:, -1])  # (B, n_classes)


def train_classifier(model: nn.Module, batches, steps: int, lr: float = 3e-3, grad_clip: float = 1.0,
                     progress: bool = False, desc: str = "training") -> History:  # fmt: skip
    """Adam on the cross-entropy of ``model(x)`` against ``y`` for ``batches`` of ``(x, y)``."""
    device = next(model.parameters()).device

    def loss_fn(model, batch):
        x, y = batch
        return F.cross_entropy(model(x.to(device)), y.to(device))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return train_loop(model, batches, loss_fn, optimizer, steps, grad_clip=grad_clip, progress=progress, desc=desc)


@torch.no_grad()
def accuracy(model: nn.Module | Callable, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of rows of ``x`` whose arg-max prediction equals ``y``."""
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
        device = next(model.parameters()).device
    else:
        device = x.device
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size].to(device))
        correct += (logits.argmax(-1).cpu() == y[start : start + batch_size]).sum().item()
    if isinstance(model, nn.Module):
        model.train(was_training)
    return correct / len(x)


def train_on_dialogues(model: nn.Module, dialogues: Dialogues | None = None, steps: int = 400, max_turns: int = 8,
                       batch_size: int = 64, lr: float = 5e-3, seed: int = 0, n_train: int = 4000,
                       progress: bool = False) -> History:  # fmt: skip
    """Train a bot (ids (B, T) -> name logits) on ``n_train`` conversations with 0 to
    ``max_turns`` turns of small talk, generated from ``seed``; minibatches from the same seed."""
    dialogues = dialogues or Dialogues()
    x, y = dialogues.batch(n_train, (0, max_turns), torch.Generator().manual_seed(seed))
    batches = row_batches(x, y, batch_size, torch.Generator().manual_seed(seed + 1))
    return train_classifier(model, batches, steps, lr=lr, progress=progress, desc="chatbot")


def retention_curve(bot, dialogues: Dialogues, max_turns: int, n: int = 200, seed: int = 0) -> list[float]:
    """Accuracy of ``bot`` on ``n`` conversations with exactly ``turns`` turns of small talk, for
    ``turns = 0..max_turns``; the conversations for ``turns`` come from seed ``seed + turns``."""
    curve = []
    for turns in range(max_turns + 1):
        x, y = dialogues.batch(n, turns, torch.Generator().manual_seed(seed + turns))
        curve.append(accuracy(bot, x, y))
    return curve


@torch.no_grad()
def reply(bot, dialogues: Dialogues, conversation: Sequence[str]) -> str:
    """The bot's answer to the conversation's last turn: ``"your name is <name> ."``."""
    ids = dialogues.encode(conversation)[None]  # (1, T)
    if isinstance(bot, nn.Module):
        ids = ids.to(next(bot.parameters()).device)
    name = dialogues.names[int(bot(ids)[0].argmax())]
    return f"your name is {name} ."
