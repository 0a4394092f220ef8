"""The canonical text: the one string every leaderboard model must assign a probability to.

Word models see lower-case words without punctuation; character models could see raw text.
To compare them honestly they must predict *the same characters*, so every model is trained on
and scored on the canonical form of the Wikipedia sample, built with the course's own text
utilities (:func:`helpers.data.split_sentences`, :func:`helpers.data.tokenize`):

- the documents are split by article exactly as in weeks 1, 3 and 5
  (:func:`helpers.data.split_documents` with ``seed=0``: 80/10/10);
- each sentence is tokenised (lower case, no punctuation), its tokens are joined by single
  spaces, and the sentence ends with one newline; empty sentences are dropped;
- the documents' sentences follow each other in order.

So the text is a sequence of words over letters, digits, apostrophes and hyphens, where a
space separates words and a newline ends a sentence, and it decomposes uniquely back into
sentences of words (:func:`parse`). A word model's ``</s>`` is the newline, and every word
"pays" for its characters and the one separator after it:
``len(text) = sum(len(w) + 1 for every word w)``.

>>> t = canonicalize(["The cat sat. It purred!"])
>>> t.text
'the cat sat\\nit purred\\n'
>>> t.n_chars, t.n_words, t.n_sentences
(22, 5, 2)
>>> parse(t.text) == t
True
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from helpers.data.corpora import Splits, load_corpus, split_documents
from helpers.data.text import split_sentences, tokenize

__all__ = ["CanonicalText", "canonical_corpus", "canonicalize", "parse"]


@dataclass(frozen=True)
class CanonicalText:
    """Sentences of word tokens, and the string ``"w w w\\nw w\\n..."`` they stand for."""

    sentences: tuple[tuple[str, ...], ...]

    def __post_init__(self):
        for i, sentence in enumerate(self.sentences):
            if not sentence:
                raise ValueError(f"sentence {i} is empty: canonical text has no empty lines")
            for word in sentence:
                if not isinstance(word, str) or not word or any(c.isspace() for c in word):
                    raise ValueError(f"sentence {i} holds {word!r}: a word is a non-empty string without white space")

    @functools.cached_property
    def text(self) -> str:
        return "".join(" ".join(s) + "\n" for s in self.sentences)

    @property
    def n_chars(self) -> int:
        """Characters to predict: every letter, every space and every newline."""
        return sum(len(w) + 1 for s in self.sentences for w in s)

    @property
    def n_words(self) -> int:
        return sum(len(s) for s in self.sentences)

    @property
    def n_sentences(self) -> int:
        return len(self.sentences)

    @property
    def n_tokens(self) -> int:
        """Word-level predictions, as week 1 counts them: every word and every ``</s>``."""
        return self.n_words + self.n_sentences

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of the text (names cached models trained on it)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"CanonicalText({self.n_sentences:,} sentences, {self.n_words:,} words, {self.n_chars:,} characters)"


def canonicalize(documents: Iterable[str]) -> CanonicalText:
    """The canonical form of plain-text ``documents``: one tokenised sentence per line."""
    if isinstance(documents, str):
        raise ValueError("documents should be a list of texts, not one string: wrap it in a list")
    return CanonicalText(tuple(tuple(tokens) for doc in documents for s in split_sentences(doc) if (tokens := tokenize(s))))


def parse(text: str) -> CanonicalText:
    """The sentences of a canonical string; a :class:`ValueError` says where it is not canonical."""
    if not text.endswith("\n"):
        raise ValueError("canonical text ends with a newline (every sentence does)")
    sentences = []
    for i, line in enumerate(text[:-1].split("\n")):
        words = line.split(" ")
        if "" in words:
            raise ValueError(f"line {i} ({line[:40]!r}) has an empty word: use single spaces and no empty lines")
        sentences.append(tuple(words))
    return CanonicalText(tuple(sentences))


@functools.cache
def canonical_corpus(corpus: str = "wikipedia", seed: int = 0) -> Splits:
    """Train, validation and test :class:`CanonicalText` of a corpus, split by article as in
    weeks 1, 3 and 5 (the split depends on ``seed`` only)."""
    parts: Sequence[list[str]] = split_documents(load_corpus(corpus), seed=seed)
    return Splits(*(canonicalize(part) for part in parts))
