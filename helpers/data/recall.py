"""Synthetic memory tasks for recurrent networks, generated on the fly.

- :class:`RecallTask`: a symbol, then ``k`` distractors, then a query token; the answer is the
  symbol. Accuracy against ``k`` shows how far back a trained network can remember. It is a
  small version of the long-time-lag tasks of Hochreiter & Schmidhuber (1997, Neural
  Computation 9(8), section 5), where the LSTM was introduced.
- :class:`Dialogues`: the context-keeping chatbot toy. A user gives their name, chats for a
  few turns (which may mention other people's names), then asks "what is my name ?"; the bot
  must answer with the name given turns earlier. The conversations are made from templates.

The model that solves them, :class:`helpers.rnn.SequenceClassifier`, is in :mod:`helpers.rnn.recall`.

Everything is generated from a ``torch.Generator``, so a seed fixes every sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from helpers.data.vocab import PAD, Vocab

__all__ = ["NAMES", "Dialogues", "RecallTask", "row_batches"]


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
TURN = "<u>"  # opens every turn of a conversation


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
        self.vocab = Vocab(sorted(words), specials=(PAD,), unk=None, sep=" ")  # a closed vocabulary
        self.words, self.index = self.vocab.tokens, self.vocab.index

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

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
        words = [w for turn in conversation for w in [TURN, *turn.lower().split()]]
        return self.vocab.encode(words)

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
