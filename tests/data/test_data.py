"""Offline data loaders: real text, clean, reproducible splits, no network."""

from __future__ import annotations

import os
import re
import stat
import sys

import pytest

from helpers import data
from helpers.data import corpora


def test_wikipedia_sample_is_clean_prose():
    docs = data.load_corpus("wikipedia", with_titles=True)
    assert len(docs) == 106
    words = sum(len(text.split()) for _, text in docs)
    assert 400_000 < words < 500_000
    text = "\n".join(t for _, t in docs)
    for markup in ("[[", "]]", "{{", "}}", "'''", "<ref", "==", "|-", "&nbsp;"):
        assert markup not in text, markup
    assert not re.search(r"^[*#]+\s", text, re.M), "list markers left"
    assert "References" not in {line.strip() for line in text.splitlines()}
    titles = [t for t, _ in docs]
    assert "Anarchism" in titles and "Achilles" in titles


def test_corpus_is_cached_and_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_CACHE", str(tmp_path))
    corpora._cached_corpus.cache_clear()
    try:
        first = data.load_corpus("news")
        assert list(tmp_path.glob("news-*.json.gz")), "no cache file written"
        corpora._cached_corpus.cache_clear()
        assert data.load_corpus("news") == first
    finally:
        corpora._cached_corpus.cache_clear()
    assert len(first) == 300 and first[0].startswith("Hundreds of people")


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown corpus 'books'"):
        data.load_corpus("books")
    with pytest.raises(ValueError, match="unknown similarity set"):
        data.load_word_similarity("men")
    with pytest.raises(ValueError, match="n=0"):
        data.word_frequencies(0)


def test_splits_are_by_document_deterministic_and_disjoint():
    docs = data.load_corpus("wikipedia")
    a, b = data.split_documents(docs, seed=1), data.split_documents(docs, seed=1)
    assert a == b
    assert data.split_documents(docs, seed=2) != a
    assert sum(map(len, a)) == len(docs)
    assert not set(a.train) & set(a.test) and not set(a.validation) & set(a.test)
    assert (len(a.train), len(a.validation), len(a.test)) == (85, 11, 10)
    with pytest.raises(ValueError, match="summing to 1"):
        data.split_documents(docs, fractions=(0.5, 0.2, 0.2))


def test_evaluation_sets_have_their_published_sizes():
    analogies = data.load_analogies()
    assert sum(map(len, analogies.values())) == 19544 and len(analogies) == 14  # Mikolov et al. 2013
    assert analogies["capital-common-countries"][0] == ("Athens", "Greece", "Baghdad", "Iraq")
    assert len(data.load_word_similarity("wordsim353")) == 353
    assert len(data.load_word_similarity("simlex999")) == 999
    polarity = data.load_polarity()
    assert len(polarity) == 200 and {label for _, label in polarity} == {0, 1}


def test_misspellings():
    single = data.load_misspellings()
    assert single["teh"] == "the" and all(isinstance(v, str) for v in single.values())
    every = data.load_misspellings(all_corrections=True)
    assert len(every) > len(single) and all(isinstance(v, tuple) for v in every.values())


def test_word_frequencies_are_probabilities():
    freq = data.word_frequencies(100)
    assert len(freq) == 100 and next(iter(freq)) == "the"
    assert all(0 < p < 1 for p in freq.values()) and sum(freq.values()) < 1


def test_sentences_of_the_corpus():
    sentences = data.load_sentences("news")
    assert len(sentences) > 2000
    assert all(s and all(w == w.lower() for w in s) for s in sentences[:100])


def test_cache_follows_xdg_and_is_readable_by_others(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXTWORD_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert corpora.cache_dir() == tmp_path / "xdg" / "nextword"
    monkeypatch.setenv("NEXTWORD_CACHE", str(tmp_path / "class"))
    assert corpora.cache_dir() == tmp_path / "class"
    old = os.umask(0o022)
    try:
        corpora._cached_corpus.cache_clear()
        data.load_corpus("news")
    finally:
        os.umask(old)
        corpora._cached_corpus.cache_clear()
    (written,) = (tmp_path / "class").glob("news-*.json.gz")
    assert stat.S_IMODE(written.stat().st_mode) == 0o644  # not mkstemp's private 0600
