"""Synthetic memory tasks for recurrent networks, generated on the fly, and a model to solve them.

- :class:`RecallTask`: a symbol, then ``k`` distractors, then a query token; the answer is the
  symbol. Accuracy against ``k`` shows how far back a trained network can remember. It is a
  small version of the long-time-lag tasks of Hochreiter & Schmidhuber (1997, Neural
  Computation 9(8), section 5), where the LSTM was introduced.
- :class:`Dialogues`: the context-keeping chatbot toy. A user gives their name, chats for a
  few turns (which may mention other people's names), then asks "what is my name ?"; the bot
  must answer with the name given turns earlier. The conversations are made from templates.
- :class:`SequenceClassifier`: embedding -> :class:`helpers.rnn.RNN` / :class:`~helpers.rnn.LSTM`
  -> linear read-out of the last hidden state; :func:`train_classifier` and
  :func:`accuracy` train and score it on either task.

Everything is generated from a ``torch.Generator``, so a seed fixes every sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from helpers.rnn import LSTM, RNN, set_forget_bias
from helpers.training import History, train_loop

__all__ = [
    "Dialogues",
    "RecallTask",
    "SequenceClassifier",
    "accuracy",
    "reply",
    "retention_curve",
    "row_batches",
    "train_classifier",
    "train_on_dialogues",
]


def _randint(high: int, size, generator) -> torch.Tensor:
    return torch.randint(0, high, size, generator=generator)


def row_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None):
    """Endless minibatches of random rows of a fixed data set ``x`` (N, T), ``y`` (N,). Columns
    that are left padding (id 0) in every chosen row are dropped, so short batches run faster."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must have the same, non-zero number of rows, got {len(x)} and {len(y)}")
    while True:
        rows = _randint(len(x), (batch_size,), generator)
        xb = x[rows]  # (B, T)
        used = (xb != 0).any(dim=0).nonzero()
        first = int(used[0]) if len(used) else 0
        yield xb[:, first:], y[rows]


@dataclass(frozen=True)
class RecallTask:
    """Remember a symbol across ``distance`` distractors. Token ids: symbols ``0..S-1``,
    distractors ``S..S+D-1``, the query ``S+D``. A sequence is ``[symbol, d_1..d_k, query]``."""

    n_symbols: int = 8  # chance level is 1 / n_symbols
    n_distractors: int = 8

    def __post_init__(self):
        if self.n_symbols < 2 or self.n_distractors < 1:
            raise ValueError(f"need n_symbols >= 2 and n_distractors >= 1, got {self.n_symbols}, {self.n_distractors}")

    @property
    def vocab_size(self) -> int:
        return self.n_symbols + self.n_distractors + 1

    @property
    def query(self) -> int:
        return self.n_symbols + self.n_distractors

    def batch(self, batch_size: int, distance: int, generator: torch.Generator | None = None):
        """``x`` (B, distance + 2) token ids and ``y`` (B,) the symbol to recall."""
        if distance < 0 or batch_size < 1:
            raise ValueError(f"distance={distance} must be >= 0 and batch_size={batch_size} >= 1")
        S, D, B = self.n_symbols, self.n_distractors, batch_size
        symbol = _randint(S, (B,), generator)
        distractors = S + _randint(D, (B, distance), generator)
        query = torch.full((B, 1), self.query)
        return torch.cat([symbol[:, None], distractors, query], dim=1), symbol  # (B, k + 2), (B,)

    def batches(self, batch_size: int, distance: int, generator: torch.Generator | None = None):
        """Endless batches at one distance (for ``train_loop``)."""
        while True:
            yield self.batch(batch_size, distance, generator)


NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "kim", "leo", "mia", "nina", "oscar", "peggy")  # fmt: skip
INTRODUCTIONS = ("my name is {name} .", "i am {name} .", "call me {name} .", "hello , my name is {name} .")
QUESTIONS = ("what is my name ?", "do you remember my name ?", "who am i ?")
SMALL_TALK = (
    "i like {food} .",
    "do you like {food} ?",
    "i had {food} for lunch .",
    "the weather is {weather} today .",
    "it is {weather} in {city} .",
    "i live in {city} .",
    "i am going to {city} tomorrow .",
    "tell me a joke .",
    "what time is it ?",
    "my friend {other} lives in {city} .",
    "my sister is called {other} .",
    "{other} says hello .",
)
SLOTS = {
    "food": ("tea", "coffee", "pizza", "soup", "rice", "apples"),
    "weather": ("sunny", "rainy", "cold", "warm"),
    "city": ("paris", "tokyo", "lima", "oslo", "cairo"),
}
PAD, TURN = "<pad>", "<u>"


