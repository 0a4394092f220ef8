"""Text of other kinds and languages, offline (week 8 compares tokenizers on it).

- ``python_source()``: files of the Python standard library, real code on every machine (which
  files exist depends on the Python version; the selection is sorted, so it is reproducible
  on one version).
- ``word_list(lang)``: the most frequent words of a language from ``wordfreq`` (Speer 2022;
  data CC BY-SA 4.0), with their frequencies.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

__all__ = ["LANGUAGES", "python_source", "word_list"]

# Languages with a "large" or "best" wordfreq list, in several scripts.
LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "fi": "Finnish", "tr": "Turkish", "ru": "Russian", "uk": "Ukrainian",
    "ar": "Arabic", "he": "Hebrew", "fa": "Persian", "hi": "Hindi", "bn": "Bengali", "zh": "Chinese",
    "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "id": "Indonesian", "el": "Greek",
}  # fmt: skip


def python_source(max_files: int = 60, skip: int = 0, min_chars: int = 2_000, max_chars: int = 60_000) -> list[str]:
    """Source files of the standard library (top level only, sorted by name): ``max_files``
    of them after the first ``skip``, each between ``min_chars`` and ``max_chars`` long."""
    folder = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(folder.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if min_chars <= len(text) <= max_chars:
            texts.append(text)
    if not texts:
        raise ValueError(f"found no Python source files in {folder}")
    return texts[skip : skip + max_files]


def word_list(lang: str, n: int = 2_000) -> dict[str, float]:
    """The ``n`` most frequent words of ``lang`` (a wordfreq code) with their frequencies.

    Reads wordfreq's file directly and stops after ``n`` words: ``wordfreq.get_frequency_dict``
    gives the same values but keeps every full list in memory (tens of MB per language).
    """
    from wordfreq import available_languages, read_cBpack

    files = available_languages("best")
    if lang not in files:
        raise ValueError(f"wordfreq has no word list for {lang!r}: choose one of {sorted(files)}")
    words: dict[str, float] = {}
    for index, bucket in enumerate(read_cBpack(files[lang])):  # bucket i: frequency 10^(-i/100)
        for word in bucket:
            words[word] = 10 ** (-index / 100)
            if len(words) == n:
                return words
    return words
