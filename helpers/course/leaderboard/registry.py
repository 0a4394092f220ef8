"""The leaderboard's registry: what a week adds to put its model in the table.

An :class:`Entry` names a model and says how to train it on the canonical training text and
how to score the canonical test text. :func:`register` adds it to :data:`REGISTRY`; the
entries of weeks 1-5 are in :mod:`helpers.course.leaderboard.entries`. A later week adds a
few lines there (or in a module of its own listed in ``ENTRY_MODULES`` of
:mod:`helpers.course.leaderboard.board`)::

    def train_bengio(ctx: Context) -> Trained:
        with Stopwatch() as clock:
            ...                               # the week's own kernels, seeded with ctx.seed
        return Trained(OpenVocabularyLM(logprobs, vocab, speller), clock.wall, parameters, clock.cpu)

    register(Entry("bengio", week=2, name="Bengio et al. 2003 neural LM", unit="word",
                   train=train_bengio, recipe="window 4, 100-d embeddings, ...", cached=True))

A variant of another entry's model (LoRA, quantized) reads it with ``ctx.trained("bpe-gpt")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from helpers.course.leaderboard.scoring import Score
from helpers.course.leaderboard.text import CanonicalText
from helpers.data.corpora import Splits

__all__ = ["REGISTRY", "UNITS", "Context", "Entry", "Registry", "Stopwatch", "Trained", "register"]

UNITS = ("word", "character", "subword")


@dataclass
class Trained:
    """A trained model, how long its training took and its size. ``train_seconds`` is the wall
    clock; ``cpu_seconds`` the CPU time of this process (one thread), which other programs on
    a shared machine disturb far less (None: not measured)."""

    model: object
    train_seconds: float
    parameters: int
    cpu_seconds: float | None = None


class Stopwatch:
    """Wall-clock and CPU seconds of a block: ``with Stopwatch() as clock: ...``, then
    ``Trained(model, clock.wall, n, clock.cpu)``."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


@dataclass
class Context:
    """What a training function gets: the canonical corpus (train, validation, test), the seed,
    and :meth:`trained`, which trains (or loads from the cache) another entry's model."""

    corpus: Splits
    seed: int
    load: Callable[[str], Trained] = field(repr=False, default=None)

    @property
    def train(self) -> CanonicalText:
        return self.corpus.train

    def trained(self, key: str) -> Trained:
        if self.load is None:
            raise ValueError(f"this context cannot load other entries (asked for {key!r})")
        return self.load(key)


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard.

    - ``key``: a short unique name (cache files, the CSV, ``--only``);
    - ``week``: the week that builds the model (``--upto`` shows weeks up to it);
    - ``name``, ``unit`` ("word", "character" or "subword"): what the table shows;
    - ``train(ctx) -> Trained``: trains on ``ctx.train`` with ``ctx.seed`` (never the test text);
    - ``score(model, text) -> Score``: the bits of the canonical ``text``; by default
      ``model.score(text)``;
    - ``recipe``: the training budget in words, shown beside the numbers;
    - ``cached``: keep the trained model on disk (slow entries); cheap ones retrain each run
      and are rechecked by the tests against the committed table;
    - ``version``: bump it when the recipe changes, so that old cached models are not reused.
    """

    key: str
    week: int
    name: str
    unit: str
    train: Callable[[Context], Trained] = field(repr=False)
    recipe: str = ""
    score: Callable[[object, CanonicalText], Score] | None = field(default=None, repr=False)
    cached: bool = False
    version: int = 1

    def __post_init__(self):
        if not self.key or not self.key.replace("-", "").isalnum() or self.key != self.key.lower():
            raise ValueError(f"key={self.key!r} must be lower-case letters, digits and hyphens, e.g. 'kn3'")
        if not isinstance(self.week, int) or not 1 <= self.week <= 12:
            raise ValueError(f"week={self.week!r} must be the number of a week, 1 to 12")
        if self.unit not in UNITS:
            raise ValueError(f"unit={self.unit!r} must be one of {', '.join(UNITS)}")

    def score_text(self, model, text: CanonicalText) -> Score:
        if self.score is not None:
            return self.score(model, text)
        if not hasattr(model, "score"):
            raise ValueError(f"entry {self.key!r}: its model has no .score(text); pass score= to the Entry")
        return model.score(text)


class Registry:
    """Entries by key, in the order they were registered (week by week)."""

    def __init__(self):
        self._entries: dict[str, Entry] = {}

    def add(self, entry: Entry, replace: bool = False) -> Entry:
        if entry.key in self._entries and not replace:
            raise ValueError(f"an entry {entry.key!r} is already registered: choose another key")
        self._entries[entry.key] = entry
        return entry

    def __getitem__(self, key: str) -> Entry:
        if key not in self._entries:
            raise KeyError(f"no leaderboard entry {key!r}; registered: {', '.join(self._entries)}")
        return self._entries[key]

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.week))  # stable: registration order within a week

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, upto: int | None = None, keys: list[str] | None = None) -> list[Entry]:
        """Entries of weeks up to ``upto`` (all when None), or exactly ``keys`` (in that order)."""
        if keys is not None:
            unknown = [k for k in keys if k not in self._entries]
            if unknown:
                raise ValueError(f"no leaderboard entry {unknown[0]!r}; registered: {', '.join(self._entries)}")
            return [self[k] for k in keys]
        return [e for e in self if upto is None or e.week <= upto]


REGISTRY = Registry()


def register(entry: Entry, registry: Registry | None = None) -> Entry:
    """Add ``entry`` to the course's registry (or to ``registry``) and return it."""
    return (REGISTRY if registry is None else registry).add(entry)
