"""The Sentence Encoder Association Test (SEAT; May, Wang, Bordia, Bowman & Rudinger 2019, NAACL).

WEAT (:mod:`~helpers.audit.weat`) asks about single words; a sentence encoder sees sentences.
SEAT puts each word of the four sets into **semantically bleached templates** ("This is a
flower.", "That is here.") that carry no meaning of their own, encodes every sentence, and
runs WEAT on the sentence vectors: a set of 8 words and 5 templates becomes a set of 40
sentences (May et al., section 3). The effect size and the permutation p-value are WEAT's.

Left out: May et al.'s per-set choice of templates (they use different templates for names,
for nouns and for adjectives; we give one list per word type in :data:`TEMPLATES`), and their
tests built from other sources (the "angry black woman" and double-bind tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from helpers.audit.weat import WEATResult, WEATTest, weat

__all__ = ["TEMPLATES", "fill_templates", "seat"]

# bleached templates in the style of May et al. (2019), section 3 (our wording)
TEMPLATES: dict[str, tuple[str, ...]] = {
    "noun": (
        "This is a {}.",
        "That is a {}.",
        "There is a {}.",
        "Here is a {}.",
        "The {} is here.",
        "It is a {}.",
    ),
    "plural": ("These are {}.", "Those are {}.", "They are {}.", "There are {}.", "Here are {}."),
    "name": (
        "This is {}.",
        "That is {}.",
        "{} is here.",
        "{} is there.",
        "Here is {}.",
        "{} is a person.",
    ),
    "word": (
        "This is {}.",
        "That is {}.",
        "It is {}.",
        "There is {}.",
        "Here is {}.",
        "This is about {}.",
    ),
}


def fill_templates(words: Sequence[str], templates: Sequence[str]) -> list[str]:
    """Every word in every template, word-major: ``[t0(w0), t1(w0), ..., t0(w1), ...]``.

    >>> fill_templates(["rose", "tulip"], ["This is a {}.", "{} is here."])
    ['This is a rose.', 'rose is here.', 'This is a tulip.', 'tulip is here.']
    """
    if isinstance(words, str) or not words:
        raise ValueError(f"words must be a non-empty list of words, got {words!r}")
    if isinstance(templates, str) or not templates:
        raise ValueError(
            f"templates must be a non-empty list of strings with one '{{}}', got {templates!r}"
        )
    for t in templates:
        if not isinstance(t, str) or t.count("{}") != 1:
            raise ValueError(f"template {t!r} must hold exactly one '{{}}' where the word goes")
    return [t.format(w) for w in words for t in templates]


def seat(
    encode: Callable[[list[str]], np.ndarray],
    test: WEATTest,
    templates: Sequence[str] | dict[str, Sequence[str]] = TEMPLATES["word"],
    max_exact: int = 100_000,
    n_samples: int = 10_000,
    generator: np.random.Generator | None = None,
) -> WEATResult:
    """WEAT on the sentence vectors of ``test``'s words in ``templates``.

    ``encode`` maps a list of sentences to an array (n, dim), e.g.
    ``lambda s: encode_sentences(minilm, tok, s).numpy()``. ``templates`` is one list for all
    four sets or a dict with keys ``"X" "Y" "A" "B"``. With 40 sentences per set the partitions
    are far too many to enumerate, so pass ``generator`` for the sampled p-value.
    """
    per_set = templates if isinstance(templates, dict) else dict.fromkeys("XYAB", templates)
    if set(per_set) != set("XYAB"):
        raise ValueError(
            f"templates as a dict needs the keys 'X', 'Y', 'A', 'B', got {sorted(per_set)}"
        )
    vectors = {}
    for key, words in zip("XYAB", (test.X, test.Y, test.A, test.B), strict=True):
        sentences = fill_templates(list(words), per_set[key])
        v = np.asarray(encode(sentences), dtype=np.float64)
        if v.ndim != 2 or v.shape[0] != len(sentences):
            raise ValueError(
                f"encode must return one vector per sentence: {len(sentences)} sentences, got shape {v.shape}"
            )
        vectors[key] = v
    return weat(
        vectors["X"], vectors["Y"], vectors["A"], vectors["B"], max_exact, n_samples, generator
    )
