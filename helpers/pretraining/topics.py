"""Labelled sentences for fine-tuning: the topic of a Wikipedia article, and review polarity.

:func:`load_topics` labels every sentence of the course's Wikipedia sample (gensim's test data,
see :mod:`helpers.data.corpora`; CC BY-SA 3.0) with the topic of the article it comes from. The mapping
of the sample's 106 article titles to six topics, :data:`TOPIC_OF`, was written by hand for
this course from each article's subject (a country, region or river is a place; a biography is
a person; a myth, a film, a sport or a language counts as arts and culture; politics, law, war,
religion and philosophy as society and law). Nine pages are left out, :data:`EXCLUDED`:
disambiguation pages and lists of names, whose sentences have no single topic. The split is
**by article** and stratified by topic, so that test sentences come from articles that no
training sentence comes from (a classifier cannot score by recognising an article's names).

Sentences are those of :func:`helpers.data.split_sentences` with at least ``min_words`` words;
at most ``max_per_article`` are kept per article (a seeded sample), so that a few long
articles do not dominate a topic.

:func:`load_polarity_splits` splits the 200 movie-review sentences of Pang & Lee (2005) in
:func:`helpers.data.load_polarity` (1 = positive) at random.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from helpers.data.corpora import load_corpus
from helpers.data.evaluation import load_polarity
from helpers.data.text import split_sentences

__all__ = [
    "EXCLUDED",
    "TOPICS",
    "TOPIC_OF",
    "LabelledSentence",
    "TextTask",
    "load_polarity_splits",
    "load_topics",
]

TOPICS = ("places", "people", "science and nature", "society and law", "arts and culture", "technology and mathematics")

_BY_TOPIC = {
    "places": [
        "Alabama", "Algeria", "Andorra", "Alaska", "Asia", "Aruba", "Atlantic Ocean", "Angola", "Demographics of Angola",
        "Economy of Angola", "Transport in Angola", "Alberta", "Afghanistan", "Albania", "Azerbaijan", "Aa River",
    ],
    "people": [
        "Abraham Lincoln", "Aristotle", "Ayn Rand", "Alain Connes", "Allan Dwan", "Andre Agassi", "Aldous Huxley",
        "Andrei Tarkovsky", "Arthur Schopenhauer", "Albert Sidney Johnston", "Albert Einstein",
    ],
    "science and nature": [
        "Autism", "Albedo", "Amphibian", "Algae", "Alkane", "Acid", "Alkali metal", "Atomic number", "Anatomy", "Aardvark",
        "Aardwolf", "Actinopterygii", "Agnostida", "Astronomer", "Amateur astronomy", "Ampere", "Agricultural science",
        "Agriculture", "Alchemy", "Asphalt", "Adobe",
    ],
    "society and law": [
        "Anarchism", "Altruism", "Anthropology", "Appellate procedure in the United States", "Appellate court",
        "Arraignment", "Abstract (law)", "Abortion", "Articles of Confederation", "American Revolutionary War",
        "Politics of Angola", "Foreign relations of Angola", "Angolan Armed Forces", "Allah", "Affirming the consequent",
        "Answer",
    ],
    "arts and culture": [
        "An American in Paris", "Academy Awards", "Actrius", "Animalia (book)", "List of Atlas Shrugged characters",
        "Animation", "Animal Farm", "America the Beautiful", "A Modest Proposal", "Art", "Achilles", "Apollo", "Aikido",
        "American Football Conference", "Adventure", "A", "Alphabet", "Austroasiatic languages", "Afroasiatic languages",
        "Ambiguity",
    ],
    "technology and mathematics": [
        "ASCII", "Arithmetic mean", "Analysis of variance", "Assistive technology", "Abacus",
        "American National Standards Institute", "Apollo 11", "Apollo 8", "Astronaut", "Android (robot)", "Algorithm",
        "Algorithms (journal)", "International Atomic Time",
    ],
}  # fmt: skip
TOPIC_OF: dict[str, str] = {title: topic for topic, titles in _BY_TOPIC.items() for title in titles}
EXCLUDED = (
    "Ada", "Alien", "Austin (disambiguation)", "Aberdeen (disambiguation)", "Argument (disambiguation)",
    "Animal (disambiguation)", "Asia Minor (disambiguation)",  # disambiguation pages
    "List of anthropologists", "Academy Award for Best Production Design",  # lists of names and film titles
)  # fmt: skip


class LabelledSentence(NamedTuple):
    text: str
    label: int  # index into the task's ``labels``
    source: str  # the article's title (topics) or "review-<i>" (polarity)


@dataclass
class TextTask:
    """A labelled text task split three ways; ``articles`` names the source of each split."""

    labels: tuple[str, ...]
    train: list[LabelledSentence]
    validation: list[LabelledSentence]
    test: list[LabelledSentence]
    articles: dict[str, list[str]]

    def texts(self, split: str) -> list[str]:
        return [s.text for s in self._split(split)]

    def targets(self, split: str) -> list[int]:
        return [s.label for s in self._split(split)]

    def _split(self, split: str) -> list[LabelledSentence]:
        if split not in ("train", "validation", "test"):
            raise ValueError(f"split={split!r} must be train, validation or test")
        return getattr(self, split)

    def subset(self, n: int, seed: int = 0) -> list[LabelledSentence]:
        """``n`` training sentences, as balanced over labels as the data allow (a seeded
        sample: each label gets n / n_labels, and labels with too few pass the rest on)."""
        if not 1 <= n <= len(self.train):
            raise ValueError(f"n={n} must be between 1 and the {len(self.train)} training sentences")
        rng = random.Random(seed)
        pools = {label: [s for s in self.train if s.label == label] for label in range(len(self.labels))}
        for pool in pools.values():
            rng.shuffle(pool)
        chosen, turn = [], 0
        while len(chosen) < n:  # deal one sentence per label in turn: round robin over the labels
            label = turn % len(self.labels)
            if pools[label]:
                chosen.append(pools[label].pop())
            turn += 1
        rng.shuffle(chosen)
        return chosen

    def summary(self) -> str:
        rows = []
        for split in ("train", "validation", "test"):
            counts = Counter(s.label for s in self._split(split))
            per_label = ", ".join(f"{self.labels[i]} {counts[i]}" for i in range(len(self.labels)))
            rows.append(f"{split:<10} {len(self._split(split)):>5} sentences from {len(self.articles[split]):>3} sources ({per_label})")
        return "\n".join(rows)


def load_topics(
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    max_per_article: int | None = 40,
    min_words: int = 6,
) -> TextTask:
    """Sentences of the Wikipedia sample labelled with their article's topic (:data:`TOPICS`),
    split by article, stratified by topic (every topic has articles in every split).

    The same ``seed`` gives the same split and sample on every machine.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions={fractions!r} must be three positive numbers summing to 1")
    if max_per_article is not None and max_per_article < 1:
        raise ValueError(f"max_per_article={max_per_article} must be positive (or None for every sentence)")
    documents = dict(load_corpus("wikipedia", with_titles=True))
    unknown = sorted(set(documents) - set(TOPIC_OF) - set(EXCLUDED))
    if unknown:
        raise ValueError(f"articles without a topic: {unknown}; extend helpers.pretraining.topics.TOPIC_OF")
    rng = random.Random(seed)
    articles: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for topic in TOPICS:
        titles = sorted(t for t in _BY_TOPIC[topic] if t in documents)
        rng.shuffle(titles)
        n_val = max(1, round(fractions[1] * len(titles)))
        n_test = max(1, round(fractions[2] * len(titles)))
        articles["validation"] += titles[:n_val]
        articles["test"] += titles[n_val : n_val + n_test]
        articles["train"] += titles[n_val + n_test :]
    splits = {}
    for split, titles in articles.items():
        rows = []
        for title in sorted(titles, key=list(documents).index):  # the corpus order
            sentences = [s for s in split_sentences(documents[title]) if len(s.split()) >= min_words]
            if max_per_article is not None and len(sentences) > max_per_article:
                keep = sorted(random.Random(f"{seed}:{title}").sample(range(len(sentences)), max_per_article))
                sentences = [sentences[i] for i in keep]
            rows += [LabelledSentence(s, TOPICS.index(TOPIC_OF[title]), title) for s in sentences]
        splits[split] = rows
    return TextTask(TOPICS, splits["train"], splits["validation"], splits["test"], {k: sorted(v) for k, v in articles.items()})


def load_polarity_splits(seed: int = 0, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> TextTask:
    """The 200 polarity sentences (labels "negative", "positive"), split at random (seeded)."""
    rows = [LabelledSentence(text, label, f"review-{i}") for i, (text, label) in enumerate(load_polarity())]
    random.Random(seed).shuffle(rows)
    n_train, n_val = round(fractions[0] * len(rows)), round(fractions[1] * len(rows))
    parts = rows[:n_train], rows[n_train : n_train + n_val], rows[n_train + n_val :]
    return TextTask(("negative", "positive"), *map(list, parts), {k: [r.source for r in part] for k, part in zip(("train", "validation", "test"), parts, strict=True)})
