"""Offline text for the course: real corpora that ship inside installed packages.

Nothing here touches the network (:mod:`helpers.data.download` is the one optional
exception); the evaluation sets are in :mod:`helpers.data.evaluation`. Every loader names its
source and licence:

- ``load_corpus("wikipedia")``: the English Wikipedia sample in gensim's test data
  (``enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``): 106 articles,
  about 450k words once wiki markup and reference sections are stripped. Text: CC BY-SA 3.0,
  Wikipedia authors.
- ``load_corpus("news")``: the Lee background corpus in gensim's test data, 300 short news
  articles (Lee, Pincombe & Welsh 2005, "An empirical evaluation of models of text document
  similarity"; distributed with gensim under its LGPL-2.1 licence).
- ``word_frequencies()``: English word frequencies from the ``wordfreq`` package (Speer 2022;
  data CC BY-SA 4.0).

Parsed corpora are cached on disk (:func:`cache_dir`) and in memory.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import os
import random
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from helpers.data.text import split_sentences, tokenize

__all__ = [
    "CORPORA",
    "Splits",
    "cache_dir",
    "load_corpus",
    "load_sentences",
    "split_documents",
    "word_frequencies",
]

WIKIPEDIA_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
CORPORA = ("wikipedia", "news")
# Sections at the end of an article that hold references rather than prose.
_BACK_MATTER = re.compile(
    r"^(see also|notes?|references?|bibliography|external links|further reading|sources|"
    r"citations|footnotes|works cited|primary sources|secondary sources)$",
    re.IGNORECASE,
)
_CACHE_VERSION = 1  # bump when the cleaning below changes

T = TypeVar("T")


def cache_dir() -> Path:
    """Folder for parsed corpora and downloads: ``$NEXTWORD_CACHE`` if set, else the platform's
    cache folder (``$XDG_CACHE_HOME/nextword``, by default ``~/.cache/nextword``, on Linux;
    ``~/Library/Caches/nextword`` on macOS; ``%LOCALAPPDATA%\\nextword\\Cache`` on Windows)."""
    from platformdirs import user_cache_dir

    path = Path(os.environ.get("NEXTWORD_CACHE") or user_cache_dir("nextword", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move a finished temporary file into place, readable as a normally created file would be
    (``mkstemp`` makes files private, 0600; a cache shared by a class account must be readable)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def gensim_data(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ImportError as error:  # pragma: no cover - gensim is a core dependency
        raise ImportError("the course data sets ship with gensim: pip install gensim") from error
    path = Path(datapath(name))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall gensim (pip install --force-reinstall gensim)")
    return path


def load_corpus(name: str = "wikipedia", with_titles: bool = False) -> list:
    """Load a corpus as a list of plain-text documents (or ``(title, text)`` pairs).

    >>> docs = load_corpus("wikipedia")
    >>> len(docs), docs[0][:9]
    (106, 'Anarchism')
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")
    documents = _cached_corpus(name)
    if with_titles:
        return [tuple(doc) for doc in documents]
    return [text for _, text in documents]


@functools.cache
def _cached_corpus(name: str) -> tuple:
    path = cache_dir() / f"{name}-v{_CACHE_VERSION}.json.gz"
    if path.exists():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return tuple(tuple(doc) for doc in json.load(f))
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    documents = _parse_wikipedia() if name == "wikipedia" else _parse_news()
    _atomic_write(path, lambda f: json.dump(documents, f), gzip_text=True)
    return tuple(tuple(doc) for doc in documents)


def _atomic_write(path: Path, write, gzip_text: bool = False) -> None:
    """Write through a temporary file so that parallel test workers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        opener = gzip.open(tmp, "wt", encoding="utf-8") if gzip_text else open(tmp, "w", encoding="utf-8")
        with opener as f:
            write(f)
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _parse_wikipedia() -> list[tuple[str, str]]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    documents = []
    with bz2.open(gensim_data(WIKIPEDIA_FILE)) as dump:
        for title, markup, _ in extract_pages(dump, filter_namespaces=("0",)):
            text = filter_wiki(markup)  # gensim strips links, templates, tables and refs
            if text.lstrip().lower().startswith("#redirect"):
                continue
            text = clean_wiki_text(text)
            if text:
                documents.append((title, text))
    return documents


def clean_wiki_text(text: str) -> str:
    """Finish what ``gensim``'s ``filter_wiki`` leaves: bold/italic quotes, headings, list
    markers, reference sections at the end, empty brackets and doubled spaces.

    >>> clean_wiki_text("'''Bold''' and ''it'' ( ) .\\n== References ==\\n* A book")
    'Bold and it.'
    """
    paragraphs, skipping = [], False
    for line in text.split("\n"):
        line = line.strip()
        heading = re.fullmatch(r"=+\s*(.*?)\s*=+", line)
        if heading:
            skipping = bool(_BACK_MATTER.match(heading.group(1)))
            continue
        if skipping or not line:
            continue
        line = re.sub(r"^[*#:;]+\s*", "", line)  # list markers
        line = line.replace("'''", "").replace("''", "")
        line = re.sub(r"\(\s*[,;]?\s*\)", "", line)  # brackets emptied by removed templates
        line = re.sub(r"\s+([,.;:!?)])", r"\1", line)
        line = re.sub(r"\s{2,}", " ", line).strip()
        if len(line.split()) >= 3:  # drop stray fragments such as lone link captions
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


def _parse_news() -> list[tuple[str, str]]:
    lines = gensim_data("lee_background.cor").read_text(encoding="latin-1").splitlines()
    return [(f"lee-{i:03d}", " ".join(line.split())) for i, line in enumerate(lines) if line.strip()]


def load_sentences(name: str = "wikipedia", lowercase: bool = True) -> list[list[str]]:
    """Every sentence of a corpus as a list of word tokens (no punctuation)."""
    return [
        tokens
        for doc in load_corpus(name)
        for sentence in split_sentences(doc)
        if (tokens := tokenize(sentence, lowercase=lowercase))
    ]


class Splits(NamedTuple):
    """Train / validation / test parts of a list of documents."""

    train: list
    validation: list
    test: list


def split_documents(
    documents: Sequence[T], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Splits:
    """Split *documents* (not sentences: no article leaks across parts) at random, reproducibly.

    The same ``seed`` gives the same split on every machine and Python version.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions={fractions!r} must be three non-negative numbers summing to 1")
    if len(documents) < 3:
        raise ValueError(f"need at least 3 documents to split, got {len(documents)}")
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    n_train = round(fractions[0] * len(order))
    n_val = round(fractions[1] * len(order))
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    return Splits(*([documents[i] for i in sorted(part)] for part in parts))


def word_frequencies(n: int = 50_000, lang: str = "en") -> dict[str, float]:
    """The ``n`` most frequent words of a language with their frequency (a probability)."""
    if n < 1:
        raise ValueError(f"n={n} must be a positive number of words")
    from itertools import islice

    from wordfreq import get_frequency_dict

    return dict(islice(get_frequency_dict(lang).items(), n))  # most frequent first
