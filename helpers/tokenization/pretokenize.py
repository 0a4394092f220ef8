"""Pre-tokenization: cut text into chunks with a regular expression before BPE sees it.

Merges never cross a chunk boundary, so a token never spans a word and the space before the
next, or letters and digits. GPT-2 introduced this because plain byte-level BPE wasted
vocabulary on variants such as ``dog.``, ``dog!`` and ``dog?`` (Radford et al. 2019, section
2.2). The patterns need the ``regex`` module (Unicode classes such as ``\\p{L}``, possessive
quantifiers), not the standard library's ``re``.

- ``GPT2_PATTERN``: GPT-2's (``r50k_base``): English contractions, a letter run or digit run
  or punctuation run with one optional leading space, whitespace.
- ``GPT4_PATTERN``: GPT-4's ``cl100k_base``, as the tiktoken package ships it: contractions in
  any case, at most **three** digits per chunk (numbers split 123|456), a letter run may carry
  one leading non-letter (``"(word"`` no, ``" word"`` yes), newlines kept apart.

Special tokens (``<|endoftext|>``) are cut out *before* the pattern runs: see
:func:`split_special`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import regex

__all__ = ["GPT2_PATTERN", "GPT4_PATTERN", "PATTERNS", "chunk_counts", "split_special", "split_text", "utf8"]

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}


def utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; a lone surrogate (not valid Unicode text) becomes U+FFFD, as in
    tiktoken, so that every Python string can be encoded.

    >>> utf8("h\u00e9"), utf8("a" + chr(0xD800))
    (b'h\xc3\xa9', b'a\xef\xbf\xbd')
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a split pattern (``"gpt2"``, ``"gpt4"`` or a regular expression)."""
    pattern = PATTERNS.get(pattern, pattern)
    try:
        return regex.compile(pattern)
    except regex.error as error:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {error}") from None


def split_text(text: str, pattern: str = GPT4_PATTERN) -> list[str]:
    """The chunks of ``text``, in order; joined they give back ``text`` exactly.

    >>> split_text("Hello world's 12345 dogs!!")
    ['Hello', ' world', "'s", ' ', '123', '45', ' dogs', '!!']
    >>> split_text("Hello world's 12345 dogs!!", "gpt2")
    ['Hello', ' world', "'s", ' 12345', ' dogs', '!!']
    """
    return compile_pattern(pattern).findall(text)


def split_special(text: str, special: Iterable[str]) -> list[tuple[str, bool]]:
    """Cut ``text`` at every occurrence of the special strings: ``[(piece, is_special), ...]``.

    Longer specials win when two start at the same place (as in tiktoken).

    >>> split_special("a<|eot|>b", ["<|eot|>"])
    [('a', False), ('<|eot|>', True), ('b', False)]
    """
    special = sorted(set(special), key=lambda s: (-len(s), s))
    if not special:
        return [(text, False)] if text else []
    finder = regex.compile("|".join(regex.escape(s) for s in special))
    pieces, start = [], 0
    for match in finder.finditer(text):
        if match.start() > start:
            pieces.append((text[start : match.start()], False))
        pieces.append((match.group(), True))
        start = match.end()
    if start < len(text):
        pieces.append((text[start:], False))
    return pieces


def chunk_counts(texts: Iterable[str], pattern: str = GPT4_PATTERN) -> Counter:
    """How often each chunk occurs in ``texts``, as UTF-8 byte strings: the training table.

    >>> chunk_counts(["the cat the"])
    Counter({b'the': 1, b' cat': 1, b' the': 1})
    """
    compiled = compile_pattern(pattern)
    counts: Counter = Counter()
    for text in texts:
        counts.update(compiled.findall(text))
    table: Counter = Counter()
    for chunk, n in counts.items():
        table[utf8(chunk)] += n
    return table
