"""Text utilities shared by every week: a word tokenizer and a sentence splitter.

Both are deliberately simple, rule-based and documented, so that students can read them in a
minute and predict what they do. They are not meant to rival a trained sentence splitter (such
as Punkt, Kiss & Strunk 2006); the tests pin down the behaviour on the cases that matter for
the course (abbreviations, decimals, initials, quotes).
"""

from __future__ import annotations

import re

__all__ = ["tokenize", "split_sentences", "WORD_PATTERN"]

# A word: letters or digits, optionally joined by an apostrophe or hyphen ("don't", "state-of-
# the-art", "3.5" is split at the dot on purpose: numbers are rare events for an n-gram model).
WORD_PATTERN = r"[^\W_]+(?:['\u2019\-][^\W_]+)*"
_WORD = re.compile(WORD_PATTERN)
_WORD_OR_PUNCT = re.compile(WORD_PATTERN + r"|[^\w\s]")

# Abbreviations after which a full stop does not end a sentence (lower case, without the dot).
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al approx ca no nos vol vols fig
    figs pp p ed eds jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp gen col
    lt sgt capt rev gov sen rep u.s u.k u.n a.d b.c""".split()
)
_SENTENCE_END = re.compile(r"""[.!?]+["')\]\u201d\u2019]*(?=\s+|$)""")


def tokenize(text: str, lowercase: bool = True, punctuation: bool = False) -> list[str]:
    """Split ``text`` into word tokens.

    >>> tokenize("The cat's hat, state-of-the-art!")
    ['the', "cat's", 'hat', 'state-of-the-art']
    >>> tokenize("Hi, you.", punctuation=True)
    ['hi', ',', 'you', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    if lowercase:
        text = text.lower()
    pattern = _WORD_OR_PUNCT if punctuation else _WORD
    return pattern.findall(text)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences at ``.``, ``!`` or ``?`` followed by white space.

    A full stop does not end a sentence after a known abbreviation ("Dr."), a single initial
    ("J. R. R. Tolkien"); no punctuation ends one when the next word starts in lower case
    ('"Really?" she asked.'). Line
    breaks that separate paragraphs always end a sentence.

    >>> split_sentences("Dr. Smith arrived. He sat down! Did he? Yes.")
    ['Dr. Smith arrived.', 'He sat down!', 'Did he?', 'Yes.']
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences expects a str, got {type(text).__name__}")
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*[*#\-])", text):
        paragraph = " ".join(paragraph.split())
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            end = match.end()
            if not _ends_sentence(paragraph, match.start(), end):
                continue
            sentence = paragraph[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
        rest = paragraph[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


def _ends_sentence(text: str, dot: int, end: int) -> bool:
    """Whether the punctuation run at ``text[dot:end]`` closes a sentence."""
    following = text[end:].lstrip()
    if not following:
        return True
    if following[0].islower():
        return False  # '"Really?" she asked.', "approx. five"
    if text[dot] != ".":
        return True
    word = re.search(r"([\w.]+)$", text[:dot])
    previous = word.group(1).lower() if word else ""
    return not (previous in ABBREVIATIONS or (len(previous) == 1 and previous.isalpha()))
