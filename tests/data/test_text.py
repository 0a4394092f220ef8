"""Tokenizer and sentence splitter: the behaviour the course relies on."""

import pytest

from helpers.data import split_sentences, tokenize


def test_tokenize_words():
    assert tokenize("The cat's hat, state-of-the-art!") == ["the", "cat's", "hat", "state-of-the-art"]
    assert tokenize("Hi, you.", punctuation=True) == ["hi", ",", "you", "."]
    assert tokenize("Grüße aus Köln", lowercase=False) == ["Grüße", "aus", "Köln"]
    assert tokenize("snake_case 3.14") == ["snake", "case", "3", "14"]
    assert tokenize("") == []


def test_tokenize_rejects_non_text():
    with pytest.raises(TypeError, match="expects a str"):
        tokenize(["a", "list"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith arrived. He sat down!", ["Dr. Smith arrived.", "He sat down!"]),
        ("J. R. R. Tolkien wrote it. It sold.", ["J. R. R. Tolkien wrote it.", "It sold."]),
        ('"Really?" she asked. Yes.', ['"Really?" she asked.', "Yes."]),
        ("It cost approx. five dollars in the U.S. today.", ["It cost approx. five dollars in the U.S. today."]),
        ("Pi is 3.14. Fine.", ["Pi is 3.14.", "Fine."]),
        ("No final stop\n\nNew paragraph", ["No final stop", "New paragraph"]),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentences_cover_the_text():
    text = "One. Two! Three? Four (4). Mr. Five."
    assert " ".join(split_sentences(text)) == text