class Dialogues:
    """Conversations whose last turn asks for a name given ``turns`` turns earlier.

    ``sample(turns, generator)`` gives a list of turns (strings) and the name; ``encode`` turns
    a conversation into ids (each turn starts with the token ``<u>``); ``batch`` gives
    left-padded ids (B, T) (pad id 0, so the last position is always the question's end) and
    the index of the right name in :data:`NAMES`.
    """

    names = NAMES

    def __init__(self):
        words = {TURN}
        for template in INTRODUCTIONS + QUESTIONS + SMALL_TALK:
            words.update(w for w in template.split() if not w.startswith("{"))
        for fillers in SLOTS.values():
            words.update(fillers)
        words.update(NAMES)
        self.words = [PAD, *sorted(words)]
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def _pick(self, options: Sequence[str], generator) -> str:
        return options[int(_randint(len(options), (1,), generator))]

    def sample(self, turns: int, generator: torch.Generator | None = None) -> tuple[list[str], str]:
        """One conversation with ``turns`` small-talk turns between the name and the question."""
        if turns < 0:
            raise ValueError(f"turns={turns} must be >= 0")
        name = self._pick(NAMES, generator)
        others = [n for n in NAMES if n != name]  # other people's names never equal the user's
        conversation = [self._pick(INTRODUCTIONS, generator).format(name=name)]
        for _ in range(turns):
            template = self._pick(SMALL_TALK, generator)
            slots = {key: self._pick(values, generator) for key, values in SLOTS.items()}
            conversation.append(template.format(other=self._pick(others, generator), **slots))
        conversation.append(self._pick(QUESTIONS, generator))
        return conversation, name

    def encode(self, conversation: Sequence[str]) -> torch.Tensor:
        """Ids of ``<u> turn_1 <u> turn_2 ...`` (1-D). Unknown words raise a KeyError naming them."""
        if isinstance(conversation, str):
            raise ValueError("conversation must be a list of turns (strings), not one string")
        ids = []
        for turn in conversation:
            for word in [TURN, *turn.lower().split()]:
                if word not in self.index:
                    raise KeyError(f"the word {word!r} is not in the dialogue vocabulary")
                ids.append(self.index[word])
        return torch.tensor(ids, dtype=torch.long)

    def pad(self, sequences: Sequence[torch.Tensor]) -> torch.Tensor:
        """Left-pad 1-D id tensors with 0 to one (B, T) tensor."""
        T = max(len(s) for s in sequences)
        out = torch.zeros(len(sequences), T, dtype=torch.long)
        for b, s in enumerate(sequences):
            out[b, T - len(s) :] = s
        return out

    def batch(self, batch_size: int, turns: int | tuple[int, int], generator: torch.Generator | None = None):
        """``ids`` (B, T) left-padded and ``target`` (B,) name indices. ``turns`` is a number or
        an inclusive range ``(low, high)`` drawn anew for each conversation."""
        low, high = (turns, turns) if isinstance(turns, int) else turns
        if not 0 <= low <= high:
            raise ValueError(f"turns={turns!r} must be a number >= 0 or a range (low, high) with low <= high")
        sequences, targets = [], []
        for _ in range(batch_size):
            n = low + int(_randint(high - low + 1, (1,), generator))
            conversation, name = self.sample(n, generator)
            sequences.append(self.encode(conversation))
            targets.append(NAMES.index(name))
        return self.pad(sequences), torch.tensor(targets)

    def batches(self, batch_size: int, turns, generator: torch.Generator | None = None):
        """Endless freshly generated batches (slower than :func:`row_batches` on a fixed set)."""
        while True:
            yield self.batch(batch_size, turns, generator)


class SequenceClassifier(nn.Module):
    """Read a sequence of ids, answer with one class from the last hidden state.

    ``forward(ids (B, T)) -> logits (B, n_classes)``. ``forget_bias`` (LSTM only) starts the
    forget gates open (see :func:`helpers.rnn.set_forget_bias`); pad id 0 embeds to zeros.
    """

    def __init__(self, vocab_size: int, n_classes: int, hidden_size: int = 64, cell: str = "lstm",
                 embed_dim: int = 16, forget_bias: float | None = None, fast: bool = True):  # fmt: skip
        super().__init__()
        if cell not in ("lstm", "rnn"):
            raise ValueError(f"cell={cell!r}: choose 'lstm' or 'rnn'")
        if forget_bias is not None and cell != "lstm":
            raise ValueError("forget_bias applies to an LSTM only; leave it None for cell='rnn'")
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = (LSTM if cell == "lstm" else RNN)(embed_dim, hidden_size, fast=fast)
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
