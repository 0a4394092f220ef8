"""The comparison texts: wordfreq lists read directly equal wordfreq's own API; the standard
library's source files are found and are real Python."""

import ast

import pytest

from helpers.data.samples import LANGUAGES, python_source, word_list


@pytest.mark.parametrize("lang", ["en", "ja", "ar"])
def test_word_list_equals_wordfreq(lang):
    from itertools import islice

    from wordfreq import get_frequency_dict

    expected = dict(islice(get_frequency_dict(lang).items(), 500))
    got = word_list(lang, 500)
    assert list(got) == list(expected)
    assert all(abs(got[w] - expected[w]) <= 1e-12 * expected[w] for w in got)


def test_every_language_has_a_list():
    for lang in LANGUAGES:
        assert len(word_list(lang, 50)) == 50
    with pytest.raises(ValueError, match="no word list"):
        word_list("xx")


def test_python_source_is_python():
    files = python_source(max_files=5)
    assert len(files) == 5 and all(2_000 <= len(f) <= 60_000 for f in files)
    for text in files:
        ast.parse(text)
    assert python_source(max_files=2, skip=1) == files[1:3]
